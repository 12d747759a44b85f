"""Checkpoints on disk: atomic writes, refused code, clear errors for every unusable file, one folder per run."""

import multiprocessing
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import mlp_template.runs.checkpoints
from mlp_template.errors import UserError
from mlp_template.module import Learner
from mlp_template.runs.checkpoints import AtomicCheckpointIO
from mlp_template.runs.config import ConfigError
from mlp_template.runs.folders import new_folder, resumed_config
from mlp_template.runs.run import CheckpointError, Run, read_checkpoint
from mlp_template.training import checked_run, train
from tests.conftest import DIGITS, ROOT, compose_config


class RunsCode:
    """Unpickling this calls ``os.system``: what a malicious "checkpoint" does to whoever loads it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def run_config(run_dir: Path, *overrides: str) -> DictConfig:
    """The trained run's config, as train.py would compose it to resume it."""
    return compose_config(run_dir, "batch_size=16", "model.hidden_sizes=[32,16]", "model.batch_norm=true",
                          "model.dropout=0.1", "data.test_size=300", *overrides)


def test_a_crash_while_saving_leaves_the_previous_checkpoint_intact(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.arange(1000.0)}}, path)
    good = path.read_bytes()

    def crash_halfway(obj: object, file) -> None:  # the disk fills up, or the process dies, mid-write
        file.write(good[: len(good) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mlp_template.runs.checkpoints.torch, "save", crash_halfway)
    with pytest.raises(CheckpointError, match=r"^the disk is full: saving .*last.ckpt failed and left no partial file"
                                              r"\. Kept: the previous last.ckpt, whole"):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(1000)}}, path)
    assert path.read_bytes() == good  # the old last.ckpt, whole
    assert torch.equal(read_checkpoint(path)["state_dict"]["w"], torch.arange(1000.0))
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # no temporary file left behind
    # The same crash writing in place (what a plain torch.save(path) does) leaves a truncated file: refused clearly.
    with open(path, "wb") as file, pytest.raises(OSError):
        crash_halfway(None, file)
    with pytest.raises(CheckpointError, match=r"last.ckpt: truncated or damaged"):
        read_checkpoint(path)


def test_a_really_full_disk_gets_one_line_and_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        io = AtomicCheckpointIO()
        io.save_checkpoint({"state_dict": {"w": torch.arange(1000.0)}}, disk / "last.ckpt")
        with pytest.raises(CheckpointError, match=r"the disk is full: .* Kept: the previous last.ckpt, whole, and the "
                                                  r"logs so far\. Free some space, then resume: python train.py "
                                                  r"ckpt_path=.*/disk/last.ckpt$"):
            io.save_checkpoint({"state_dict": {"w": torch.zeros(100_000)}}, disk / "last.ckpt")  # 400 KB
        assert torch.equal(read_checkpoint(disk / "last.ckpt")["state_dict"]["w"], torch.arange(1000.0))
        assert [p.name for p in disk.iterdir()] == ["last.ckpt"]
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_training_saves_through_the_atomic_writer(tmp_path: Path, monkeypatch) -> None:
    saved = []
    save = AtomicCheckpointIO.save_checkpoint

    def spy(self: AtomicCheckpointIO, checkpoint: dict, path: Path, storage_options: object = None) -> None:
        saved.append(Path(path).name)
        save(self, checkpoint, path, storage_options)

    monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", spy)
    train(compose_config(tmp_path, "debug=fast"))
    assert set(saved) == {"epoch000.ckpt", "last.ckpt"}


@pytest.mark.parametrize("container", ["zip", "pickle"])  # torch.save's format; a bare pickle (old torch format)
def test_a_checkpoint_that_would_run_code_is_refused_and_the_code_never_runs(tmp_path: Path, container: str) -> None:
    marker, evil = tmp_path / "code_ran", tmp_path / "evil.ckpt"
    payload = {"state_dict": {}, "hyper_parameters": RunsCode(marker)}
    if container == "zip":
        torch.save(payload, evil)  # torch's own format, pickled objects inside
    else:
        evil.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(CheckpointError, match=r"evil.ckpt: refused: loading it would call posix.system"):
        read_checkpoint(evil)
    # Lightning's own loading, as train.py calls it to resume, refuses too (weights_only=True).
    module = Learner(DIGITS, {"hidden_sizes": [32, 16], "batch_norm": True}, {"_target_": "torch.optim.SGD",
                                                                                   "lr": 0.1})
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, max_epochs=1,
                        default_root_dir=tmp_path)
    with pytest.raises(pickle.UnpicklingError, match=r"posix\.system"):
        trainer.fit(module, torch.utils.data.DataLoader([]), ckpt_path=evil, weights_only=True)
    assert not marker.exists()


def test_eval_py_refuses_it_in_one_line(tmp_path: Path) -> None:
    marker, evil = tmp_path / "code_ran", tmp_path / "checkpoints" / "evil.ckpt"
    evil.parent.mkdir()
    torch.save({"state_dict": RunsCode(marker)}, evil)
    result = subprocess.run([sys.executable, "eval.py", f"ckpt_path={evil}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: ckpt_path={evil}: refused: loading it would call "
                                                  "posix.system; this template's checkpoints hold only tensors and "
                                                  "plain values, so the file was not written by it (load only "
                                                  "files you trust)"]
    assert not marker.exists()


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: None, r"x.ckpt: no such file"),
    (lambda p: p.mkdir(), r"x.ckpt: is a directory, not a checkpoint file"),
    (lambda p: p.write_text("epoch: 3\n"), r"x.ckpt: not a checkpoint \(\*.ckpt\)"),
    (lambda p: p.write_bytes(b""), r"x.ckpt: not a checkpoint \(\*.ckpt\)"),
    (lambda p: torch.save(torch.ones(3), p), r"x.ckpt: not a checkpoint of this template \(it holds no state_dict"),
    (lambda p: p.write_bytes(pickle.dumps({"state_dict": {}})), r"x.ckpt: refused: not a checkpoint of this template "
                                                                 r"\(the safe loader stopped at: Unsupported operand"),
])
def test_unusable_files_are_named_in_one_line(tmp_path: Path, make, message: str) -> None:
    make(tmp_path / "x.ckpt")
    with pytest.raises(CheckpointError, match=message) as error:
        read_checkpoint(tmp_path / "x.ckpt")
    assert "\n" not in str(error.value)


def test_a_truncated_checkpoint_is_refused_before_any_work(tmp_path: Path, trained_run) -> None:
    run_dir, _ = trained_run
    good = (run_dir / "checkpoints" / "last.ckpt").read_bytes()
    (tmp_path / "checkpoints").mkdir()
    truncated = tmp_path / "checkpoints" / "last.ckpt"
    truncated.write_bytes(good[: len(good) * 2 // 3])
    with pytest.raises(CheckpointError, match=r"last.ckpt: truncated or damaged"):
        checked_run(run_config(tmp_path, f"ckpt_path={truncated}"))


NETWORK = ("batch_size=16", "model.hidden_sizes=[32,16]", "model.batch_norm=true", "model.dropout=0.1")


@pytest.mark.parametrize(("overrides", "message"), [
    (["model.hidden_sizes=[64,16]"], r"another network: layers.hidden1.linear.weight is \(32, 64\) in the "
                                     r"checkpoint, \(64, 64\) in this config's network"),
    (["model.hidden_sizes=[32]"], r"layers.output.weight is \(10, 16\) in the checkpoint, \(10, 32\)"),
    (["model.batch_norm=false"], r"it has layers.hidden1.norm.weight, which this config's network has not"),
])
def test_a_checkpoint_of_another_network_names_the_layer(trained_run, overrides: list[str], message: str) -> None:
    run_dir, _ = trained_run
    cfg = compose_config(run_dir, *NETWORK, f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", *overrides)
    with pytest.raises(CheckpointError, match=message):
        checked_run(cfg)


@pytest.mark.parametrize(("overrides", "message"), [
    (["data=mnist"], r"input_shape is \[1, 8, 8\] in the checkpoint, \[1, 28, 28\] for this config's data"),
    (["data=diabetes"], "task is classification in the checkpoint, regression for this config's data"),
])
def test_a_checkpoint_of_other_data_is_refused_once_the_data_is_read(trained_run, idx_root, overrides, message) -> None:
    run_dir, _ = trained_run
    cfg = compose_config(run_dir, *NETWORK, f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", *overrides,
                         f"data.root={idx_root}" if "data=mnist" in overrides else "seed=0")
    with pytest.raises(ConfigError, match=message):
        checked_run(cfg)
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()  # the run it named is left as it was


def test_a_weights_only_checkpoint_cannot_be_resumed(tmp_path: Path, trained_run) -> None:
    run_dir, _ = trained_run
    full = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    weights = tmp_path / "weights.ckpt"
    torch.save({key: full[key] for key in ("state_dict", "hyper_parameters", "epoch", "global_step")}, weights)
    with pytest.raises(CheckpointError, match="holds weights only, no training state to resume"):
        checked_run(run_config(tmp_path, f"ckpt_path={weights}"))
    assert Run.read(weights).network({"hidden_sizes": [32, 16], "batch_norm": True, "dropout": 0.1})  # evaluable


def test_ckpt_path_last_without_a_run_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"ckpt_path=last: no run under logs/runs has a checkpoints/last\.ckpt"):
        checked_run(compose_config(tmp_path, "ckpt_path=last"))
    with pytest.raises(UserError, match=r"ckpt_path= is empty: give a checkpoint file, or last"):
        checked_run(compose_config(tmp_path, "ckpt_path="))


def test_a_resume_takes_the_runs_saved_config_and_refuses_new_groups(trained_run, tmp_path: Path) -> None:
    run_dir, _ = trained_run
    shutil.copytree(run_dir, tmp_path / "run")
    ckpt = f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}"
    (tmp_path / "run" / ".hydra" / "hydra.yaml").write_text("hydra:\n  runtime:\n    choices:\n      optimizer: sgd\n")
    for overrides, expected in (([ckpt, "epochs=5", "optimizer=sgd"], 5),  # the run's own choice, typed again
                                ([ckpt, "optimizer=adam"], r"optimizer=adam: a resumed run keeps its config groups "
                                                           r"\(optimizer=sgd\)")):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose("train", overrides=[f"output_dir={tmp_path / 'run'}", "hydra.output_subdir=null",
                                              *overrides], return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)  # as under `python train.py ckpt_path=... epochs=5`
        try:
            if isinstance(expected, str):
                with pytest.raises(UserError, match=expected):
                    resumed_config(cfg, Run.read(tmp_path / "run" / "checkpoints" / "last.ckpt"))
            else:
                resumed = resumed_config(cfg, Run.read(tmp_path / "run" / "checkpoints" / "last.ckpt"))
                # The run's batch size and network, not today's defaults (32, [128, 64]); the typed epochs.
                assert (resumed.batch_size, list(resumed.model.hidden_sizes), resumed.epochs) == (16, [32, 16], 5)
        finally:
            HydraConfig.instance().cfg = None


def claim(path: str) -> str:
    return new_folder(Path(path))


def test_runs_started_at_the_same_moment_get_their_own_folders(tmp_path: Path, monkeypatch) -> None:
    same_name = str(tmp_path / "runs" / "2030-01-01_00-00-00_000000")  # one clock reading for every process
    with multiprocessing.get_context("fork").Pool(4, maxtasksperchild=1) as pool:  # four processes, one run each
        folders = pool.map(claim, [same_name] * 4, chunksize=1)
    assert len(set(folders)) == 4 and all(Path(f).is_dir() for f in folders)
    assert claim(same_name) == claim(same_name)  # Hydra resolving the name twice in one process: one folder
    # Through Hydra's config, as train.py resolves hydra.run.dir: a new folder every time, under logs/runs.
    monkeypatch.chdir(tmp_path)
    dirs = []
    for _ in range(2):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            dirs.append(compose("train", return_hydra_config=True).hydra.run.dir)
    assert dirs[0] != dirs[1] and all((tmp_path / d).is_dir() and d.startswith("logs/runs/") for d in dirs)
