"""The hand-written loop ``experiment=mnist_mlp`` is compared with, as one whole process (``benchmarks.whole``).

    python -m benchmarks.hand_mnist DATA_ROOT --threads 1

pytorch/examples' way, on tensors in memory: torchvision reads the IDX files, the same 784-256-256-10 network,
fused Adam at lr 0.001 with a cosine schedule, batch 128, 10 epochs, a validation pass each epoch, one test pass.
It prints one JSON line: when its first step started (time.time()) and its val and test accuracy.
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.datasets import MNIST


def tensors(root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as normalised float vectors (N, 784) and their labels, read once."""
    data = MNIST(root, train=train)
    return ((data.data.float() / 255 - 0.1307) / 0.3081).flatten(1), data.targets


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((torch.cat([model(b).argmax(1) for b in x.split(1000)]) == y).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = tensors(args.root, train=True)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    (x_val, y_val), (x, y) = (x[order[:5000]], y[order[:5000]]), (x[order[5000:]], y[order[5000:]])
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, fused=True)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    first_step = None
    for _ in range(10):
        model.train()
        for idx in torch.randperm(len(x)).split(128):
            first_step = first_step or time.time()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
        val_acc = accuracy(model, x_val, y_val)
    test_acc = accuracy(model, *tensors(args.root, train=False))
    print(json.dumps({"first_step": first_step, "val_acc": val_acc, "test_acc": test_acc}))


if __name__ == "__main__":
    main()
