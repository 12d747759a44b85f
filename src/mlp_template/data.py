"""The examples the network learns from: images decoded once into tensors, held in memory, served in batches.

One epoch is one pass over the training split. Small datasets (the bundled digits, MNIST-sized sets) fit in
memory, so batches are cut by indexing tensors: no per-sample transforms and no worker processes.
Lightning's docs on datamodules: https://lightning.ai/docs/pytorch/stable/data/datamodule.html
"""

import math
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, Sampler, TensorDataset

from mlp_template.errors import UserError

Split = tuple[Tensor, Tensor]  # (images, labels)


class DatasetNotFoundError(UserError, FileNotFoundError):
    """The files of a dataset that needs a download are not where the config says."""


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
    """Train/val/test splits as normalised tensors, on the training device, batched by index slicing.

    Subclasses set ``image_shape`` and ``num_classes`` and implement ``load`` (raw images as floats in [0, 1]).
    """

    image_shape: tuple[int, ...]
    num_classes: int

    def __init__(self, batch_size: int, seed: int, mean: float, std: float, shuffle: bool = True) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.seed = seed
        self.mean, self.std = mean, std
        self.shuffle = shuffle
        self.splits: dict[str, TensorDataset] = {}

    @property
    def input_size(self) -> int:
        """Numbers per example: the width of the input layer."""
        return math.prod(self.image_shape)

    def load(self) -> dict[str, Split]:
        """Raw ``{"train"|"val"|"test": (images in [0, 1], labels)}``."""
        raise NotImplementedError

    def normalize(self, x: Tensor) -> Tensor:
        """Scale pixels to mean 0 and std 1 over the training set, so the first weights start in a sane range."""
        return (x - self.mean) / self.std

    def setup(self, stage: str) -> None:
        if self.splits:  # decode once, whatever the number of stages (fit, test, ...)
            return
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        for name, (x, y) in self.load().items():
            self.splits[name] = TensorDataset(self.normalize(x).to(device), y.to(device))

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


def split_off(x: Tensor, y: Tensor, size: int, seed: int) -> tuple[Split, Split]:
    """Randomly split ``size`` examples off ``(x, y)``; the same seed always gives the same split."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    rest, part = order[:-size], order[-size:]
    return (x[rest], y[rest]), (x[part], y[part])


class DigitsDataModule(InMemoryDataModule):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images): ships with the package, no download."""

    image_shape = (1, 8, 8)
    num_classes = 10

    def __init__(self, val_size: int, test_size: int, split_seed: int, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.val_size, self.test_size, self.split_seed = val_size, test_size, split_seed

    def load(self) -> dict[str, Split]:
        from sklearn.datasets import load_digits  # imported here: only this dataset needs scikit-learn

        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8) in [0, 1]
        y = torch.tensor(digits.target, dtype=torch.long)
        rest, test = split_off(x, y, self.test_size, self.split_seed)
        train, val = split_off(*rest, self.val_size, self.split_seed)
        return {"train": train, "val": val, "test": test}


class TorchvisionDataModule(InMemoryDataModule):
    """MNIST or FashionMNIST read by torchvision from its IDX files under ``root``; val is split off train."""

    image_shape = (1, 28, 28)
    num_classes = 10
    FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

    def __init__(
        self, dataset: str, root: str, download: bool, val_size: int, split_seed: int, **kwargs: float
    ) -> None:
        super().__init__(**kwargs)
        self.dataset, self.root, self.download = dataset, Path(root), download
        self.val_size, self.split_seed = val_size, split_seed

    def prepare_data(self) -> None:
        for train in (True, False):  # with download=true, fetches the files once per node before any setup
            self.read(train)

    def read(self, train: bool) -> Split:
        """Decode one official split to ``(uint8 images (N, 28, 28), labels)`` through torchvision."""
        from torchvision import datasets  # imported here: only these datasets need torchvision

        try:
            ds = getattr(datasets, self.dataset)(self.root, train=train, download=self.download)
        except RuntimeError as e:  # torchvision's "Dataset not found" when the files are absent
            raw = self.root / self.dataset / "raw"
            raise DatasetNotFoundError(
                f"{self.dataset} files not found in {raw}: put {', '.join(self.FILES)} there "
                f"(gunzipped IDX files), or run with data.download=true (needs a network) [{e}]"
            ) from e
        return ds.data, ds.targets

    def load(self) -> dict[str, Split]:
        (x_train, y_train), (x_test, y_test) = self.read(train=True), self.read(train=False)
        train, val = split_off(unit_range(x_train), y_train, self.val_size, self.split_seed)
        return {"train": train, "val": val, "test": (unit_range(x_test), y_test)}


def unit_range(images: Tensor) -> Tensor:
    """uint8 pixels (N, 28, 28) -> floats in [0, 1], (N, 1, 28, 28)."""
    return images.unsqueeze(1).float() / 255.0
