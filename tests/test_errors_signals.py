"""Ctrl-C at any moment: one line and exit code 130, with the resume command when a checkpoint exists.

(A Ctrl-C or SIGTERM during training saves a checkpoint first: tests/test_interruption.py.) ``CASES`` is the table
docs/errors.md shows (tests/test_errors_docs.py checks each line is there).
"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlp_template.runs.interruption import Interrupted, StopOnSignal
from tests.conftest import ROOT

CASES = {
    "Ctrl-C while starting (imports, reading the data)": "stopped by SIGINT (Ctrl-C)",
    "a second Ctrl-C, with a checkpoint": "stopped at once by a second SIGINT, without saving; resume with: python "
                                          "train.py ckpt_path=",
    "a second Ctrl-C, before any checkpoint": "stopped at once by a second SIGINT, without saving; no checkpoint was "
                                              "saved yet, nothing to resume",
}
DOCUMENTED = list(CASES.values())


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="watches /proc for the moment torch is loaded")
@pytest.mark.parametrize("resuming", [False, True])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path: Path, resuming: bool) -> None:
    run_dir, checkpoint = tmp_path / "run", tmp_path / "last.ckpt"
    checkpoint.write_bytes(b"a run's checkpoint")  # never read: the stop comes first
    command = [sys.executable, "train.py", f"hydra.run.dir={run_dir}", *([f"ckpt_path={checkpoint}"] * resuming)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 60
    # Torch loaded: the imports are under way (Lightning's take seconds more), far from the first training step.
    while process.poll() is None and "libtorch" not in maps.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    line = CASES["Ctrl-C while starting (imports, reading the data)"]
    assert stderr.strip() == (f"{line}; resume with: python train.py ckpt_path={checkpoint}" if resuming else line)
    assert not run_dir.exists()
    assert checkpoint.read_bytes() == b"a run's checkpoint"


@pytest.mark.parametrize("saved", [True, False])
def test_a_second_ctrl_c_stops_at_once_with_the_resume_command(tmp_path: Path, capfd, saved: bool) -> None:
    stopper = StopOnSignal(str(tmp_path))
    if saved:
        stopper.path.write_bytes(b"the last epoch's checkpoint")
    previous = signal.getsignal(signal.SIGINT)
    try:
        stopper.request_stop(signal.SIGINT, None)  # the first Ctrl-C: a stop at the end of the batch is asked
        with pytest.raises(Interrupted) as stop:
            signal.raise_signal(signal.SIGINT)  # the second, before that end came
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stop.value.code == 130
    last = capfd.readouterr().err.strip().splitlines()[-1]
    if saved:
        assert last == CASES["a second Ctrl-C, with a checkpoint"] + str(stopper.path.resolve())
    else:
        assert last == CASES["a second Ctrl-C, before any checkpoint"]
    assert stopper.path.exists() == saved  # nothing written by the stop itself
