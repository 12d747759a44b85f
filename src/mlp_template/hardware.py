"""The machine a run computes on: how many CPU threads each step uses, and no futile search for a GPU driver."""

import ctypes
import os

import torch
from torch import nn

# torch's default (one per core, or OMP_NUM_THREADS), read before a run sets its own: a sweep's jobs share a process.
DEFAULT_THREADS = torch.get_num_threads()


def skip_futile_gpu_probe() -> None:
    """On a machine without NVIDIA's driver, stop torch from searching for it at every Adam step.

    Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 so that asking for a GPU never initialises CUDA; without the
    driver's NVML library each check first searches for it in vain. That costs more than 3 % of an MNIST epoch at
    batch 64 with Adam: ``python -m benchmarks.throughput --datasets mnist --batch-sizes 64`` (docs/speed.md).
    """
    try:
        ctypes.CDLL("libnvidia-ml.so.1")  # the library torch's check loads; no Python API asks for it
    except OSError:
        os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)


def compute_threads(threads: int | None, module: nn.Module, batch_size: int) -> int:
    """The CPU threads each matmul uses: ``threads``, or one unless a training step is 1 GFLOP or more.

    A step costs about 6 x weights x batch FLOPs (forward and backward). Below 1 GFLOP a second thread gains little
    on a quiet machine and, on one that other work shares, makes every step wait for a busy core: 5-10x slower
    here (docs/speed.md: "Threads").
    """
    if threads is not None:
        return threads
    flops = 6 * sum(p.numel() for p in module.parameters()) * batch_size
    return DEFAULT_THREADS if flops >= 1e9 else 1
