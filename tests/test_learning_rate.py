"""The learning rate: too high is caught at once with a clear message; the range test suggests a good one."""

import math
import subprocess
import sys
from itertools import pairwise

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from mlp_template.module import Learner
from mlp_template.panels.divergence import DivergenceError, DivergenceGuard
from mlp_template.training import plain, train
from tests.conftest import ROOT, compose_config, read_scalars, run_train


def test_lr_1000_stops_at_once_with_one_clear_line(tmp_path) -> None:
    result = run_train(tmp_path, "lr=1000")  # plain SGD, the default run otherwise
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: loss diverged at step ") and " (epoch 0)" in error, error
    assert int(error.split("at step ")[1].split()[0]) <= 10  # stopped within the first steps, not 20 epochs later
    assert "lr=1000" in error and "try lr=100" in error and "find_lr=true" in error
    assert str(tmp_path) in error and "none yet" in error  # no epoch finished: nothing worth keeping was lost
    assert list(tmp_path.glob("events.out.tfevents.*"))  # the logs are kept
    assert "train/loss" not in read_scalars(tmp_path)


def test_divergence_keeps_the_best_checkpoint_and_skips_the_test(tmp_path) -> None:
    # lr 0.1 in epoch 0, then 1000 from epoch 1 on: a run that learns, then diverges.
    cfg = compose_config(tmp_path, "debug=fast", "epochs=3", "trainer.limit_train_batches=10", "scheduler=step",
                         "scheduler.step_size=1", "scheduler.gamma=10000")
    with pytest.raises(DivergenceError, match=r"\(epoch 1\).* with lr=1000\b.* try lr=0\.01\b.*epoch000\.ckpt$"):
        train(cfg)
    for name in ("epoch000.ckpt", "last.ckpt"):
        checkpoint = torch.load(tmp_path / "checkpoints" / name, weights_only=True)
        assert checkpoint["epoch"] == 0
        assert all(torch.isfinite(w).all() for w in checkpoint["state_dict"].values())  # never a diverged weight
    scalars = read_scalars(tmp_path)
    assert [step for step, _ in scalars["val/loss"]] == [0]
    assert [step for step, _ in scalars["grad_norm/output"]] == [0]  # the panels' last full epoch is kept
    assert [step for step, _ in scalars["lr"]] == [0, 1]  # and what they showed of the epoch that diverged
    assert "test/acc" not in scalars


class LrTimesTenEveryStep(Learner):
    """A fork whose schedule moves the lr every step: step n (from 1) uses lr * 10**(n - 1)."""

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.01)
        scheduler = torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lambda step: 10.0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def test_the_divergence_message_names_the_lr_the_diverged_step_used(tmp_path) -> None:
    cfg = compose_config(tmp_path)
    L.seed_everything(0)
    data = instantiate(cfg.data)
    module = LrTimesTenEveryStep(data.signature(), plain(cfg.model), plain(cfg.optimizer))
    trainer = L.Trainer(max_epochs=1, logger=False, callbacks=[DivergenceGuard()], enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    with pytest.raises(DivergenceError) as error:
        trainer.fit(module, datamodule=data)
    step = int(str(error.value).split("at step ")[1].split()[0])
    assert 3 <= step <= 10, error.value  # lr 1 at step 3 and up: it diverges within the first check
    assert f"with lr={0.01 * 10 ** (step - 1):g}." in str(error.value)  # that step's lr, not the next one's


def test_a_sweep_goes_on_after_a_diverged_run(tmp_path) -> None:
    command = [sys.executable, "train.py", "-m", "lr=1000,0.1", "debug=fast", f"hydra.sweep.dir={tmp_path}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "lr=1000" in errors[0]
    assert "test/acc" in read_scalars(tmp_path / "lr=0.1" / "tested")  # the next job trained and was tested


def test_lr_range_test_suggests_a_good_lr_and_the_command(tmp_path, capsys) -> None:
    suggestion = train(compose_config(tmp_path, "find_lr=true"))["lr"]
    assert 0.03 < suggestion < 0.3  # plain SGD on the digits does best at lr=0.1: within a factor 3 of it
    assert f"train with it: python train.py lr={suggestion:g}" in capsys.readouterr().out
    scalars = read_scalars(tmp_path)
    lrs, losses = ([value for _, value in scalars[f"lr_find/{tag}"]] for tag in ("lr", "loss"))
    assert len(lrs) == len(losses) >= 50
    assert all(a < b for a, b in pairwise(lrs))  # the lr grows step by step
    assert losses[0] == pytest.approx(math.log(10), abs=0.1)  # the untrained network's loss, no start-up bias
    assert not (tmp_path / "checkpoints").exists()  # a range test, not a training run


def test_lr_range_test_on_a_small_noisy_regression_is_not_fooled_by_one_lucky_batch(tmp_path) -> None:
    # Diabetes: 9 batches an epoch, and its first batch's loss is lower than the next ones' average by chance.
    suggestion = train(compose_config(tmp_path, "data=diabetes", "find_lr=true"))["lr"]
    assert 0.005 < suggestion < 0.2  # SGD on the diabetes preset trains well at 0.01 to 0.1
