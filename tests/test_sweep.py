"""Many runs: multirun folders named by their overrides and ranked at the end, a resumable Optuna search,
launchers (joblib here, SLURM up to the submission), and the metric a sweeper optimises."""

import csv
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import lightning as L
import pytest
import submitit
from hydra import compose, initialize_config_dir
from hydra._internal.callbacks import Callbacks
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.plugins import Plugins
from hydra.types import HydraContext
from tensorboard import program

from mlp_template.errors import UserError
from mlp_template.sweep import refuse_local_ddp_in_multirun
from tests.conftest import ROOT, compose_config, read_scalars
from train import main


def multirun(sweep_dir: Path, *overrides: str) -> list[str]:
    """The command line of ``python train.py -m OVERRIDES`` writing its multirun folder at ``sweep_dir``."""
    return [sys.executable, "train.py", "-m", f"hydra.sweep.dir={sweep_dir}", *overrides]


def test_multirun_names_each_run_by_its_overrides_and_ranks_them(tmp_path) -> None:
    # joblib: the two jobs run side by side in worker processes, and still end in one summary.
    command = multirun(tmp_path, "lr=0.02,0.2", "debug=fast", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    runs = {name: tmp_path / name for name in ("lr=0.02", "lr=0.2")}  # named by what differs: debug=fast is shared
    assert {path.name for path in tmp_path.iterdir() if path.is_dir()} == set(runs)
    writers = {event.name.split(".")[-2] for path in runs.values() for event in path.glob("events.out.tfevents.*")}
    assert writers and str(process.pid) not in writers  # event files carry their writer's pid: joblib workers'

    with open(tmp_path / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["run"] for row in rows] == sorted(runs, key=lambda name: -read_scalars(runs[name])["val/acc"][0][1])
    for rank, row in enumerate(rows, start=1):
        metrics = json.loads((runs[row["run"]] / "metrics.json").read_text())
        assert int(row["rank"]) == rank and float(row["val/acc"]) == metrics["val/acc"]
        assert float(row["test/acc"]) == read_scalars(runs[row["run"]] / "tested")["test/acc"][0][1]  # HPARAMS
        assert set(row["overrides"].split()) == {"debug=fast", row["run"]}
    printed = stdout.split("sweep summary, best val/acc first")[1].splitlines()
    assert [line.split()[-1] for line in printed[2:4]] == [row["run"] for row in rows]
    assert f"see the curves: tensorboard --logdir {tmp_path} --host 127.0.0.1 --samples_per_plugin" in stdout
    # What TensorBoard's HPARAMS tab loads from the folder the sweep names: the hyperparameters (it ticks the first
    # five), lr first as the one that differs (a diverged job's status would too), and the tested weights' metrics;
    # one row per job, named by its overrides.
    board = program.TensorBoard()
    board.configure(argv=[None, "--logdir", str(tmp_path), "--port", "0"])
    experiment = hparams_request(board.launch(), "experiment", {"experimentName": "", "includeMetrics": True})
    assert [(info["name"], info["differs"]) for info in experiment["hparamInfos"]] == [
        ("lr", True), ("batch_size", False), ("data", False), ("epochs", False), ("hidden_sizes", False),
        ("optimizer", False), ("status", False)]
    assert [metric["name"]["tag"] for metric in experiment["metricInfos"]] == ["test/acc", "test/loss", "val/acc",
                                                                              "val/loss"]


def test_a_csv_sweep_ranks_by_its_tasks_metric_and_names_jobs_by_what_differs(tmp_path) -> None:
    """data=csv leaves the objective to the task its target decides: classes here, so val/acc, highest first. A
    shared override typed with a space (``[8, 4]``) is still shared: it names no job."""
    table = tmp_path / "table.csv"
    # sizes 0, 2, 4...: sizes 0..59 would be the row numbers, which are left out (no input would be left)
    table.write_text("size,colour\n" + "".join(f"{i * 2},{'red' if i % 3 else 'blue'}\n" for i in range(60)))
    command = multirun(tmp_path / "sweep", "data=csv", f"data.path={table}", "data.target=colour", "lr=0.02,0.2",
                       "model.hidden_sizes=[8, 4]", "debug=fast")
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sweep summary, best val/acc first (maximize)" in result.stdout
    with open(tmp_path / "sweep" / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["run"] for row in rows) == ["lr=0.02", "lr=0.2"]
    accuracies = [float(row["val/acc"]) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True) and "val/r2" not in rows[0]


def test_sweeping_what_decides_the_task_needs_an_objective_and_each_path_names_its_job(tmp_path) -> None:
    """Jobs whose data differs could differ in task, and so in the metric that ranks them: unless the command line
    gives the objective the sweep is refused in one line before any job. Given one, each job's folder is named by
    its whole path, as one folder name: two files called the same in two folders are two jobs."""
    content = "size,colour\n" + "".join(f"{i * 2},{'red' if i % 3 else 'blue'}\n" for i in range(60))
    tables = [tmp_path / "a" / "data.csv", tmp_path / "b" / "data.csv"]
    for table in tables:
        table.parent.mkdir()
        table.write_text(content)
    swept = ["data=csv", f"data.path={tables[0]},{tables[1]}", "data.target=colour", "debug=fast"]
    for sweep in (swept, ["data=digits,diabetes", "debug=fast"]):
        refused = subprocess.run(multirun(tmp_path / "refused", *sweep), cwd=ROOT, capture_output=True, text=True,
                                 timeout=300)
        key = sweep[1].split("=")[0] if sweep is swept else "data"
        assert refused.returncode == 1 and refused.stderr == (
            f"error: {key} is swept: its jobs can differ in task, and so in the metric that ranks them; give both, "
            "e.g. optimized_metric=val/loss optimized_direction=minimize\n")
        assert not (tmp_path / "refused").exists()
    ranked = [*swept, "optimized_metric=val/acc", "optimized_direction=maximize"]
    result = subprocess.run(multirun(tmp_path / "sweep", *ranked), cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    folders = sorted(path.name for path in (tmp_path / "sweep").iterdir() if path.is_dir())
    assert len(folders) == 2 and folders[0].endswith("_a_data.csv") and folders[1].endswith("_b_data.csv")
    assert all(folder.startswith("data.path=") and "/" not in folder for folder in folders)


def hparams_request(url: str, what: str, body: dict) -> dict:
    """A request to TensorBoard's hparams plugin, as its HPARAMS tab sends it."""
    request = urllib.request.Request(f"{url}data/plugin/hparams/{what}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_train_py_returns_the_optimized_metric(tmp_path) -> None:
    value = main(compose_config(tmp_path, "debug=fast", "optimized_metric=val/loss", "optimized_direction=minimize"))
    assert value == json.loads((tmp_path / "metrics.json").read_text())["val/loss"]
    with pytest.raises(SystemExit, match="optimized_direction=best: must be maximize, minimize, or null"):
        main(compose_config(tmp_path, "optimized_direction=best"))
    with pytest.raises(SystemExit, match=r"optimized_metric=val/accuracy: a classification run reports train/loss, "
                                         r"val/loss, test/loss, val/acc, test/acc; e.g. optimized_metric=val/acc"):
        main(compose_config(tmp_path / "typo", "debug=fast", "optimized_metric=val/accuracy"))
    assert not (tmp_path / "typo").exists()  # refused before any work: nothing trained, nothing written


def test_slurm_launcher_asks_for_one_task_per_ddp_process(tmp_path, monkeypatch) -> None:
    """No cluster here: run the plugin's launch() up to the submission and read the sbatch script it would send."""
    fake_srun = tmp_path / "bin" / "srun"  # submitit only checks that srun exists
    fake_srun.parent.mkdir()
    fake_srun.write_text("#!/bin/sh\n")
    fake_srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_srun.parent}{os.pathsep}{os.environ['PATH']}")
    submitted: list[submitit.AutoExecutor] = []
    monkeypatch.setattr(submitit.AutoExecutor, "map_array", lambda executor, *args: submitted.append(executor) or [])
    overrides = ["hydra/launcher=slurm", "trainer=ddp_gpu", "trainer.devices=4", "trainer.num_nodes=2",
                 "hydra.launcher.partition=gpu", f"hydra.sweep.dir={tmp_path}"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=Callbacks())
        launcher = Plugins.instance().instantiate_launcher(hydra_context=context, task_function=main, config=cfg)
        launcher.launch([["lr=0.01"]], initial_job_idx=0)
    [executor] = submitted
    # submitit's own (private) rendering of the sbatch file it would submit for these parameters.
    sbatch = executor._executor._make_submission_file_text("python -u -m submitit.core._submit", "0")
    for line in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--partition=gpu", "--cpus-per-task=4"):
        assert f"#SBATCH {line}\n" in sbatch


def test_ddp_jobs_in_a_local_multirun_are_refused_before_training() -> None:
    ddp = L.Trainer(strategy="ddp", accelerator="cpu", devices=2, logger=False)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        HydraConfig.instance().set_config(compose("train", ["hydra.mode=MULTIRUN"], return_hydra_config=True))
        try:
            with pytest.raises(UserError, match="Lightning would re-run the whole sweep in every rank"):
                refuse_local_ddp_in_multirun(ddp)
            refuse_local_ddp_in_multirun(L.Trainer(accelerator="cpu", devices=1, logger=False))  # one process: fine
        finally:
            HydraConfig.instance().cfg = None


def test_a_diverged_run_is_a_result_in_hparams_and_the_sweep_summary(tmp_path) -> None:
    """lr 0.1 in epoch 0, then 1000: the run learns, then diverges in epoch 1; beside it a run that finishes."""
    from omegaconf import OmegaConf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from mlp_template.panels.divergence import DivergenceError
    from mlp_template.sweep import SweepSummary
    from mlp_template.training import train

    jobs = {"diverges": ["scheduler=step", "scheduler.step_size=1", "scheduler.gamma=10000"],
            "finishes": ["scheduler=step", "scheduler.step_size=1", "scheduler.gamma=1"]}
    for name, overrides in jobs.items():
        (tmp_path / name / ".hydra").mkdir(parents=True)
        OmegaConf.save(overrides, tmp_path / name / ".hydra" / "overrides.yaml")
        cfg = compose_config(tmp_path / name, "debug=fast", "epochs=3", "trainer.limit_train_batches=10", *overrides)
        if name == "diverges":
            with pytest.raises(DivergenceError):
                train(cfg)
        else:
            train(cfg)
    diverged = tmp_path / "diverges"
    events = EventAccumulator(str(diverged / "tested"))
    events.Reload()
    start = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info.hparams
    assert hparams["status"].string_value == "diverged at epoch 1" and hparams["data"].string_value == "digits"
    curves = read_scalars(diverged / "validation")
    assert [step for step, _ in curves["1_loss"]] == [0]  # the curves stop where it diverged
    assert read_scalars(diverged / "tested")["val/acc"] == curves["2_acc"]  # its last finite metrics, in HPARAMS

    SweepSummary("val/acc", "maximize").on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    with open(tmp_path / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(row["rank"], row["run"], row["status"]) for row in rows] == [
        ("1", "finishes", "finished"), ("", "diverges", "diverged at epoch 1")]
    assert float(rows[1]["val/acc"]) == pytest.approx(curves["2_acc"][0][1])
