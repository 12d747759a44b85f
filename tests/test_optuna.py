"""The resumable Optuna search (the `optuna` extra): a re-run after a crash finishes the study, with no trial run
twice. Skipped where the extra is not installed."""

import csv
import os
import signal
import subprocess
import time

import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402  (after the skip: only with the optuna extra)

from tests.conftest import ROOT  # noqa: E402
from tests.test_sweep import multirun  # noqa: E402


def trials(storage: str) -> list[optuna.trial.FrozenTrial]:
    try:
        return optuna.load_study(study_name="digits_mlp", storage=storage).trials
    except KeyError:  # not created yet
        return []


def completed(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    return [trial for trial in trials if trial.state == TrialState.COMPLETE]


def test_optuna_search_continues_its_study_after_a_crash(tmp_path) -> None:
    command = multirun(tmp_path, "hparams_search=optuna", "debug=fast", "hydra.sweeper.n_trials=4")
    storage = f"sqlite:///{tmp_path}/study.db"
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.monotonic() + 240
    while len(completed(trials(storage))) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # a crash during the third trial: no chance to clean up
    first.wait()
    before = trials(storage)
    assert 2 <= len(completed(before)) < 4  # stopped part-way (on a slow machine the third may just have ended)
    cut_off = [trial.number for trial in before if trial.state == TrialState.RUNNING]

    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)  # the same command
    assert result.returncode == 0, result.stderr[-3000:]
    after = trials(storage)
    assert len(completed(after)) == 4 and completed(after)[: len(completed(before))] == completed(before)
    assert [trial.number for trial in after if trial.state == TrialState.FAIL] == cut_off  # none left RUNNING
    assert len(after) == 4 + len(cut_off)  # only the missing trials ran
    assert len({tuple(sorted(trial.params.items())) for trial in after}) == len(after)  # no trial repeated
    assert {f"trial_{trial.number}" for trial in completed(after)} <= {path.name for path in tmp_path.iterdir()}
    with open(tmp_path / "summary.csv") as f:
        ranked = [row for row in csv.DictReader(f) if row["rank"]]
    assert len(ranked) == 4 and float(ranked[0]["val/acc"]) == max(trial.value for trial in completed(after))


def test_a_csv_search_optimises_the_direction_its_target_decides(tmp_path) -> None:
    """data=csv leaves optimized_direction null: a target of classes makes the study maximise val/acc; a file that
    cannot be read stops the search in one line before any trial."""
    table = tmp_path / "table.csv"
    # sizes 0, 2, 4...: sizes 0..59 would be the row numbers, which are left out (no input would be left)
    table.write_text("size,colour\n" + "".join(f"{i * 2},{'red' if i % 3 else 'blue'}\n" for i in range(60)))
    command = multirun(tmp_path / "study", "hparams_search=optuna", "data=csv", f"data.path={table}",
                       "data.target=colour", "debug=fast", "hydra.sweeper.n_trials=1")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (study,) = optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'study' / 'study.db'}")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert "sweep summary, best val/acc first (maximize)" in result.stdout
    missing = [*command[:-4], f"data.path={tmp_path / 'nope.csv'}", *command[-3:]]
    result = subprocess.run(missing, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stderr == f"error: data.path={tmp_path / 'nope.csv'}: no such file\n"
