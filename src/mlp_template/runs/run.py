"""A run on disk, read once: the checkpoint a program starts from, the data its weights learned, the run folder it
belongs to and the config that run saved. ``train.py ckpt_path=...`` resumes from it; eval.py, predict.py, export.py
and generate.py serve it. Reading needs torch and omegaconf only (no Lightning), so serving starts fast.
"""

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mlp_template.errors import UserError
from mlp_template.model import MLP, build_network
from mlp_template.runs.config import ConfigError

RUNS = Path("logs/runs")  # where train.py makes its run folders (conf/train.yaml: hydra.run.dir)
SHAPE = ("task", "input_shape", "input_dtype", "vocab_size", "output_size")  # what the network's weights fit
# What later versions added to a data signature: a checkpoint saved before lacks it, though its data is the same
# (date_formats: each date column's format, guessed from the same file then as now).
ADDED_LATER = ("date_formats",)


class CheckpointError(UserError):
    """A checkpoint file that cannot be used: missing, not a checkpoint, truncated, unsafe, for another network."""


@dataclass(frozen=True)
class Run:
    """One checkpoint, read once, and the run it belongs to: its ``folder`` (None outside ``<run>/checkpoints/``) and
    the ``config`` saved there (None when the folder has none: not made by train.py)."""

    path: Path  # the checkpoint file
    checkpoint: dict  # what it holds: weights, training state, hyper_parameters (the data signature)
    folder: Path | None
    config: DictConfig | None

    @classmethod
    def read(cls, path: Path) -> "Run":
        """Read checkpoint ``path`` and, in a run folder, the config saved there: once, for the whole program."""
        checkpoint = read_checkpoint(path)
        if not isinstance(checkpoint.get("hyper_parameters", {}).get("data"), dict):
            raise CheckpointError(f"ckpt_path={path}: holds no description of its data (hyper_parameters.data): it "
                                  "was made by an older version of this template; train it again")
        if path.resolve().parent.name != "checkpoints":
            return cls(path, checkpoint, None, None)
        folder = path.resolve().parent.parent
        saved = folder / ".hydra" / "config.yaml"
        return cls(path, checkpoint, folder, OmegaConf.load(saved) if saved.is_file() else None)

    @property
    def data(self) -> dict:
        """The data signature the weights learned: task, shapes, preprocessing (the data module's ``signature``)."""
        return self.checkpoint["hyper_parameters"]["data"]

    @property
    def epochs_done(self) -> int:
        """The epochs finished before the checkpoint was saved: the first epoch a resumed run trains."""
        return self.checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]

    def network(self, model: DictConfig | dict) -> MLP:
        """The network ``model`` (a run's model config) builds for the data, holding the checkpoint's weights, in
        eval mode; a one-line error names the first layer that does not fit, or that holds NaN or infinity."""
        network = build_network(self.data, OmegaConf.to_container(model) if isinstance(model, DictConfig) else model)
        weights = {name.removeprefix("model."): tensor for name, tensor in self.checkpoint["state_dict"].items()
                   if name.startswith("model.")}  # the Learner keeps the MLP under "model."
        check_network(weights, network, self.path)
        if diverged := next((name for name, tensor in weights.items() if not torch.isfinite(tensor).all()), None):
            raise CheckpointError(f"ckpt_path={self.path}: its weights {diverged} hold NaN or infinity (saved after "
                                  "the run diverged): the network would answer nan; use an earlier one, e.g. best")
        network.load_state_dict(weights)
        return network.eval()

    def check_data(self, data: dict, same_run: bool = True) -> None:
        """``data``, the signature of the data read now, is what the weights learned: in every key for ``same_run``
        (eval, a resume in the run's own folder: a CSV edited since would move rows between the splits), or in
        ``SHAPE``, what the weights fit (a checkpoint from elsewhere)."""
        for key in dict.fromkeys([*self.data, *data]) if same_run else SHAPE:
            if self.data.get(key) == data.get(key) or (key in ADDED_LATER and key not in self.data):
                continue
            if key in SHAPE:
                raise ConfigError(f"ckpt_path={self.path} was trained on other data: {key} is {self.data.get(key)} in "
                                  f"the checkpoint, {data.get(key)} for this config's data")
            raise ConfigError(f"ckpt_path={self.path} was trained on other data: its {key} differs from the data read "
                              "now (has the data file changed since?); give the data it was trained on")

    def check_resumable(self) -> None:
        """A checkpoint saved with weights only can be evaluated, not resumed."""
        if "loops" not in self.checkpoint or "optimizer_states" not in self.checkpoint:
            raise CheckpointError(f"ckpt_path={self.path}: holds weights only, no training state to resume "
                                  "(evaluate it with eval.py, or start a new run)")


def resumed_run(cfg: DictConfig) -> Run | None:
    """For train.py: the checkpoint ``ckpt_path`` resumes from (``last``: in the run folder Hydra chose for it,
    conf/train.yaml) and its run, read once; None for a new run."""
    if cfg.get("ckpt_path") is None:
        return None
    if not str(cfg.ckpt_path).strip():
        raise UserError("ckpt_path= is empty: give a checkpoint file, or last")
    path = Path(cfg.output_dir) / "checkpoints" / "last.ckpt" if cfg.ckpt_path == "last" else Path(cfg.ckpt_path)
    if cfg.ckpt_path == "last" and not path.exists():
        raise UserError(f"ckpt_path=last: no run under {RUNS} has a checkpoints/last.ckpt to resume")
    return Run.read(path)


def served_run(ckpt_path: str) -> Run:
    """For eval.py, predict.py, export.py, generate.py: ``ckpt_path`` (a file, ``last`` or ``best``) and its run,
    whose config points at where the run is now (``output_dir``) and at the checkpoint (``ckpt_path``)."""
    run = Run.read(checkpoint_named(ckpt_path))  # a missing, unsafe or truncated file is named first
    if run.config is None:
        raise UserError(f"ckpt_path={run.path}: not in a run folder (<run>/checkpoints/, beside <run>/.hydra/config"
                        ".yaml): the config of the run that made it is needed, for its data and preprocessing")
    run.config.output_dir, run.config.ckpt_path = str(run.folder), str(run.path)  # saved: a Hydra interpolation
    return run


def checkpoint_named(ckpt_path: str, runs: Path = RUNS) -> Path:
    """``ckpt_path`` as a file: ``last``, the newest run's last.ckpt; ``best``, the checkpoint that run tested."""
    if not str(ckpt_path).strip():
        raise UserError("ckpt_path= is empty: give a checkpoint file, last or best")
    if ckpt_path not in ("last", "best"):
        return Path(ckpt_path)
    last = newest_last(runs)
    if last is None:
        raise UserError(f"ckpt_path={ckpt_path}: no run under {runs} has a checkpoints/last.ckpt")
    return last if ckpt_path == "last" else tested_checkpoint(last)


def newest_last(runs: Path) -> Path | None:
    """The ``last.ckpt`` written most recently under ``runs``: the run trained last."""
    found = sorted(runs.glob("**/checkpoints/last.ckpt"), key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def tested_checkpoint(last: Path) -> Path:
    """The checkpoint a run tests at its end, whose metrics it printed: the best file of its first ModelCheckpoint
    (lowest val/loss), as Lightning records it in ``last.ckpt``, found in the run's folder wherever it is now."""
    states = read_checkpoint(last).get("callbacks", {}).values()
    best = next((state["best_model_path"] for state in states
                 if isinstance(state, dict) and state.get("best_model_path")), None)
    if best is None:
        raise CheckpointError(f"ckpt_path=best: {last} records no best checkpoint (its run saved none); give a file")
    return last.parent / Path(best).name


def read_checkpoint(path: Path, key: str = "ckpt_path") -> dict:
    """Load a checkpoint on the CPU with ``weights_only=True``, explaining in one line why a file cannot be used."""
    where = f"{key}={path}"
    if not path.exists():
        raise CheckpointError(f"{where}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{where}: is a directory, not a checkpoint file (*.ckpt)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        unsafe = re.search(r"GLOBAL (\S+)", str(e))
        if unsafe:  # weights_only refused to import a function or class: loading would have run code
            raise CheckpointError(
                f"{where}: refused: loading it would call {unsafe.group(1)}; this template's checkpoints hold only "
                "tensors and plain values, so the file was not written by it (load only files you trust)"
            ) from e
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", str(e), re.DOTALL)
        raise CheckpointError(f"{where}: refused: not a checkpoint of this template (the safe loader stopped at: "
                              f"{' '.join((detail.group(1) if detail else 'an unreadable pickle').split())})") from e
    except Exception as e:  # torch.load fails on a foreign file with whatever its parser hits first
        with open(path, "rb") as file:
            is_zip = file.read(4) == b"PK\x03\x04"  # torch.save writes a zip archive
        problem = "truncated or damaged (an incomplete zip archive)" if is_zip else "not a checkpoint (*.ckpt)"
        raise CheckpointError(f"{where}: {problem}") from e
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{where}: not a checkpoint of this template (it holds no state_dict of weights)")
    return checkpoint


def check_network(state_dict: dict, network: nn.Module, path: Path) -> None:
    """The checkpoint's weights fit ``network`` layer by layer; else name the first layer that does not."""
    expected = network.state_dict()
    where = f"ckpt_path={path} was made for another network"
    for name, tensor in expected.items():
        if name not in state_dict:
            raise CheckpointError(f"{where}: it has no {name}, which this config's network has, of shape "
                                  f"{tuple(tensor.shape)}")
        if state_dict[name].shape != tensor.shape:
            raise CheckpointError(f"{where}: {name} is {tuple(state_dict[name].shape)} in the checkpoint, "
                                  f"{tuple(tensor.shape)} in this config's network (model.hidden_sizes, data)")
    for name in (name for name in state_dict if name not in expected):
        raise CheckpointError(f"{where}: it has {name}, which this config's network has not")
