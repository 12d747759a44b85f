"""Samples/s of the template against a hand-written PyTorch loop and the classic DataLoader loop, in one run.

    python -m benchmarks.throughput           # MNIST-format files, digits, names, a table (minutes)
    python -m benchmarks.throughput --tiny    # one epoch of small data: shows that it still runs

Four ways train the same network for the same epochs with the same optimizer settings, batch size and threads:
(1) the template, as ``python train.py``; (1b) the same with every callback off: Lightning's loop alone, the floor
of any Lightning template; (2) the reference, a short plain-PyTorch loop over tensors in memory; (3) the classic
Dataset + DataLoader loop, one example at a time. On MNIST and the digits the network is 784-256-256-256-10 with
BatchNorm and Adam (64 inputs on digits) at batch 512 and 64; ``data=names`` and a 50,000-row table
(``data=csv``) train as their presets say. One epoch = the training steps over the train split and one pass
over the val split.
"""

import argparse
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import Dataset

from benchmarks import ceiling, loops, report, synthetic
from benchmarks.template import ROOT, SteppedRun, import_breakdown, import_profile, run_template, take_turns
from mlp_template.data.datamodule import InMemoryDataModule
from mlp_template.module import Learner
from mlp_template.training import plain

# The network and optimizer every way trains: three hidden layers of 256 with BatchNorm, and Adam; everything else
# is the template's default config.
MODEL = ["optimizer=adam", "lr=0.001", "model.hidden_sizes=[256,256,256]", "model.batch_norm=true", "seed=0"]
# Lightning's loop with the template's module and data, and nothing else: every callback of conf/callbacks off,
# and the checkpoint and progress bar Lightning would add in their place (the TensorBoard logger stays).
LIGHTNING_ALONE = ["+trainer.enable_checkpointing=false", "+trainer.enable_progress_bar=false"]
# Start-up: where these come from and what they cost.
NOTABLE = ("lightning", "torchmetrics.functional", "torchvision", "torch._dynamo", "scipy.signal", "sklearn.datasets",
           "hydra", "torch.utils.tensorboard")


def config(workdir: Path, overrides: list[str]) -> DictConfig:
    """The config ``python train.py OVERRIDES`` composes."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"output_dir={workdir}", *overrides])


def model_and_optimizer(cfg: DictConfig, data: InMemoryDataModule,
                        device: torch.device) -> tuple[nn.Module, Optimizer, loops.Loss]:
    """The template's own network, optimizer (its ``configure_optimizers``) and loss: the loops get the same."""
    torch.manual_seed(cfg.seed)
    module = Learner(data.signature(), plain(cfg.model), plain(cfg.optimizer)).to(device)
    return module.model, module.configure_optimizers(), module.loss  # no scheduler given: the optimizer alone


def measure(cfg: DictConfig, overrides: list[str], data: InMemoryDataModule, classic: tuple[Dataset, Dataset],
            args: argparse.Namespace, run_dir: Path) -> dict:
    """One dataset at one batch size: the four ways, taking turns epoch by epoch; then the matmul ceiling."""
    device, batch_size = torch.device(args.device), cfg.batch_size
    x, y = (t.to(device) for t in data.splits["train"].tensors)
    val = [t.to(device) for t in data.splits["val"].tensors]
    reference = loops.PlainLoop(*model_and_optimizer(cfg, data, device), loops.in_memory_batches(x, y, batch_size),
                                loops.in_memory_batches(*val, batch_size), device)
    dataloader = loops.PlainLoop(*model_and_optimizer(cfg, data, device),
                                 loops.loader_batches(classic[0], batch_size, shuffle=True),
                                 loops.loader_batches(classic[1], batch_size, shuffle=False), device)

    runs = {name: SteppedRun(run_dir / name, [*overrides, *extra], args.threads) for name, extra in (
        ("template", []),
        ("lightning", [*(f"~callbacks.{name}" for name in cfg.callbacks), *LIGHTNING_ALONE]),
    )}
    take_turns(list(runs.values()), [reference.epoch, dataloader.epoch], cfg.epochs)
    ways = {name: asdict(run.result()) for name, run in runs.items()}
    for name, loop in (("reference", reference), ("classic", dataloader)):
        ways[name] = {"epoch_seconds": loop.epoch_seconds, "val_loss": loop.val_loss}
    return {"batch_size": batch_size, "epochs": cfg.epochs, "train_samples": len(x), "paths": ways,
            "optimizer": report.describe(reference.optimizer),
            "flops_per_sample": ceiling.flops_per_sample(reference.model),
            "matmul_ceiling": ceiling.matmul_ceiling(reference.model, batch_size, device, args.matmul_seconds)}


def datasets(args: argparse.Namespace, workdir: Path) -> dict[str, tuple[list[str], str]]:
    """Each dataset's overrides (MODEL for the images; the presets for names and the table) and a one-line
    description; MNIST files and the table are made up (MNIST only when none are at hand)."""
    choices = {"digits": ([*MODEL, "data=digits"], "scikit-learn's bundled 8x8 digits"),
               "names": (["data=names"], "data=names at its preset (conf/preset/names.yaml)")}
    if "mnist" in args.datasets:
        root, source = args.mnist_root, f"MNIST IDX files in {args.mnist_root}"
        if not synthetic.has_mnist(root):
            train_size, test_size = (1200, 200) if args.tiny else (60_000, 10_000)
            root = synthetic.write_mnist(workdir / "data", train_size, test_size)
            source = (f"synthetic MNIST-format IDX files ({train_size:,} + {test_size:,} images; "
                      f"none in {args.mnist_root})")
        choices["mnist"] = ([*MODEL, "data=mnist", f"data.root={root}", f"data.val_size={200 if args.tiny else 5000}"],
                            source)
    if "table" in args.datasets:
        rows = 2000 if args.tiny else 50_000
        path = synthetic.write_table(workdir / "prices.csv", rows)
        choices["table"] = (["data=csv", f"data.path={path}", "data.target=price"],
                            f"a made-up {rows:,}-row price list (benchmarks/synthetic.py) at the csv preset")
    return {name: choices[name] for name in args.datasets}


def run(args: argparse.Namespace, workdir: Path) -> dict:
    """Every measurement of the benchmark, as one JSON-ready dict."""
    results = {"settings": report.settings(args, config(workdir, MODEL)), "runs": []}
    print(*report.settings_lines(results["settings"]), sep="\n", flush=True)
    accelerator = "gpu" if args.device == "cuda" else "cpu"  # the device of every way, not "auto"
    for name, (data_overrides, source) in datasets(args, workdir).items():
        epochs = args.digits_epochs if name == "digits" else args.epochs
        # The same threads in every way: the template's own rule (hardware.py: compute_threads) is overridden.
        data_overrides = [*data_overrides, f"trainer.accelerator={accelerator}", f"threads={args.threads}"]
        cfg = config(workdir, [*data_overrides, f"epochs={epochs}"])
        data: InMemoryDataModule = instantiate(cfg.data)
        data.setup("fit")  # decoded once, shared by the reference loop at every batch size
        classic = loops.classic_datasets(cfg.data, data.splits)
        for batch_size in args.batch_sizes if name in ("mnist", "digits") else [cfg.batch_size]:
            overrides = [*data_overrides, f"epochs={epochs}", f"batch_size={batch_size}"]
            cfg = config(workdir, overrides)
            result = measure(cfg, overrides, data, classic, args, workdir / f"{name}-{batch_size}")
            results["runs"].append({"dataset": name, "source": source, **report.summarise(result)})
            print(*report.run_lines(results["runs"][-1]), sep="\n", flush=True)
    results["startup"] = startup(args, workdir)
    results["peak_flops"] = ceiling.peak_flops(torch.device(args.device), seconds=args.matmul_seconds)
    return results


def startup(args: argparse.Namespace, workdir: Path) -> dict:
    """The default ``python train.py``: its wall time and start-up, and where its imports spend their time."""
    overrides = ["debug=fast"] if args.tiny else []
    default = run_template(workdir / "default", overrides, args.threads)
    imports = import_profile(workdir / "importtime", ["debug=fast"], args.threads)
    return {"command": " ".join(["python train.py", *overrides]), "wall": default.wall, "startup": default.startup,
            "epoch_seconds": default.epoch_seconds, "imports": import_breakdown(imports, NOTABLE)}


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--tiny`` shrinks everything to a smoke run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="1 epoch of small data, batch 64: a smoke run")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "digits", "names", "table"],
                        choices=["mnist", "digits", "names", "table"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[512, 64], help="MNIST and digits")
    parser.add_argument("--epochs", type=int, default=6, help="MNIST epochs per way; the first is warm-up")
    parser.add_argument("--digits-epochs", type=int, default=20, help="digits epochs per way; the first is warm-up")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="compute threads, every way")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--mnist-root", type=Path, default=ROOT / "data", help="where MNIST/raw/*-ubyte are")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.tiny:
        args.epochs, args.digits_epochs, args.batch_sizes = 1, 1, [64]
    args.matmul_seconds = 0.05 if args.tiny else 0.5
    return args


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    torch.set_num_threads(args.threads)  # the template's process gets the same number (OMP_NUM_THREADS)
    # Importing Lightning (done here to build the template's network) sets this; with a CUDA build of torch and no
    # GPU driver, every Adam step then searches for NVML in vain. A plain PyTorch script never sets it, so the loops
    # here run without it; the template's own process runs as ``python train.py`` does.
    os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)
    with tempfile.TemporaryDirectory(prefix="mlp-template-benchmark-") as workdir:
        results = run(args, Path(workdir))
    print(*report.summary_lines(results), sep="\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
