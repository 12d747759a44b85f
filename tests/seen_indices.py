"""A probe for the DDP test: which training examples each process really fetched, epoch by epoch.

Added to a run as ``+callbacks.seen._target_=tests.seen_indices.SeenIndices``; every rank writes
``seen_indices_rank<r>.pt`` (a list per epoch of the example indices it trained on) into the run folder.
"""

from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import TensorDataset


class RecordingDataset(TensorDataset):
    """The training split, noting every index tensor the DataLoader asks it for."""

    def __init__(self, *tensors: Tensor) -> None:
        super().__init__(*tensors)
        self.epochs: list[list[int]] = []

    def __getitem__(self, index: Tensor) -> tuple[Tensor, ...]:
        self.epochs[-1].extend(index.tolist())
        return super().__getitem__(index)


class SeenIndices(L.Callback):
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":  # after the datamodule's setup, before its train_dataloader: swap in the recorder
            self.train = RecordingDataset(*trainer.datamodule.splits["train"].tensors)
            trainer.datamodule.splits["train"] = self.train

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.train.epochs.append([])

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        torch.save(self.train.epochs, Path(trainer.default_root_dir) / f"seen_indices_rank{trainer.global_rank}.pt")
