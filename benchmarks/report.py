"""What the benchmark prints: the settings every way shares, samples/s per way, ratios, start-up, targets."""

import argparse
import os
import platform
import statistics

import lightning
import torch
from omegaconf import DictConfig
from torch.optim import Optimizer

# What the template aims for: its epoch time over the reference's (the price of Lightning and the callbacks), per
# dataset and batch size (None: at its preset's), and its speed-up over the classic loop on images (what in-memory
# batches buy over decoding one image at a time).
REFERENCE_TARGETS = {("mnist", 512): 1.10, ("mnist", 64): 1.20, ("names", None): 1.50, ("table", None): 1.50}
CLASSIC_TARGET = 3.0
WAYS = {"template": "(1) template: python train.py",
        "lightning": "(1b) Lightning alone: train.py, callbacks off",
        "reference": "(2) reference: hand loop, in-memory tensors",
        "classic": "(3) classic: DataLoader, one example at a time"}


def describe(optimizer: Optimizer) -> str:
    """``Adam(lr=0.001, ..., fused=True)``: the settings that matter for speed and for the update itself."""
    keys = ("lr", "betas", "momentum", "weight_decay", "foreach", "fused")
    settings = ", ".join(f"{k}={optimizer.defaults[k]}" for k in keys if k in optimizer.defaults)
    return f"{type(optimizer).__name__}({settings})"


def settings(args: argparse.Namespace, cfg: DictConfig) -> dict:
    """The conditions every way shares, and the template's callbacks and logger as configured right now."""
    return {"device": args.device, "threads": args.threads, "cores": os.cpu_count(), "load": load(),
            "torch": torch.__version__,
            "lightning": lightning.__version__, "python": platform.python_version(), "cpu": platform.processor(),
            "callbacks": {name: node._target_.rsplit(".", 1)[-1] for name, node in cfg.callbacks.items()},
            "logger": cfg.logger._target_.rsplit(".", 1)[-1] if cfg.logger else "none"}


def load() -> float:
    """The number of processes wanting a CPU, averaged over the last minute: above the cores, timings suffer."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def settings_lines(s: dict) -> list[str]:
    callbacks = ", ".join(f"{name} ({cls})" for name, cls in s["callbacks"].items())
    return [f"device {s['device']}, {s['threads']} threads in every way ({s['cores']} cores, load average "
            f"{s['load']:.1f} at the start); torch {s['torch']}, lightning {s['lightning']}, python {s['python']}",
            f"template: conf/callbacks/default.yaml = {callbacks}; logger {s['logger']}; progress bar to a file",
            "Lightning alone: the template's train.py, module and data with every callback above off, and no "
            "checkpoint or progress bar in their place",
            "reference and classic: the template's MLP and its configure_optimizers(), one plain loop; reference "
            "batches: randperm + indexing of tensors on the device; classic: DataLoader(shuffle, num_workers=0)",
            "an epoch = training steps over the train split + one pass over the val split; samples/s = train "
            "samples / epoch seconds, median [min-max] over the epochs after the first (warm-up)",
            "the ways take turns epoch by epoch (template, Lightning alone, reference, classic, template, ...); "
            "'x ref' = median over those turns of epoch time / the reference's epoch time in the same turn"]


def summarise(result: dict) -> dict:
    """Add per-way samples/s statistics and the template's ratios to one ``measure`` result.

    The ways take turns epoch by epoch, so each template epoch is paired with the reference and classic epochs
    that ran right after it; a ratio is the median over those pairs, which cancels most of a shared machine's drift.
    """
    samples, paths = result["train_samples"], result["paths"]
    for way in paths.values():
        seconds = measured(way["epoch_seconds"])
        rates = [samples / s for s in seconds]
        way["samples_per_s"] = {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}
        way["median_epoch_seconds"] = statistics.median(seconds)
    template, lightning, reference, classic = (measured(paths[name]["epoch_seconds"]) for name in WAYS)
    steps = -(-samples // result["batch_size"])  # optimizer steps per epoch
    result["overhead_us"] = {  # an epoch's extra time over the reference's, per step: the loop and callbacks
        "template": 1e6 * statistics.median(t - r for t, r in zip(template, reference, strict=True)) / steps,
        "lightning": 1e6 * statistics.median(b - r for b, r in zip(lightning, reference, strict=True)) / steps}
    result["ratios"] = {
        "template_over_reference": statistics.median(t / r for t, r in zip(template, reference, strict=True)),
        "lightning_over_reference": statistics.median(b / r for b, r in zip(lightning, reference, strict=True)),
        "classic_over_template": statistics.median(c / t for c, t in zip(classic, template, strict=True)),
        "classic_over_reference": statistics.median(c / r for c, r in zip(classic, reference, strict=True))}
    result["template_of_ceiling"] = paths["template"]["samples_per_s"]["median"] / result["matmul_ceiling"]
    return result


def measured(epoch_seconds: list[float]) -> list[float]:
    """The epochs that count: all but the first, which warms up (allocations, first calls), unless it is alone."""
    return epoch_seconds[1:] or epoch_seconds


def run_lines(run: dict) -> list[str]:
    lines = [f"\n== {run['dataset']}, batch {run['batch_size']}: {run['train_samples']:,} training samples, "
             f"{run['epochs']} epochs; {run['source']}; {run['optimizer']}",
             f"{'way':<52}{'samples/s':>10}  {'[min - max]':<17}{'epoch s':>8}{'x ref':>7}{'us/step':>8}"
             f"{'val loss':>9}"]
    ratios = run["ratios"]
    x_reference = {"template": ratios["template_over_reference"], "lightning": ratios["lightning_over_reference"],
                   "reference": 1.0,
                   "classic": ratios["classic_over_reference"]}
    overhead = run["overhead_us"]
    for name, way in run["paths"].items():
        rate = way["samples_per_s"]
        extra = f"{overhead[name]:>+8.0f}" if name in overhead else f"{'':>8}"
        lines.append(f"{WAYS[name]:<52}{rate['median']:>10,.0f}  [{rate['min']:>6,.0f} - {rate['max']:>6,.0f}]"
                     f"{way['median_epoch_seconds']:>8.3f}{x_reference[name]:>7.2f}{extra}{way['val_loss']:>9.3f}")
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
    lines = ["\n== targets (median epoch times, measured side by side above; us/step: the epoch's extra time over "
             "the reference's, per optimizer step)"]
    for run in results["runs"]:
        ratios, dataset = run["ratios"], run["dataset"]
        target = REFERENCE_TARGETS.get((dataset, run["batch_size"]), REFERENCE_TARGETS.get((dataset, None)))
        against_reference = verdict(ratios["template_over_reference"], target, True) if target else (
            f"{ratios['template_over_reference']:.2f}x")
        over_classic = verdict(ratios["classic_over_template"], CLASSIC_TARGET, False)
        over_classic = f"; template speed-up over classic {over_classic}" if dataset in ("mnist", "digits") else ""
        overhead = run["overhead_us"]
        lines.append(f"{dataset:>6} batch {run['batch_size']:>4}: template/reference {against_reference}"
                     f"{over_classic}; Lightning alone/reference {ratios['lightning_over_reference']:.2f}x; per step: "
                     f"template {overhead['template']:+.0f} us, Lightning alone {overhead['lightning']:+.0f} us")
    s = results["startup"]
    lines += [f"\n== default run: {s['command']}: wall {s['wall']:.1f} s, of which start-up (process start -> first "
              f"training step) {s['startup']:.2f} s and {len(s['epoch_seconds'])} epochs "
              f"{sum(s['epoch_seconds']):.2f} s",
              "start-up imports (python -X importtime train.py debug=fast):", *s["imports"],
              f"\nmachine: one 1024x1024 float32 matmul runs at {results['peak_flops'] / 1e9:.1f} GFLOP/s; load "
              f"average {load():.1f} at the end"]
    return lines
