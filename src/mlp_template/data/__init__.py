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
    two holds ``least`` of them and training keeps at least one; the line names what is wrong."""
    sizes = f"data.val_size={val_size} and data.test_size={test_size}"
    too_few = (f"{where}: {n} {unit} are too few for {sizes}: the validation and test splits need {least} each, "
               "and training at least one")
    if n < 2 * least + 1:
        raise DataError(too_few)
    if val_size < 1 and test_size < 1 and val_size + test_size >= 1:
        raise DataError(f"{where}: {sizes} add up to {val_size + test_size:g}, leaving no {unit} to train on; as "
                        "fractions of the data they must add up to less than 1, e.g. 0.15 each")
    counts = {"validation": (split_count(val_size, n), "val_size", val_size),
              "test": (split_count(test_size, n), "test_size", test_size)}
    for split, (count, key, size) in counts.items():
        if count < least and size >= 1:
            raise DataError(f"{where}: data.{key}={size} means {count} {unit[:-1]} (a whole number counts {unit}; a "
                            f"fraction of them is below 1): the {split} split needs {least} at least")
        if count == 0:
            raise DataError(f"{where}: data.{key}={size} of {n} {unit} is none: the {split} split would be empty; "
                            "give a larger fraction")
        if count < least:
            raise DataError(too_few)
    taken = sum(count for count, _, _ in counts.values())
    if taken >= n:
        raise DataError(f"{where}: {sizes} take {taken} of the {n} {unit}, leaving none to train on; give smaller "
                        "sizes")
    return counts["validation"][0], counts["test"][0]
