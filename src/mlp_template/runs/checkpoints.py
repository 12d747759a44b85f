"""Checkpoints: the weights and the training state on disk, written atomically and read without running code.

A checkpoint is what Lightning saves (https://lightning.ai/docs/pytorch/stable/common/checkpointing_basic.html):
the weights (``state_dict``), the optimizer and scheduler, the loop counters, each callback's state and the
hyperparameters, as tensors and plain containers only, so ``torch.load(weights_only=True)`` reads all of it.
"""

import errno
import io
import os
import pickle
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

from mlp_template.errors import UserError


class CheckpointError(UserError):
    """A checkpoint file that cannot be used: missing, not a checkpoint, truncated, unsafe, for another network."""


def replace_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through a temporary file beside it, fsynced, then renamed over it: whole, or as it was.

    ``os.replace`` is atomic within a folder, so a crash (or a full disk) mid-write leaves the previous file intact.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    if hasattr(os, "O_DIRECTORY"):  # POSIX: make the rename itself survive a power cut
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic: a crash during a save never leaves a truncated ``last.ckpt``.

    Hand-written because Lightning's default writes the temporary file in the system's temp folder and moves it,
    which across filesystems is a copy a crash can cut short, and it never fsyncs.
    """

    def save_checkpoint(self, checkpoint: dict, path: str | Path, storage_options: object = None) -> None:
        if "://" in str(path):  # a remote store (s3://, gs://, ...): its own transactions apply
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        try:
            # Serialised in memory first: written through a file, torch reports a full disk as an opaque zip error.
            data = io.BytesIO()
            torch.save(checkpoint, data)
            replace_atomically(path, lambda file: file.write(data.getbuffer()))
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            kept = f"the previous {path.name}, whole" if path.exists() else f"no earlier {path.name}"
            last = path.with_name("last.ckpt")
            then = f"resume: python train.py ckpt_path={last}" if last.exists() else "start the run again"
            raise CheckpointError(f"the disk is full: saving {path} failed and left no partial file. Kept: {kept}, "
                                  f"and the logs so far. Free some space, then {then}") from e
        return None


def best_checkpoint(trainer: L.Trainer) -> str | None:
    """The first ModelCheckpoint's best file (lowest val/loss; the newest one if it monitors nothing); None before
    its first save, or with no ModelCheckpoint (switched off): then the weights in memory are all."""
    savers = [callback for callback in trainer.checkpoint_callbacks if isinstance(callback, ModelCheckpoint)]
    return (savers[0].best_model_path or None) if savers else None


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


def check_resumable(checkpoint: dict, path: Path) -> None:
    """A checkpoint saved with weights only can be evaluated, not resumed."""
    if "loops" not in checkpoint or "optimizer_states" not in checkpoint:
        raise CheckpointError(f"ckpt_path={path}: holds weights only, no training state to resume "
                              "(evaluate it with eval.py, or start a new run)")


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


class RandomState(L.Callback):
    """Saves the random generators in every checkpoint and restores them on resume.

    Lightning 2 checkpoints do not hold them; without them a resumed run draws other dropout masks than the run
    that never stopped. (The data order needs none: it is a function of the seed and the epoch, see data/__init__.py.)
    """

    def state_dict(self) -> dict:
        name, keys, position, has_gauss, gauss = np.random.get_state()
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),  # tensors load
            "python": random.getstate(),  # weights-only; a numpy array would not
        }

    def load_state_dict(self, state_dict: dict) -> None:
        torch.set_rng_state(state_dict["torch"])
        if state_dict["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
        name, keys, position, has_gauss, gauss = state_dict["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
        random.setstate(state_dict["python"])
