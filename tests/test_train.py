"""The whole run, as a user starts it: the command line, the logs it writes, the accuracy it reaches."""

import math

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from mlp_template.training import train
from tests.conftest import compose_config, printed_warnings, read_scalars, run_train


def test_command_line_knobs_do_what_they_say(tmp_path) -> None:
    result = run_train(tmp_path, "lr=0.01", "epochs=3", "batch_size=128", "seed=1")
    assert result.returncode == 0, result.stderr[-2000:]
    scalars = read_scalars(tmp_path)
    for tag in ("train/loss", "val/loss", "val/acc"):  # one point per epoch, the epoch as x-axis
        assert [step for step, _ in scalars[tag]] == [0, 1, 2], tag
    losses = [value for _, value in scalars["train/loss"]]
    assert losses[0] > losses[1] > losses[2]
    assert len(scalars["test/acc"]) == 1
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["optimizer_states"][0]["param_groups"][0]["lr"] == 0.01
    assert last["global_step"] == 3 * math.ceil(1257 / 128)  # batch_size=128: 10 steps per epoch
    assert last["epoch"] == 2 and last["hyper_parameters"]["optimizer"]["lr"] == 0.01
    assert f"tensorboard --logdir {tmp_path}" in result.stdout
    assert not printed_warnings(result.stderr)  # a clean run prints no warning a user cannot act on


def test_hparams_tab_holds_the_knobs_and_the_final_metrics(tmp_path) -> None:
    metrics = train(compose_config(tmp_path, "debug=fast", "lr=0.02", "model.hidden_sizes=[32]"))
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["lr"].number_value == 0.02
    assert hparams["hidden_sizes"].string_value == "[32]"
    assert hparams["optimizer"].string_value == "SGD"
    assert read_scalars(tmp_path)["hp/test/acc"] == [(0, metrics["test/acc"])]


def test_default_run_reaches_95_percent_on_digits(tmp_path) -> None:
    metrics = train(compose_config(tmp_path))
    assert metrics["test/acc"] >= 0.95
