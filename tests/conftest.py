"""Shared test fixtures: compose the real configs, run the real train.py, read back the real event files."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parents[1]


def compose_config(output_dir: Path, *overrides: str) -> DictConfig:
    """The config `python train.py OVERRIDES` would get, writing into ``output_dir``."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"output_dir={output_dir}", *overrides])


def required(data: DictConfig) -> list[str]:
    """The keys a data option leaves to the user (``???`` in its yaml, e.g. ``path``), read from conf/data."""
    return [key for key in data if OmegaConf.is_missing(data, key)]


def write_table(folder: Path) -> dict[str, str]:
    (folder / "table.csv").write_text("x,colour,y\n" + "".join(f"{i},{'ab'[i % 2]},{i % 3}\n" for i in range(30)))
    return {"path": str(folder / "table.csv"), "target": "y"}


def write_words(folder: Path) -> dict[str, str]:
    (folder / "words.txt").write_text("\n".join(f"{a}{b}{a}" for a in "aeiou" for b in "bdgklmnprst"))
    return {"path": str(folder / "words.txt")}


def write_image_folder(folder: Path) -> dict[str, str]:
    from PIL import Image

    for label, shade in (("dark", 40), ("light", 220)):
        (folder / "images" / label).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (6 + i, 6), shade + i).save(folder / "images" / label / f"{i}.png")
    return {"path": str(folder / "images")}


# A small real file of each kind a data module reads from a path the user gives; found by the module's class.
OWN_DATA = {"mlp_template.data.tables.CsvDataModule": write_table,
            "mlp_template.data.text.WordsDataModule": write_words,
            "mlp_template.data.images.ImageFolderDataModule": write_image_folder}


def own_data(folder: Path, data: DictConfig) -> list[str]:
    """Overrides giving each key a data option leaves to the user a small real value: a file of the kind its data
    module reads, written into ``folder``."""
    if not (keys := required(data)):
        return []
    kind = next((write for name, write in OWN_DATA.items() if issubclass(get_class(data._target_), get_class(name))),
                None)
    assert kind, f"{data._target_} needs {keys}: add a writer of the files it reads to OWN_DATA in tests/conftest.py"
    values = kind(folder)
    assert set(values) == set(keys), f"{data._target_}: the yaml leaves {keys} to the user, the writer gives {values}"
    return [f"data.{key}={value}" for key, value in values.items()]


def run_train(run_dir: Path, *overrides: str, script: str = "train.py") -> subprocess.CompletedProcess:
    """Run ``python train.py OVERRIDES`` as a user would, with its run folder at ``run_dir``."""
    command = [sys.executable, script, f"hydra.run.dir={run_dir}", *overrides]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def printed_warnings(stderr: str) -> list[str]:
    """The warnings a run printed (``path.py:LINE: message``), among its progress bars."""
    return [line for line in stderr.replace("\r", "\n").splitlines() if re.search(r"\.py:\d+: ", line)]


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag in the run's TensorBoard event files, as (step, value) pairs."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) in the IDX format MNIST ships in: magic, dims as big-endian int32, then bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_root(tmp_path: Path) -> Path:
    """A data.root holding small but real MNIST and FashionMNIST IDX files (600 train, 100 test images)."""
    rng = np.random.default_rng(0)
    for dataset in ("MNIST", "FashionMNIST"):
        raw = tmp_path / "data" / dataset / "raw"
        raw.mkdir(parents=True)
        for split, n in (("train", 600), ("t10k", 100)):
            labels = rng.integers(0, 10, n, dtype=np.uint8)
            # Each class gets its own bright band so a network can learn something real from the images.
            images = rng.integers(0, 60, (n, 28, 28), dtype=np.uint8)
            for i, label in enumerate(labels):
                images[i, 2 * label : 2 * label + 3, :] = 255
            write_idx(raw / f"{split}-images-idx3-ubyte", images)
            write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return tmp_path / "data"


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A finished run folder as train.py leaves it (checkpoints, events, .hydra/config.yaml), and its metrics.

    Its config differs from today's defaults (network, test split, batch size): what reads it back must use it.
    """
    from omegaconf import OmegaConf

    from mlp_template.training import train

    run_dir = tmp_path_factory.mktemp("trained_run")
    cfg = compose_config(run_dir, "epochs=2", "batch_size=16", "model.hidden_sizes=[32,16]", "model.batch_norm=true",
                         "model.dropout=0.1", "data.test_size=300", "++trainer.limit_train_batches=10",
                         "~callbacks.progress_bar", "+trainer.enable_progress_bar=false")
    (run_dir / ".hydra").mkdir()
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")  # what Hydra saves for `python train.py`
    return run_dir, train(cfg)


# The signature of the bundled digits (DigitsDataModule.signature()): a Learner for them, without reading them.
DIGITS = {"task": "classification", "input_shape": [1, 8, 8], "input_dtype": "float32", "vocab_size": None,
          "output_size": 10, "input_mean": 0.3053, "input_std": 0.3760}
