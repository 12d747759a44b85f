"""Shared test fixtures: compose the real configs, run the real train.py, read back the real event files."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parents[1]


def compose_config(output_dir: Path, *overrides: str) -> DictConfig:
    """The config `python train.py OVERRIDES` would get, writing into ``output_dir``."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"output_dir={output_dir}", *overrides])


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
