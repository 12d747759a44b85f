"""The LightningDataModule every kind of data extends: splits held in memory as tensors, served in batches by
index slicing, in an order a resumed run repeats.

Lightning's docs on datamodules: https://lightning.ai/docs/pytorch/stable/data/datamodule.html
"""

from collections.abc import Iterator

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, Sampler, TensorDataset

from mlp_template.data import Split


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


@rank_zero_only
def say(line: str) -> None:
    """Tell the person at the terminal what was decided about their data: printed once, not once per DDP process."""
    print(line)
