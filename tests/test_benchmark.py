"""The shipped benchmarks still run: benchmarks/throughput.py and benchmarks/panels.py on little data, checked for
what they report.

Timings on a shared machine prove nothing, so nothing here is timed: the four ways must be there on MNIST, the
digits, names and a table, train the same network to a real loss, and report positive finite throughputs, ratios,
the overhead per step, a start-up and its imports; the panels' cost must come from a run with every panel and one
with none.
"""

import json
import math
import subprocess
import sys

import pytest

from mlp_template.training import callbacks, checked_run
from tests.conftest import ROOT, compose_config


def test_tiny_benchmark_reports_four_ways_on_four_datasets_ratios_overhead_and_startup(tmp_path) -> None:
    results_file = tmp_path / "results.json"
    command = [sys.executable, "-m", "benchmarks.throughput", "--tiny", "--threads", "1", "--json", str(results_file),
               "--mnist-root", str(tmp_path / "no-mnist-here")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(results_file.read_text())

    names_batch = compose_config(tmp_path, "data=names").batch_size  # the names row trains at its preset
    assert [(run["dataset"], run["batch_size"]) for run in results["runs"]][:3] == [
        ("mnist", 64), ("digits", 64), ("names", names_batch)]
    # An untrained network's val/loss: log(10) for ten classes, log(27) nats per character, about 1 for standardised
    # prices (the mean's). Well below it, every way really trained the network.
    untrained = {"mnist": math.log(10), "digits": math.log(10), "names": math.log(27), "table": 1.0}
    for run in results["runs"]:
        assert set(run["paths"]) == {"template", "lightning", "reference", "classic"}
        for way in run["paths"].values():
            assert len(way["epoch_seconds"]) == run["epochs"] == 1
            rate = way["samples_per_s"]
            assert all(math.isfinite(value) and value > 0 for value in rate.values())
            assert rate["min"] <= rate["median"] <= rate["max"]
            assert way["val_loss"] < 0.85 * untrained[run["dataset"]], (run["dataset"], way)
        assert all(math.isfinite(ratio) and ratio > 0 for ratio in run["ratios"].values())
        assert all(math.isfinite(us) for us in run["overhead_us"].values())
        assert "fused=True" in run["optimizer"]  # the template's optimizer settings, in every way
    mnist, digits, _, table = results["runs"]
    assert table["dataset"] == "table" and 1000 < table["train_samples"] < 2000  # 2,000 rows less val and test
    assert "synthetic" in mnist["source"] and mnist["train_samples"] == 1000  # 1,200 made-up images - 200 for val
    assert digits["train_samples"] == 1257
    assert mnist["flops_per_sample"] == 6 * (784 * 256 + 256 * 256 * 2 + 256 * 10)

    startup = results["startup"]
    assert 0 < startup["startup"] < startup["wall"]
    assert any(line.strip().startswith("lightning") for line in startup["imports"])
    for text in ("(1) template", "(1b) Lightning alone", "(2) reference", "(3) classic", "template/reference",
                 "start-up", "GFLOP/s", "us/step", "names batch", "table batch"):
        assert text in result.stdout


def test_panels_benchmark_compares_a_run_with_every_panel_to_one_without(tmp_path) -> None:
    results_file = tmp_path / "panels.json"
    command = [sys.executable, "-m", "benchmarks.panels", "--repeats", "1", "--threads", "1",
               "--json", str(results_file), "debug=fast", "epochs=3"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(results_file.read_text())
    # Every Panel of conf/callbacks/default.yaml (those that do not apply to the digits are left out of both runs).
    assert results["panels"] == ["grad_norm", "update_ratio", "weights", "graph", "lr", "misclassified",
                                 "confusion_matrix", "predicted_vs_true", "sampled_words", "divergence"]
    assert [len(run) for run in results["with"] + results["without"]] == [3, 3]
    assert all(0 < seconds < 60 for runs in results["before_first_epoch"].values() for seconds in runs)
    assert results["cost"]["pairs"] == 2  # the epochs after the first, one pair each
    assert all(math.isfinite(value) for value in results["cost"].values())
    assert "the panels' cost per epoch" in result.stdout


def test_steps_benchmark_times_each_way_and_profiles_the_steps_and_each_callback(tmp_path) -> None:
    command = [sys.executable, "-m", "benchmarks.steps", "--epochs", "2", "--rounds", "1"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {line[:32].strip(): line[32:] for line in result.stdout.splitlines() if "val/loss" in line[32:]}
    cfg, data, _ = checked_run(compose_config(tmp_path))
    digits = list(callbacks(cfg, data.signature()))  # the callbacks that apply to the digits (no scatter, no words)
    assert "checkpoint" in digits and "misclassified" in digits and "predicted_vs_true" not in digits
    assert list(lines) == ["hand loop", "Lightning alone", "manual optimization", f"+ {len(digits)} empty callbacks",
                           "the template"]
    losses = {name: float(line.rsplit("val/loss", 1)[1]) for name, line in lines.items()}
    assert all(loss < 0.85 * math.log(10) for loss in losses.values()), losses  # every way really trained
    # The same seed, data and arithmetic: Lightning's loop, with or without callbacks or its closure, learns the same.
    assert losses["manual optimization"] == pytest.approx(losses["Lightning alone"], rel=1e-4)
    assert losses["the template"] == pytest.approx(losses["Lightning alone"], rel=1e-4)
    milliseconds = [float(line.split(" ms", 1)[0]) for line in lines.values()]
    assert all(math.isfinite(ms) and ms > 0 for ms in milliseconds)
    # The profile: Lightning's parts of a step, and a line for each callback the template runs on the digits.
    out = result.stdout.splitlines()
    step = {line[:78].strip(): float(line[78:].removesuffix("us")) for line in out if line.endswith(" us")}
    assert 0 < step["backpropagation"] < step[next(name for name in step if name.startswith("optimizer_step"))]
    profiled = {line.split()[0] for line in out if "us/step) |" in line}
    assert {"RunCheckpoint", "StopOnSignal", "TQDMProgressBar", "DivergenceGuard", "WeightHistograms"} <= profiled
