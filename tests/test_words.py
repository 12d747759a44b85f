"""data=words: your own word list, one per line, any UTF-8 characters: it trains past its frequency baseline,
generate.py writes from it, and a bad file gets one line."""

import re
from importlib import resources
from pathlib import Path
from pydoc_data.topics import topics

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mlp_template.data.vocabulary import decode
from mlp_template.runs.config import ConfigError
from mlp_template.serving.generation import generate
from mlp_template.training import train
from tests.conftest import ROOT, compose_config
from tests.test_tasks import run_config
from train import main

PLACES = ["Budapest II. kerület", "Budapest XII. kerület", "São Paulo", "São Tomé", "St. John's", "Port-au-Prince",
          "Zürich", "Fort St. John", "Sault Ste. Marie", "Dumont d'Urville", "Ciudad Juárez", "Saint-Étienne"]


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every different English word of Python's help topics (``pydoc_data``, in the standard library) and of the
    descriptions scikit-learn ships with its datasets: 4,089, one per line, as a user's list would come (some
    twice, a blank line, a capital)."""
    descriptions = resources.files("sklearn.datasets") / "descr"
    text = " ".join(f.read_text(encoding="utf-8") for f in descriptions.iterdir() if f.name.endswith(".rst"))
    words = sorted(set(re.findall(r"[a-z]+(?:[-'][a-z]+)*", f"{text} {' '.join(topics.values())}".lower())))
    path = tmp_path_factory.mktemp("words") / "english.txt"
    path.write_text("\n".join(["The", "", *words, *words[:50]]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def english_run(tmp_path_factory: pytest.TempPathFactory, english: Path) -> tuple[Path, dict[str, float]]:
    run_dir = tmp_path_factory.mktemp("english_run")
    return run_dir, train(run_config(run_dir, "data=words", f"data.path={english}", "data.lower=true",
                                     "optimizer=adam", "lr=0.03", "batch_size=1024", "epochs=3",
                                     "model.hidden_sizes=[256]", "model.embedding_dim=24"))


def test_own_words_beat_their_frequency_baseline_by_half_a_nat(english_run) -> None:
    _, metrics = english_run
    assert metrics["val/loss"] <= metrics["baseline/val/loss"] - 0.5  # nats per character


def test_generate_writes_from_own_words(english_run, capsys) -> None:
    run_dir, _ = english_run
    checkpoint = str(run_dir / "checkpoints" / "last.ckpt")
    words = generate(checkpoint, num=20, prefix="Th", temperature=1.0, seed=0, max_length=None)
    assert len(words) == 20 and all(word.startswith("th") for word in words)  # a lower-cased list folds the prefix
    longest = torch.load(checkpoint, weights_only=True)["hyper_parameters"]["data"]["longest_word"]
    assert all(len(word) <= longest for word in words) and len(set(words)) > 10
    assert capsys.readouterr().out.splitlines() == words


def test_the_end_mark_is_no_character_of_the_words_and_capitals_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "places.txt"
    path.write_text("\n".join(PLACES) + "\n", encoding="utf-8")
    data = instantiate(compose_config(tmp_path, "data=words", f"data.path={path}", "data.val_size=1",
                                      "data.test_size=1").data)
    data.read()
    assert {".", " ", "'", "-", "ã", "É", "B"} <= set(data.vocab)
    x, y = (torch.cat(parts) for parts in zip(*data.examples.values(), strict=True))
    assert int((y == 0).sum()) == len(PLACES)  # each word ends once: the period in "II. kerület" ends none
    assert decode(x[y == data.vocab.index(" ")][0], data.vocab) in {"est", "II.", "São", "St.", "ort", "ult", "Ste",
                                                                    "ont", "dad"}  # a space is a character too
    folded = instantiate(compose_config(tmp_path, "data=words", f"data.path={path}", "data.lower=true").data)
    folded.read()
    assert "É" not in folded.vocab and "é" in folded.vocab


def test_a_cased_list_keeps_the_prefix_capitals_through_hydra(tmp_path: Path, capsys) -> None:
    path = tmp_path / "places.txt"
    path.write_text("\n".join(PLACES * 3) + "\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    train(run_config(run_dir, "data=words", f"data.path={path}", "data.val_size=2", "data.test_size=2", "debug=fast"))
    checkpoint = str(run_dir / "checkpoints" / "last.ckpt")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        # What generate.py gets from the shell's "prefix='São '": quoted for Hydra, the accent and the space kept.
        cfg = compose("generate", overrides=[f"ckpt_path={checkpoint}", "num=3", "prefix='São '"])
    capsys.readouterr()
    generate(cfg.ckpt_path, cfg.num, cfg.prefix, cfg.temperature, cfg.seed, cfg.max_length)
    assert [line[:4] for line in capsys.readouterr().out.splitlines()] == ["São "] * 3
    with pytest.raises(ConfigError, match=r"prefix=sÃo: 'Ã' never occurs in the training words"):
        generate(checkpoint, 3, "sÃo", 1.0, 0, None)


BAD = {  # name: (file content, None for no file; the error after "error: data.path=<file>: ")
    "no such file": (None, "no such file; give a text file with one word (or name, city, ...) per line"),
    "empty": (b"\n  \n", "holds no words; a language model learns from many, one per line"),
    "not UTF-8": ("Zürich\nSão Paulo\nKöln\n".encode("latin-1"), "not UTF-8 text (byte 0xfc on line 1); save it as "
                                                                   "UTF-8"),
    "a single word": (b"Budapest\nBudapest\n", "holds a single word (Budapest); a language model learns from many"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_word_file_gets_one_line_before_any_work(tmp_path: Path, case: str) -> None:
    content, message = BAD[case]
    path = tmp_path / "words.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as stop:
        main(compose_config(tmp_path / "run", "data=words", f"data.path={path}"))
    assert str(stop.value.code).startswith(f"error: data.path={path}: {message}")  # train.py prints it, exit 1
    assert "\n" not in str(stop.value.code) and not (tmp_path / "run").exists()
