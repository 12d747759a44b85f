"""The examples the network learns from, read once into tensors, held in memory, served in batches.

One epoch is one pass over the training split. The datasets here (images, tables, words) fit in memory, so
batches are cut by indexing tensors: no per-sample transforms and no worker processes. Each kind of input has
its module: ``images.py`` (pixels), ``tables.py`` (numbers and categories), ``text.py`` (characters).
Lightning's docs on datamodules: https://lightning.ai/docs/pytorch/stable/data/datamodule.html
"""

from collections.abc import Iterator

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, Sampler, TensorDataset

from mlp_template.errors import UserError

Split = tuple[Tensor, Tensor]  # (inputs, targets)


class DatasetNotFoundError(UserError, FileNotFoundError):
    """The files of a dataset are not where the config says."""


class DataError(UserError):
    """Data that cannot be learned from as it is: a missing value, a target with one value, too few rows."""


class BatchIndices(Sampler[Tensor]):
    """Yields one index tensor per batch, in the order of a ``DistributedSampler``.

    That sampler gives each DDP rank a disjoint shard of every epoch (one process = a shard of everything) and
    reshuffles from ``seed + epoch``, so a run is reproducible and a resumed run sees the same order.
    """

    def __init__(self, order: DistributedSampler, batch_size: int) -> None:
        self.order = order
        self.batch_size = batch_size
        self.served = 0  # batches of the current pass handed out so far
        self.skip = 0  # batches the next pass skips: a run resumed mid-epoch goes on where it stopped

    def __iter__(self) -> Iterator[Tensor]:
        batches = torch.tensor(list(self.order)).split(self.batch_size)
        self.served, self.skip = self.skip, 0
        for batch in batches[self.served :]:
            self.served += 1
            yield batch

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)  # ceil: the last batch may be smaller

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch: a new shuffle, nothing served yet."""
        self.order.set_epoch(epoch)
        self.served = 0


class ResumableLoader(DataLoader):
    """A DataLoader whose place in the epoch goes into checkpoints: Lightning saves ``state_dict()`` with the loop
    counters and, on a mid-epoch resume, calls ``load_state_dict`` so the epoch continues with the next batch."""

    sampler: BatchIndices

    def state_dict(self) -> dict[str, int]:
        return {"batches_served": self.sampler.served}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.sampler.skip = state_dict["batches_served"]


class InMemoryDataModule(L.LightningDataModule):
    """Train/val/test splits as tensors ready for the network, on the training device, batched by index slicing.

    A subclass implements ``load`` (the splits, preprocessed) and says what the network needs to know about the
    data: ``task`` (tasks.py), ``input_shape``, ``input_dtype`` (float32 numbers, or int64 token ids with
    ``vocab_size``), ``output_size``, and the preprocessing that serving repeats (``signature``).
    """

    task: str = "classification"  # classification | regression | next_token
    input_dtype: torch.dtype = torch.float32
    vocab_size: int | None = None  # token inputs: how many different tokens the embedding knows
    input_shape: tuple[int, ...]
    output_size: int

    def __init__(self, batch_size: int, seed: int, shuffle: bool = True) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.examples: dict[str, Split] = {}  # read and preprocessed, on the CPU
        self.splits: dict[str, TensorDataset] = {}  # the same, on the training device

    def load(self) -> dict[str, Split]:
        """``{"train"|"val"|"test": (inputs, targets)}``, preprocessed with what was fitted on the training split."""
        raise NotImplementedError

    def preprocessing(self) -> dict:
        """What serving applies to raw inputs as training did, as plain values: ``input_mean``/``input_std``
        (numbers or one per feature) for float inputs; subclasses add their own (classes, columns, vocabulary)."""
        return {}

    def baseline(self) -> float | None:
        """The validation loss of a model that ignores the inputs (None: none defined): the network's to beat."""
        return None

    def read(self) -> None:
        """Read the examples and fit the preprocessing, once: the sizes and ``signature`` are known after this.

        Bad data is refused here, in one line, before the network is built or any step taken.
        """
        if not self.examples:
            self.examples = self.load()

    def signature(self) -> dict:
        """What the network and serving need to know about the data, as plain values: the learner keeps it in
        every checkpoint, so predict.py, export.py and generate.py rebuild the network and its preprocessing."""
        return {
            "task": self.task,
            "input_shape": list(self.input_shape),
            "input_dtype": str(self.input_dtype).removeprefix("torch."),
            "vocab_size": self.vocab_size,
            "output_size": self.output_size,
            **self.preprocessing(),
        }

    def setup(self, stage: str) -> None:
        if self.splits:  # move once, whatever the number of stages (fit, test, ...)
            return
        self.read()
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        for name, (x, y) in self.examples.items():
            self.splits[name] = TensorDataset(x.to(device), y.to(device))

    def train_dataloader(self) -> DataLoader:
        return self.batches("train", shuffle=self.shuffle)

    def val_dataloader(self) -> DataLoader:
        return self.batches("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self.batches("test", shuffle=False)

    def batches(self, split: str, shuffle: bool) -> DataLoader:
        """This process's shard of ``split``, cut into batches of ``batch_size``."""
        dataset = self.splits[split]
        world_size, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        # Training shards are padded to one length, as every DDP rank must take the same number of gradient steps;
        # val/test shards are not, so each example counts exactly once in the metrics reduced across ranks.
        shard = DistributedSampler if split == "train" else UnrepeatedDistributedSampler
        order = shard(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=self.seed)
        # batch_size=None: each index tensor from the sampler fetches a whole batch with one tensor lookup.
        # Its own generator: a DataLoader draws a seed for each pass, which must not move the global random state
        # dropout uses (a resumed run starts passes the never-stopped run did not, and would drop other neurons).
        sampler = BatchIndices(order, self.batch_size)
        return ResumableLoader(dataset, sampler=sampler, batch_size=None, generator=torch.Generator())


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


@rank_zero_only
def say(line: str) -> None:
    """Tell the person at the terminal what was decided about their data: printed once, not once per DDP process."""
    print(line)
