"""Bad paths, given to every program: one line, ``error: ...``, exit status 1, before any work and nothing written.

``CASES`` is the table docs/errors.md shows (tests/test_errors_docs.py checks each line is there). The programs run
in a folder holding the files, so each line names them as typed.
"""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from eval import main as eval_main
from export import main as export_main
from mlp_template.files import utf8_lines
from predict import main as predict_main
from tests.conftest import ROOT, compose_config
from tests.test_serving import best_checkpoint
from train import main as train_main

LATIN_1 = "brightness,contrast\n0.5,0.25\n".replace("brightness", "luminosit\xe9").encode("latin-1")
TABLE = b"size,rooms,colour,price\n120,3,blue,250\n95,2,red,180\n"  # a table's columns, not pixels

CASES = {  # name: (program, its arguments, the files in its folder (None: a folder), the line it ends with)
    "inputs: no such file": ("predict", ["inputs=new.csv"], {}, "error: inputs=new.csv: no such file or folder"),
    "inputs: an empty file": ("predict", ["inputs=new.csv"], {"new.csv": b""},
                              "error: inputs=new.csv: the file is empty; it needs one example per row"),
    "inputs: not UTF-8": ("predict", ["inputs=new.csv"], {"new.csv": LATIN_1},
                          "error: inputs=new.csv: not UTF-8 text (byte 0xe9 on line 1, as an editor saving Latin-1 "
                          "or Windows-1252 writes it); save it as UTF-8"),
    "inputs: a table, to an image network": ("predict", ["inputs=new.csv"], {"new.csv": TABLE},
                                             "error: inputs=new.csv: not a table of numbers: row 1 holds 'blue'; this "
                                             "network takes images, 64 pixel values per row, in [0, 1]"),
    "inputs: a file that is no image": ("predict", ["inputs=images"], {"images": None, "images/a.png": b"GIF89a?"},
                                        "error: inputs=images: images/a.png is not an image Pillow can read (in no "
                                        "format Pillow knows)"),
    "output: a folder": ("predict", ["inputs=new.npy", "output=out"], {"out": None},
                         "error: output=out: is a folder; give a file name, e.g. output=out/predictions.csv"),
    "output: in no folder": ("predict", ["inputs=new.npy", "output=nowhere/predictions.csv"], {},
                             "error: output=nowhere/predictions.csv: no folder nowhere to write into; create it first "
                             "(mkdir -p nowhere), or give a path in an existing folder"),
    "export output: a folder": ("export", ["output=out"], {"out": None},
                                "error: output=out: is a folder; give a file name, e.g. output=out/model.pt2"),
    "ckpt_path: a folder": ("eval", ["ckpt_path=runs"], {"runs": None},
                            "error: ckpt_path=runs: is a directory, not a checkpoint file (*.ckpt)"),
    "ckpt_path: an empty file": ("eval", ["ckpt_path=model.ckpt"], {"model.ckpt": b""},
                                 "error: ckpt_path=model.ckpt: not a checkpoint (*.ckpt)"),
    "output_dir: a file": ("train", ["output_dir=notes.txt"], {"notes.txt": b"my notes"},
                           "error: output_dir=notes.txt: is a file; give a folder"),
    "data.path: a folder": ("train", ["data=csv", "data.path=houses", "data.target=price"], {"houses": None},
                            "error: data.path=houses: is a folder; give a CSV file"),
}
DOCUMENTED = [line for *_, line in CASES.values()]
MAINS: dict[str, Callable[[DictConfig], object]] = {"predict": predict_main, "export": export_main, "eval": eval_main}


def serving_config(program: str, *overrides: str) -> DictConfig:
    """The config ``python PROGRAM.py OVERRIDES`` gets."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(program, overrides=list(overrides))


def snapshot(*folders: Path) -> dict[Path, bytes | None]:
    return {p: p.read_bytes() if p.is_file() else None for folder in folders for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_path_is_one_line_before_any_work(tmp_path: Path, monkeypatch, trained_run, case: str) -> None:
    program, args, files, line = CASES[case]
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "new.npy", np.zeros((2, 64), dtype=np.float32))  # good inputs, for the output cases
    for name, content in files.items():
        (tmp_path / name).mkdir() if content is None else (tmp_path / name).write_bytes(content)
    run_dir = trained_run[0]
    before = snapshot(tmp_path, run_dir)
    if program == "train":
        cfg = compose_config(tmp_path / "run", *args)
        with pytest.raises(SystemExit) as stop:
            train_main(cfg)
    else:
        ckpt = [] if program == "eval" else [f"ckpt_path={best_checkpoint(run_dir)}"]
        with pytest.raises(SystemExit) as stop:
            MAINS[program](serving_config(program, *ckpt, *args))
    assert stop.value.code == line
    assert snapshot(tmp_path, run_dir) == before  # no run folder, no predictions, no export


def test_predict_py_on_a_latin_1_csv_exits_1_with_one_line(tmp_path: Path, trained_run) -> None:
    (tmp_path / "new.csv").write_bytes(LATIN_1)
    command = [sys.executable, ROOT / "predict.py", f"ckpt_path={best_checkpoint(trained_run[0])}", "inputs=new.csv"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == CASES["inputs: not UTF-8"][3] + "\n", result.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv"]


def test_a_utf_8_file_with_a_byte_order_mark_reads_as_its_lines(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with the mark: the first value must read as a number, not as a header."""
    path = tmp_path / "new.csv"
    path.write_bytes("0.5,0.25\n1,0\n".encode("utf-8-sig"))
    assert utf8_lines(path, "inputs") == ["0.5,0.25", "1,0"]
