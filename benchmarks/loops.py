"""The two plain-PyTorch loops the template is measured against; both run the same steps, fed differently.

- reference: batches cut from tensors already in memory (what the template's datamodule does), so the only
  difference from the template is Lightning, its callbacks and its logger;
- classic: a torchvision-style ``Dataset`` that decodes one PIL image at a time through ``ToTensor`` and
  ``Normalize``, batched by a ``DataLoader`` (pytorch/examples' mnist), so the input pipeline is the difference.
"""

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from PIL import Image
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader, Dataset, Subset, random_split

Batches = Iterable[tuple[Tensor, Tensor]]


def clock(device: torch.device) -> float:
    """Seconds on a monotonic clock, once the device has finished the work queued so far."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


class PlainLoop:
    """A hand-written training loop that runs one epoch per call, timing each: forward, loss, backward, step."""

    def __init__(self, model: nn.Module, optimizer: Optimizer, train: Callable[[], Batches],
                 val: Callable[[], Batches], device: torch.device) -> None:
        self.model, self.optimizer, self.train, self.val, self.device = model, optimizer, train, val, device
        self.epoch_seconds: list[float] = []
        self.val_acc = float("nan")

    def epoch(self) -> None:
        """One pass of training steps over the train split, then one evaluation pass over the val split."""
        start = clock(self.device)
        self.model.train()
        for x, y in self.train():
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)  # no-op if there
            loss = F.cross_entropy(self.model(x), y)  # forward pass and loss
            self.optimizer.zero_grad()
            loss.backward()  # backpropagation
            self.optimizer.step()  # gradient descent
        self.val_acc = evaluate(self.model, self.val(), self.device)
        self.epoch_seconds.append(clock(self.device) - start)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Batches, device: torch.device) -> float:
    """Validation loss and accuracy over ``batches``, as the template computes them every epoch; returns accuracy."""
    model.eval()
    loss_sum, correct, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for x, y in batches:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(dim=1) == y).sum()
        count += len(y)
    return (correct / count).item()


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


def classic_datasets(data: DictConfig) -> tuple[Subset, Subset]:
    """The training and validation images of ``data`` (a conf/data node) as per-sample datasets, same sizes."""
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
