"""The whole run, as a user starts it: the command line, the logs it writes, the accuracy it reaches."""

import math
import subprocess
import sys

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from mlp_template.training import train
from tests.conftest import ROOT, compose_config, printed_warnings, read_scalars, run_train


def test_command_line_knobs_do_what_they_say(tmp_path) -> None:
    result = run_train(tmp_path, "lr=0.01", "epochs=3", "batch_size=128", "seed=1")
    assert result.returncode == 0, result.stderr[-2000:]
    scalars = read_scalars(tmp_path)
    for tag in ("train/loss", "val/loss", "val/acc"):  # one point per epoch, the epoch as x-axis
        assert [step for step, _ in scalars[tag]] == [0, 1, 2], tag
    losses = [value for _, value in scalars["train/loss"]]
    assert losses[0] > losses[1] > losses[2]
    assert "test/acc" not in scalars and not [tag for tag in scalars if tag.startswith("hp/")]  # only curves here
    assert len(read_scalars(tmp_path / "tested")["test/acc"]) == 1
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == 0.01
    assert last["global_step"] == 3 * math.ceil(1257 / 128)  # batch_size=128: 10 steps per epoch
    assert last["epoch"] == 2 and last["hyper_parameters"]["optimizer"]["lr"] == 0.01
    assert f"tensorboard --logdir {tmp_path}" in result.stdout
    assert not printed_warnings(result.stderr)  # a clean run prints no warning a user cannot act on


def test_hparams_tab_holds_the_knobs_and_the_tested_weights_metrics_at_their_epoch(tmp_path) -> None:
    metrics = train(compose_config(tmp_path, "epochs=4", "lr=1", "batch_size=64", "model.hidden_sizes=[32]"))
    events = EventAccumulator(str(tmp_path / "tested"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}  # no experiment summary:
    # TensorBoard builds the table from every run it loads, ticking first the hyperparameters that differ.
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert hparams.hparams["lr"].number_value == 1.0  # lr=1 typed as an integer is still a number
    assert hparams.hparams["batch_size"].string_value == "64"  # an integer shown as one, not as 64.000
    assert hparams.hparams["hidden_sizes"].string_value == "[32]" and hparams.hparams["optimizer"].string_value == "SGD"
    # The tested weights' val/* and test/*, at the epoch of the best checkpoint: the same moment for both.
    best = torch.load(next((tmp_path / "checkpoints").glob("epoch*.ckpt")), weights_only=True)
    tested, curves = read_scalars(tmp_path / "tested"), read_scalars(tmp_path)
    for tag in ("val/loss", "val/acc", "test/loss", "test/acc"):
        assert tested[tag] == [(best["epoch"], pytest.approx(metrics[tag]))], tag
    assert dict(curves["val/acc"])[best["epoch"]] == pytest.approx(metrics["val/acc"])  # a point of the curve
    assert metrics["last_epoch/val/acc"] == curves["val/acc"][-1][1]


def test_default_run_reaches_95_percent_on_digits(tmp_path) -> None:
    metrics = train(compose_config(tmp_path))
    assert metrics["test/acc"] >= 0.95


def test_last_ckpt_holds_the_last_epoch_even_when_it_is_not_the_best(tmp_path) -> None:
    # mode=max makes the falling val/loss's first epoch the best one: no later epoch saves a new best checkpoint.
    train(compose_config(tmp_path, "epochs=3", "callbacks.checkpoint.mode=max"))
    saved = {p.name: torch.load(p, weights_only=True)["epoch"] for p in (tmp_path / "checkpoints").glob("*.ckpt")}
    assert saved == {"epoch000.ckpt": 0, "last.ckpt": 2}  # resuming from last.ckpt loses no epoch


@pytest.mark.parametrize("off", [["~callbacks.checkpoint", "~callbacks.last_checkpoint"], ["~callbacks"],
                                 ["~callbacks.stop_on_signal", "~callbacks.random_state", "~callbacks.divergence"]])
def test_any_callbacks_can_be_switched_off(tmp_path, off) -> None:
    metrics = train(compose_config(tmp_path, "debug=fast", *off))
    assert {"test/acc", "val/acc", "train/loss"} <= set(metrics)
    saved = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    if off == ["~callbacks"]:
        assert len(saved) == 1  # none of ours: Lightning's default checkpoint
    else:
        assert ("last.ckpt" in saved) == ("~callbacks.last_checkpoint" not in off)


def test_a_refused_run_leaves_no_folder_and_a_refused_resume_changes_nothing(tmp_path) -> None:
    def run(*overrides: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "train.py"), *overrides], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)

    refused = run("lr=-1")
    assert refused.returncode == 1 and refused.stderr.strip().endswith("error: lr=-1: must be a number > 0: the size "
                                                                       "of each gradient-descent step, e.g. lr=0.01")
    assert list((tmp_path / "logs" / "runs").iterdir()) == []
    assert run("debug=fast").returncode == 0
    (run_dir,) = (tmp_path / "logs" / "runs").iterdir()
    before = {p: p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
    refused = run("ckpt_path=last", "lr=-1")
    assert refused.returncode == 1 and refused.stderr.strip().startswith("error: lr=-1")
    assert {p: p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()} == before


def test_importing_the_package_changes_no_warning_filter() -> None:
    src = ROOT / "src"
    modules = [".".join(p.relative_to(src).with_suffix("").parts) for p in src.rglob("mlp_template/**/*.py")]
    libraries = ["lightning", "torch", "torchvision", "torchmetrics", "hydra", "sklearn.datasets", "PIL.Image",
                 "torch.utils.tensorboard", "tensorboard", "lightning.pytorch.tuner"]  # they set their own filters
    code = ("import importlib, warnings\n"
            f"for name in {libraries!r}: importlib.import_module(name)\n"
            "before = list(warnings.filters)\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "assert warnings.filters == before, [f for f in warnings.filters if f not in before]")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]
