"""Ctrl-C and SIGTERM sent to a real ``python train.py``: a checkpoint, flushed curves, the resume command, exit code.

The signal is sent once the first epoch's checkpoint exists, so it lands in the second epoch, usually mid-epoch (or
in a validation or an epoch's end, where the stop waits for the epoch's end): points a resume continues exactly.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from tests.conftest import ROOT, printed_warnings, read_scalars

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny steps: one thread each, no spinning against other processes
ARGS = ("epochs=3", "batch_size=16", "++trainer.limit_train_batches=20", "~callbacks.progress_bar",
        "+trainer.enable_progress_bar=false")


def interrupted_run(run_dir: Path, signum: int) -> tuple[subprocess.CompletedProcess, dict]:
    """Start ``python train.py``, send ``signum`` when epoch 0's checkpoint exists, return the result and the
    checkpoint the run left."""
    command = [sys.executable, "train.py", f"hydra.run.dir={run_dir}", *ARGS]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    return result, torch.load(last, weights_only=True)


def assert_stopped_cleanly(result: subprocess.CompletedProcess, checkpoint: dict, run_dir: Path, signum: int) -> str:
    """Exit code 128 + signal, no traceback, a resumable checkpoint of epoch 1, epoch 0 on disk; the command."""
    assert result.returncode == 128 + signum, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    # In epoch 1, or at epoch 0's end if the signal came while that epoch's checkpoints were being written.
    assert re.search(rf"stopped by {signal.Signals(signum).name} in epoch [01], after batch \d+ of 20", result.stdout)
    progress = checkpoint["loops"]["fit_loop"]
    assert progress["epoch_progress"]["current"]["started"] in (1, 2)
    assert progress["epoch_loop.batch_progress"]["current"]["processed"] >= 1
    assert {"RandomState"} <= set(checkpoint["callbacks"]) and checkpoint["optimizer_states"]
    scalars = read_scalars(run_dir)  # flushed before exiting: epoch 0's points are on disk
    assert [step for step, _ in scalars["train/loss"]][:1] == [0] and scalars["val/loss"][0][0] == 0
    command = next(line for line in result.stdout.splitlines() if line.startswith("resume with: "))
    assert command == f"resume with: python train.py ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}"
    return command.removeprefix("resume with: ")


def test_ctrl_c_saves_flushes_and_the_printed_command_resumes_the_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result, checkpoint = interrupted_run(run_dir, signal.SIGINT)
    command = assert_stopped_cleanly(result, checkpoint, run_dir, signal.SIGINT)
    # The exact printed command: it takes the run's saved config (3 epochs, batch 16), not today's defaults.
    resumed = subprocess.run([sys.executable, *shlex.split(command)[1:]], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, env=ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not printed_warnings(resumed.stderr)  # writing into its own folder again is no news
    scalars = read_scalars(run_dir)
    for tag in ("train/loss", "val/loss", "val/acc"):  # the same curves, continued: one point per epoch
        assert [step for step, _ in scalars[tag]] == [0, 1, 2], tag
    assert len(read_scalars(run_dir / "tested")["test/acc"]) == 1  # the resumed run's test replaced none
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3 * 20
    # (That the resumed run is the never-stopped one, bit for bit, is tests/test_resume.py's job, in-process.)


def test_sigterm_saves_flushes_and_prints_the_resume_command(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result, checkpoint = interrupted_run(run_dir, signal.SIGTERM)
    assert_stopped_cleanly(result, checkpoint, run_dir, signal.SIGTERM)
    assert not list(run_dir.glob("checkpoints/.*.tmp"))  # no half-written checkpoint left behind
