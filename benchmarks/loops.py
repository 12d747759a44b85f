"""The two plain-PyTorch loops the template is measured against; both run the same steps, fed differently.

- reference: batches cut from tensors already in memory (what the template's datamodule does), so the only
  difference from the template is Lightning, its callbacks and its logger;
- classic: a ``DataLoader`` that fetches one example at a time and collates them: for images a torchvision-style
  ``Dataset`` decoding PIL images through ``ToTensor`` and ``Normalize`` (pytorch/examples' mnist), for words and
  tables a ``TensorDataset``; so the input pipeline is the difference.
"""

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader, Dataset, TensorDataset, random_split

Batches = Iterable[tuple[Tensor, Tensor]]
Loss = Callable[[Tensor, Tensor], Tensor]


def clock(device: torch.device) -> float:
    """Seconds on a monotonic clock, once the device has finished the work queued so far."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


class PlainLoop:
    """A hand-written training loop that runs one epoch per call, timing each: forward, loss, backward, step."""

    def __init__(self, model: nn.Module, optimizer: Optimizer, loss: Loss, train: Callable[[], Batches],
                 val: Callable[[], Batches], device: torch.device) -> None:
        self.model, self.optimizer, self.loss, self.train, self.val = model, optimizer, loss, train, val
        self.device = device
        self.epoch_seconds: list[float] = []
        self.val_loss = float("nan")

    def epoch(self) -> None:
        """One pass of training steps over the train split, then one evaluation pass over the val split."""
        start = clock(self.device)
        self.model.train()
        for x, y in self.train():
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)  # no-op if there
            loss = self.loss(self.model(x), y)  # forward pass and the task's loss (the template's Learner.loss)
            self.optimizer.zero_grad()
            loss.backward()  # backpropagation
            self.optimizer.step()  # gradient descent
        self.val_loss = evaluate(self.model, self.loss, self.val(), self.device)
        self.epoch_seconds.append(clock(self.device) - start)


@torch.no_grad()
def evaluate(model: nn.Module, loss: Loss, batches: Batches, device: torch.device) -> float:
    """The validation loss over ``batches`` (the mean over examples), as the template computes it every epoch."""
    model.eval()
    loss_sum, count = torch.zeros((), device=device), 0
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss_sum += loss(model(x), y) * len(y)
        count += len(y)
    return (loss_sum / count).item()


def in_memory_batches(x: Tensor, y: Tensor, batch_size: int) -> Callable[[], Iterator[tuple[Tensor, Tensor]]]:
    """A fresh shuffle of ``(x, y)`` per call, cut into batches by indexing: the reference loop's input."""

    def batches() -> Iterator[tuple[Tensor, Tensor]]:
        for idx in torch.randperm(len(x), device=x.device).split(batch_size):
            yield x[idx], y[idx]

    return batches


class PILImages(Dataset):
    """uint8 images (N, H, W) served one by one as grayscale PIL images through ``transform``, as in torchvision."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable[[Image.Image], Tensor]) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def classic_datasets(data: DictConfig, splits: dict[str, TensorDataset]) -> tuple[Dataset, Dataset]:
    """The training and validation examples of ``data`` (a conf/data node) as per-sample datasets, same sizes:
    images decoded one by one as torchvision does; words and tables (``splits``, the template's) as they are."""
    if "mean" not in data:  # not images: the template's own tensors, fetched one example at a time
        return splits["train"], splits["val"]
    from torchvision import datasets, transforms  # the classic pipeline is torchvision's; the template needs none

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((data.mean,), (data.std,))])
    split = torch.Generator().manual_seed(data.split_seed)
    if "dataset" in data:  # mnist / fashion_mnist: torchvision reads the IDX files itself
        full = getattr(datasets, data.dataset)(data.root, train=True, transform=transform)
        train, val = random_split(full, [len(full) - data.val_size, data.val_size], generator=split)
        return train, val
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)  # 0..16 -> 0..255, what ToTensor expects
    full = PILImages(images, digits.target, transform)
    rest = len(full) - data.val_size - data.test_size
    train, val, _ = random_split(full, [rest, data.val_size, data.test_size], generator=split)
    return train, val


def loader_batches(dataset: Dataset, batch_size: int, shuffle: bool) -> Callable[[], DataLoader]:
    """The classic input: ``DataLoader`` in the main process (no workers: the cores are the compute threads')."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=0)
    return lambda: loader
