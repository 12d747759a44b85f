"""Checkpoints: the weights and the training state on disk, written atomically (run.py reads them without running
code).

A checkpoint is what Lightning saves (https://lightning.ai/docs/pytorch/stable/common/checkpointing_basic.html):
the weights (``state_dict``), the optimizer and scheduler, the loop counters, each callback's state and the
hyperparameters, as tensors and plain containers only, so ``torch.load(weights_only=True)`` reads all of it.
"""

import errno
import io
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint

from mlp_template.runs.run import CheckpointError


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


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, which finds its run's files again after the run folder was moved (or copied).

    It records the files it keeps (the best so far, the top k) by absolute path. Resumed from another folder,
    Lightning keeps only the old ``best_model_path`` and forgets the scores, so the earlier best would be neither
    compared nor found at the final test. Where the run's files are in this folder, the paths are re-based onto it.
    """

    def load_state_dict(self, state_dict: dict) -> None:
        saved, best = state_dict.get("dirpath"), state_dict.get("best_model_path") or ""
        if saved and self.dirpath and saved != self.dirpath and (Path(self.dirpath) / Path(best).name).is_file():
            state_dict = {key: rebased(value, saved, self.dirpath) for key, value in state_dict.items()}
        super().load_state_dict(state_dict)


def rebased(value: object, old: str, new: str) -> object:
    """Folder ``old`` or a path in it (or a dict keyed by such paths) moved to folder ``new``; else as it is."""
    if isinstance(value, dict):
        return {rebased(key, old, new): item for key, item in value.items()}
    if value == old:
        return new
    if isinstance(value, str) and Path(value).parent == Path(old):
        return str(Path(new) / Path(value).name)
    return value


def best_checkpoint(trainer: L.Trainer) -> str | None:
    """The first ModelCheckpoint's best file (lowest val/loss; the newest one if it monitors nothing); None before
    its first save, or with no ModelCheckpoint (switched off): then the weights in memory are all."""
    savers = [callback for callback in trainer.checkpoint_callbacks if isinstance(callback, ModelCheckpoint)]
    return (savers[0].best_model_path or None) if savers else None


class RandomState(L.Callback):
    """Saves the random generators in every checkpoint and restores them on resume.

    Lightning 2 checkpoints do not hold them; without them a resumed run draws other dropout masks than the run
    that never stopped. (The data order needs none: it is a function of the seed and the epoch, see data/datamodule.py.)
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
