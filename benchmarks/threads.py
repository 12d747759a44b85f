"""One compute thread or two, by network size: ``python -m benchmarks.threads`` (docs/speed.md: "Threads").

A plain loop (forward, loss, backward, fused Adam) at 1 and 2 threads, taking turns, 30 trials of 20 steps each:
the fastest trial shows the machine at its quietest, the median under its usual load.
"""

import itertools
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

CASES = [("names-like 48-128-64-27", [48, 128, 64, 27], [32, 512]),
         ("784-256-256-256-10", [784, 256, 256, 256, 10], [64, 512])]


def network(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # no activation after the output layer


def step_seconds(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """Seconds per training step, over 20 steps."""
    start = time.perf_counter()
    for _ in range(20):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / 20


def main() -> None:
    for name, sizes, batch_sizes in CASES:
        model = network(sizes)
        optimizer = torch.optim.Adam(model.parameters(), fused=True)
        weights = sum(p.numel() for p in model.parameters())
        for batch_size in batch_sizes:
            x, y = torch.randn(batch_size, sizes[0]), torch.randint(0, sizes[-1], (batch_size,))
            seconds: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(30):
                for threads in seconds:
                    torch.set_num_threads(threads)
                    seconds[threads].append(step_seconds(model, optimizer, x, y))
            flops = 6 * weights * batch_size
            line = f"{name:26s} {weights:>9,} weights batch {batch_size:4d} ({flops / 1e6:7.1f} MFLOP/step):"
            for threads, times in seconds.items():
                line += f" {threads} thread{'s' if threads > 1 else ''} min {min(times) * 1e6:7.0f} median "
                line += f"{statistics.median(times) * 1e6:7.0f} us;"
            print(line.rstrip(";"), flush=True)


if __name__ == "__main__":
    main()
