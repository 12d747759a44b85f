"""Resume: stopping and resuming changes nothing, bit for bit; the same seed gives the same curves.

The runs use Adam (optimizer state), a StepLR schedule halving lr every epoch (scheduler state) and dropout 0.3
(the random state): a resume that lost any of them would drift, and the comparisons below are exact (CPU,
same operations in the same order: there is no reason for any difference, so no tolerance is allowed).
"""

import csv
import json
import os
import shutil
import signal
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import open_dict

from mlp_template.runs.interruption import Interrupted
from mlp_template.training import train
from tests.conftest import compose_config, read_scalars

RUN = ("optimizer=adam", "lr=0.01", "scheduler=step", "scheduler.step_size=1", "model.dropout=0.3", "batch_size=64",
       "++trainer.limit_train_batches=8", "~callbacks.progress_bar", "+trainer.enable_progress_bar=false",
       "+trainer.enable_model_summary=false")
TAGS = ("train/loss", "val/loss", "val/acc")


def run(run_dir: Path, *overrides: str) -> dict[str, float]:
    return train(compose_config(run_dir, *RUN, *overrides))


def curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    scalars = read_scalars(run_dir)  # in the order of the event files: a resume's, within the same second, may be first
    return {tag: sorted(scalars[tag]) for tag in TAGS}


def last_state(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


def assert_same_training(resumed: Path, reference: Path) -> None:
    """One point per epoch, the reference's values, and the same weights, optimizer and scheduler at the end."""
    assert curves(resumed) == curves(reference)
    a, b = last_state(resumed), last_state(reference)
    for name, tensor in b["state_dict"].items():
        assert torch.equal(a["state_dict"][name], tensor), name
    moments = [(s["exp_avg"], s["exp_avg_sq"]) for s in b["optimizer_states"][0]["state"].values()]
    resumed_moments = [(s["exp_avg"], s["exp_avg_sq"]) for s in a["optimizer_states"][0]["state"].values()]
    assert all(torch.equal(x, y) for pair, other in zip(moments, resumed_moments, strict=True)
               for x, y in zip(pair, other, strict=True))
    assert a["lr_schedulers"] == b["lr_schedulers"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 epochs, never stopped."""
    run_dir = tmp_path_factory.mktemp("reference")
    run(run_dir, "epochs=4")
    return run_dir


def test_reference_curves_have_one_point_per_epoch(reference: Path) -> None:
    for tag, points in curves(reference).items():
        assert [step for step, _ in points] == [0, 1, 2, 3], tag
    assert last_state(reference)["lr_schedulers"][0]["_last_lr"] == [0.01 * 0.5**4]  # stepped once per epoch


def test_two_epochs_then_resume_to_four_is_the_same_run(tmp_path: Path, reference: Path) -> None:
    run(tmp_path, "epochs=2")
    older = shutil.copy(tmp_path / "checkpoints" / "last.ckpt", tmp_path / "after_epoch_1.ckpt")
    run(tmp_path, "epochs=4", f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}")
    assert_same_training(tmp_path, reference)
    # Resuming the older checkpoint again re-trains epochs 2 and 3: TensorBoard hides the points they replace.
    run(tmp_path, "epochs=4", f"ckpt_path={older}")
    assert_same_training(tmp_path, reference)


def test_same_seed_same_curves_other_seed_other_curves(tmp_path: Path, reference: Path) -> None:
    run(tmp_path / "same", "epochs=2")
    assert curves(tmp_path / "same") == {tag: points[:2] for tag, points in curves(reference).items()}
    run(tmp_path / "other", "epochs=1", "seed=1")
    assert curves(tmp_path / "other")["train/loss"][0] != curves(reference)["train/loss"][0]


class SendSignal(L.Callback):
    """Sends ``signum`` to this process at a chosen training or validation batch, as a user or a cluster would."""

    def __init__(self, signum: int, epoch: int, batch: int, during: str) -> None:
        self.signum, self.at, self.during = signum, (epoch, batch), during

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: object, idx: int) -> None:
        if self.during == "train" and (trainer.current_epoch, idx) == self.at:
            os.kill(os.getpid(), self.signum)

    def on_validation_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: object, idx: int,
                                  dataloader_idx: int = 0) -> None:
        if self.during == "val" and not trainer.sanity_checking and (trainer.current_epoch, idx) == self.at:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize(("signum", "epoch", "batch", "during", "stopped_after"), [
    (signal.SIGINT, 1, 4, "train", (1, 5)),  # mid-epoch: the checkpoint is taken after that batch
    (signal.SIGTERM, 2, 7, "train", (2, 8)),  # in the epoch's last batch: it waits for the epoch's end
    (signal.SIGINT, 0, 1, "val", (0, 8)),  # during validation: the epoch's end too
])
def test_a_signal_stops_at_a_point_that_resumes_exactly(tmp_path: Path, reference: Path, signum: int, epoch: int,
                                                        batch: int, during: str, stopped_after: tuple[int, int],
                                                        capsys: pytest.CaptureFixture) -> None:
    cfg = compose_config(tmp_path, *RUN, "epochs=4")
    with open_dict(cfg):
        cfg.callbacks.send_signal = {"_target_": "tests.test_resume.SendSignal", "signum": int(signum), "epoch": epoch,
                                     "batch": batch, "during": during}
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a job a shell started in the background
    with pytest.raises(Interrupted) as stop:
        train(cfg)
    assert stop.value.code == 128 + signum
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are given back
    state = last_state(tmp_path)["loops"]["fit_loop"]
    epoch_done, batch_done = stopped_after
    assert state["epoch_loop.batch_progress"]["current"]["processed"] == batch_done
    assert state["epoch_progress"]["current"]["started"] == epoch_done + 1
    assert f"resume with: python train.py ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}" in capsys.readouterr().out
    run(tmp_path, "epochs=4", "ckpt_path=last")
    assert_same_training(tmp_path, reference)


def test_ctrl_c_twice_stops_at_once_and_keeps_the_last_epochs_checkpoint(tmp_path: Path, capfd) -> None:
    cfg = compose_config(tmp_path, *RUN, "epochs=4")
    with open_dict(cfg):
        for name in ("first", "second"):  # two Ctrl-C in a row, in epoch 1
            cfg.callbacks[name] = {"_target_": "tests.test_resume.SendSignal", "signum": int(signal.SIGINT),
                                   "epoch": 1, "batch": 2, "during": "train"}
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as stop:  # through Lightning's exception handling, still 130
        train(cfg)
    assert stop.value.code == 130
    last = tmp_path.resolve() / "checkpoints" / "last.ckpt"
    assert capfd.readouterr().err.strip().splitlines()[-1] == (
        f"stopped at once by a second SIGINT, without saving; resume with: python train.py ckpt_path={last}")
    progress = last_state(tmp_path)["loops"]["fit_loop"]["epoch_progress"]["current"]
    assert progress["processed"] == 1  # last.ckpt is still the end of epoch 0: nothing half-done was saved
    assert signal.getsignal(signal.SIGINT) is before


def test_csv_logger_keeps_its_rows_across_a_resume(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    run(tmp_path, "logger=csv", "epochs=1", "debug=fast")
    recwarn.clear()
    run(tmp_path, "logger=csv", "epochs=2", "debug=fast", "ckpt_path=last")
    # Lightning warns that the folder is not empty and metrics.csv will be deleted: not so, and not news, on resume.
    assert not [str(w.message) for w in recwarn if "exists and is not empty" in str(w.message)]
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    steps = {tag: [int(row["step"]) for row in rows if row[tag]] for tag in ("train/loss", "val/loss")}
    # Lightning's CSVLogger alone would have deleted epoch 0's rows.
    assert steps == {"train/loss": [0, 1], "val/loss": [0, 1]}


def test_a_moved_run_resumes_whole_and_a_finished_run_is_left_as_it_was(tmp_path: Path, reference: Path,
                                                                           capsys: pytest.CaptureFixture) -> None:
    run(tmp_path / "before", "epochs=2")
    shutil.move(tmp_path / "before", tmp_path / "moved")  # its checkpoints record paths in the old folder
    moved = tmp_path / "moved"
    run(moved, "epochs=4", f"ckpt_path={moved / 'checkpoints' / 'last.ckpt'}")
    assert_same_training(moved, reference)
    # The best of all four epochs was kept and tested, the one before the move included: the reference's.
    assert [p.name for p in (moved / "checkpoints").glob("epoch*.ckpt")] == \
        [p.name for p in (reference / "checkpoints").glob("epoch*.ckpt")]
    written = (moved / "metrics.json").read_text()
    assert json.loads(written) == json.loads((reference / "metrics.json").read_text())
    capsys.readouterr()
    assert run(moved, "epochs=4", "ckpt_path=last") == json.loads(written)
    assert "nothing left to train" in capsys.readouterr().out
    assert (moved / "metrics.json").read_text() == written  # train/loss and last_epoch/* kept
