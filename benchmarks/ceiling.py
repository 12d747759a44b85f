"""The distance to the hardware: the model's arithmetic per sample against what the machine's matmuls deliver.

A Linear layer with W weights costs 2W floating-point operations per sample forward and 4W backward (the gradient
of its input and of its weights), so training costs about 6 x weights per sample; BatchNorm, activations and the
optimizer add memory traffic but few FLOPs. Running only those matmuls, at the model's own shapes, gives the
samples/s no training loop on this machine can beat.
"""

import time
from collections.abc import Callable

import torch
from torch import nn


def linear_shapes(model: nn.Module) -> list[tuple[int, int]]:
    """(in_features, out_features) of every Linear layer, input to output."""
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def flops_per_sample(model: nn.Module) -> int:
    """Forward + backward FLOPs of the model's matmuls for one sample: 6 x its Linear weights."""
    return 6 * sum(n_in * n_out for n_in, n_out in linear_shapes(model))


def timed(work: Callable[[], object], device: torch.device, seconds: float) -> float:
    """Seconds per call of ``work``, repeated for about ``seconds`` after one warm-up call."""
    work()
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        work()
        calls += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls


def matmul_ceiling(model: nn.Module, batch_size: int, device: torch.device, seconds: float = 0.5) -> float:
    """Samples/s if a training step were only its matmuls: per layer x @ W.T, grad @ W and grad.T @ x."""
    shapes = [(torch.randn(batch_size, n_in, device=device), torch.randn(n_out, n_in, device=device),
               torch.randn(batch_size, n_out, device=device)) for n_in, n_out in linear_shapes(model)]

    def step() -> None:
        for x, w, grad in shapes:
            x @ w.T, grad @ w, grad.T @ x

    return batch_size / timed(step, device, seconds)


def peak_flops(device: torch.device, n: int = 1024, seconds: float = 0.5) -> float:
    """FLOP/s of one large square float32 matmul: the machine's best case."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / timed(lambda: a @ b, device, seconds)
