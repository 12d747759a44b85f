"""The examples the network learns from, read once into tensors, held in memory, served in batches.

One epoch is one pass over the training split. The datasets here (images, tables, words) fit in memory, so
batches are cut by indexing tensors: no per-sample transforms and no worker processes. Each kind of input has
its module: ``images.py`` (pixels), ``tables.py`` (numbers and categories), ``text.py`` (characters), each a
LightningDataModule extending ``datamodule.py``'s. This module holds what they share without Lightning, so serving
(predict.py, generate.py, export.py) can use a kind's plain functions without importing Lightning.
"""

import torch
from torch import Tensor

from mlp_template.errors import UserError

Split = tuple[Tensor, Tensor]  # (inputs, targets)


class DatasetNotFoundError(UserError, FileNotFoundError):
    """The files of a dataset are not where the config says."""


class DataError(UserError):
    """Data that cannot be learned from as it is: a missing value, a target with one value, too few rows."""


def frequency_baseline(train: Tensor, val: Tensor, classes: int) -> float:
    """The cross-entropy on ``val`` of always predicting the class frequencies of ``train`` (plus one each, so no
    class is impossible): the loss of a model that ignores its inputs."""
    counts = torch.bincount(train, minlength=classes).float() + 1
    return float(-(counts / counts.sum()).log()[val].mean())


def split_off(x: Tensor, y: Tensor, size: int, seed: int) -> tuple[Split, Split]:
    """Randomly split ``size`` examples off ``(x, y)``; the same seed always gives the same split."""
    rest, part = split_order(len(x), size, seed)
    return (x[rest], y[rest]), (x[part], y[part])


def split_order(n: int, size: int, seed: int) -> tuple[Tensor, Tensor]:
    """Indices of ``n`` examples shuffled with ``seed``: (the rest, ``size`` of them split off)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n - size], order[n - size :]


def split_three_ways(n: int, val_count: int, test_count: int, seed: int) -> dict[str, Tensor]:
    """Indices of ``n`` examples shuffled with ``seed``, as ``{"train"|"val"|"test": indices}``: the test split
    first, then the validation split off the rest."""
    rest, test = split_order(n, test_count, seed)
    return {"train": rest[: len(rest) - val_count], "val": rest[len(rest) - val_count :], "test": test}


def split_count(size: float, n: int) -> int:
    """A split's size as a number of examples: ``size`` itself (an integer), or a fraction of ``n``."""
    return int(size) if size >= 1 else round(size * n)


def split_sizes(n: int, val_size: float, test_size: float, least: int, where: str, unit: str) -> tuple[int, int]:
    """``(validation count, test count)`` of ``n`` ``unit`` (rows, words), refused in one line unless each of the
    two holds ``least`` of them and training keeps at least one."""
    val_count, test_count = split_count(val_size, n), split_count(test_size, n)
    if min(val_count, test_count) < least or n - val_count - test_count < 1:
        raise DataError(f"{where}: {n} {unit} are too few for data.val_size={val_size} and data.test_size={test_size}:"
                        f" the validation and test splits need {least} each, and training at least one")
    return val_count, test_count
