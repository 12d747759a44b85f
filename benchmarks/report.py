"""What the benchmark prints: the settings every way shares, samples/s per way, ratios, start-up, targets."""

import argparse
import platform
import statistics

import lightning
import torch
from omegaconf import DictConfig
from torch.optim import Optimizer

# The issue's targets: template epoch time / reference epoch time at each batch size, and template / classic.
REFERENCE_TARGETS = {512: 1.10, 64: 1.20}
CLASSIC_TARGET = 3.0
WAYS = {"template": "(1) template: python train.py",
        "reference": "(2) reference: hand loop, in-memory tensors",
        "classic": "(3) classic: Dataset+DataLoader+ToTensor/Normalize"}


def describe(optimizer: Optimizer) -> str:
    """``Adam(lr=0.001, ..., fused=True)``: the settings that matter for speed and for the update itself."""
    keys = ("lr", "betas", "momentum", "weight_decay", "foreach", "fused")
    settings = ", ".join(f"{k}={optimizer.defaults[k]}" for k in keys if k in optimizer.defaults)
    return f"{type(optimizer).__name__}({settings})"


def settings(args: argparse.Namespace, cfg: DictConfig) -> dict:
    """The conditions every way shares, and the template's callbacks and logger as configured right now."""
    return {"device": args.device, "threads": args.threads, "torch": torch.__version__,
            "lightning": lightning.__version__, "python": platform.python_version(), "cpu": platform.processor(),
            "callbacks": {name: node._target_.rsplit(".", 1)[-1] for name, node in cfg.callbacks.items()},
            "logger": cfg.logger._target_.rsplit(".", 1)[-1] if cfg.logger else "none"}


def settings_lines(s: dict) -> list[str]:
    callbacks = ", ".join(f"{name} ({cls})" for name, cls in s["callbacks"].items())
    return [f"device {s['device']}, {s['threads']} threads in every way; torch {s['torch']}, lightning "
            f"{s['lightning']}, python {s['python']}",
            f"template: conf/callbacks/default.yaml = {callbacks}; logger {s['logger']}; progress bar to a file",
            "reference and classic: the template's MLP and its configure_optimizers(), plain loop; classic "
            "DataLoader: shuffle, num_workers=0",
            "an epoch = training steps over the train split + one pass over the val split; samples/s = train "
            "samples / epoch seconds, median [min-max] over the epochs after the first (warm-up)"]


def summarise(result: dict) -> dict:
    """Add per-way samples/s statistics and the ratios of median epoch times to one ``measure`` result."""
    samples = result["train_samples"]
    for way in result["paths"].values():
        seconds = way["epoch_seconds"][1:] or way["epoch_seconds"]  # the first epoch warms up, unless it is alone
        rates = [samples / s for s in seconds]
        way["samples_per_s"] = {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}
        way["median_epoch_seconds"] = statistics.median(seconds)
    median = {name: way["median_epoch_seconds"] for name, way in result["paths"].items()}
    result["ratios"] = {"template_over_reference": median["template"] / median["reference"],
                        "classic_over_template": median["classic"] / median["template"]}
    result["template_of_ceiling"] = result["paths"]["template"]["samples_per_s"]["median"] / result["matmul_ceiling"]
    return result


def run_lines(run: dict) -> list[str]:
    lines = [f"\n== {run['dataset']}, batch {run['batch_size']}: {run['train_samples']:,} training samples, "
             f"{run['epochs']} epochs; {run['source']}; {run['optimizer']}",
             f"{'way':<52}{'samples/s':>10}  {'[min - max]':<17}{'epoch s':>8}{'x ref':>7}{'val acc':>8}"]
    for name, way in run["paths"].items():
        rate = way["samples_per_s"]
        ratio = way["median_epoch_seconds"] / run["paths"]["reference"]["median_epoch_seconds"]
        lines.append(f"{WAYS[name]:<52}{rate['median']:>10,.0f}  [{rate['min']:>6,.0f} - {rate['max']:>6,.0f}]"
                     f"{way['median_epoch_seconds']:>8.3f}{ratio:>7.2f}{way['val_acc']:>8.3f}")
    flops = run["flops_per_sample"]
    lines.append(f"hardware: {flops / 1e6:.2f} MFLOP per sample (6 x {flops // 6:,} weights); matmuls alone at "
                 f"these shapes: {run['matmul_ceiling']:,.0f} samples/s ({run['matmul_ceiling'] * flops / 1e9:.1f} "
                 f"GFLOP/s); the template reaches {100 * run['template_of_ceiling']:.0f}% of that")
    return lines


def verdict(value: float, target: float, at_most: bool) -> str:
    met = value <= target if at_most else value >= target
    return f"{value:.2f}x ({'met' if met else 'NOT met'}: target {'<=' if at_most else '>='} {target:.2f}x)"


def summary_lines(results: dict) -> list[str]:
    """Targets per run, start-up and its imports, the default run, the machine's peak."""
    lines = ["\n== targets (median epoch times, measured side by side above)"]
    for run in results["runs"]:
        ratios, target = run["ratios"], REFERENCE_TARGETS.get(run["batch_size"])
        against_reference = verdict(ratios["template_over_reference"], target, True) if target else (
            f"{ratios['template_over_reference']:.2f}x")
        over_classic = verdict(ratios["classic_over_template"], CLASSIC_TARGET, False)
        lines.append(f"{run['dataset']:>6} batch {run['batch_size']:>4}: template/reference {against_reference}; "
                     f"template speed-up over classic {over_classic}")
    s = results["startup"]
    lines += [f"\n== default run: {s['command']}: wall {s['wall']:.1f} s, of which start-up (process start -> first "
              f"training step) {s['startup']:.2f} s and {len(s['epoch_seconds'])} epochs "
              f"{sum(s['epoch_seconds']):.2f} s",
              "start-up imports (python -X importtime train.py debug=fast):", *s["imports"],
              f"\nmachine: one 1024x1024 float32 matmul runs at {results['peak_flops'] / 1e9:.1f} GFLOP/s"]
    return lines
