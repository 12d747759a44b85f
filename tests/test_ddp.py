"""Lightning's DDP for real: two CPU processes (gloo), each on its own shard, metrics reduced across both."""

import json

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from mlp_template.module import Learner
from mlp_template.training import train
from tests.conftest import compose_config, read_scalars, run_train

# val_size=181: an odd validation set, which a padded shard would count one example twice in; 1,256 training
# images then split evenly, 628 per process.
DATA = ("epochs=2", "data.val_size=181")


def test_ddp_on_two_processes_shards_every_epoch_and_reduces_the_metrics(tmp_path) -> None:
    run_dir = tmp_path / "ddp"
    # batch_size is per process: 2 x 16 here is the same 32 examples per step as the single process below.
    result = run_train(run_dir, "trainer=ddp", "trainer.devices=2", "batch_size=16", *DATA,
                       "+callbacks.seen._target_=tests.seen_indices.SeenIndices")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting with 2 processes" in result.stdout + result.stderr

    # Each epoch, the two processes train on disjoint halves that together cover the training split once.
    seen = [torch.load(run_dir / f"seen_indices_rank{rank}.pt") for rank in (0, 1)]
    for rank0, rank1 in zip(*seen, strict=True):
        assert len(rank0) == len(rank1) == 628
        assert set(rank0).isdisjoint(rank1) and set(rank0) | set(rank1) == set(range(1256))
    assert seen[0][0] != seen[0][1]  # a new shuffle every epoch

    # Only rank 0 writes: one report, event files from one process, one set of checkpoints.
    assert result.stdout.count("best checkpoint:") == 1
    assert len({path.name.split(".")[-2] for path in run_dir.glob("events.out.tfevents.*")}) == 1  # writer's pid
    assert "last.ckpt" in {path.name for path in (run_dir / "checkpoints").iterdir()}

    # val/acc was reduced over the whole validation set, each image once: one process re-evaluating the same
    # weights gets the same number.
    ddp_val_acc = read_scalars(run_dir)["val/acc"][-1][1]
    module = Learner.load_from_checkpoint(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    data = instantiate(compose_config(tmp_path, "batch_size=16", *DATA).data)
    checker = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, use_distributed_sampler=False)
    [metrics] = checker.validate(module, datamodule=data, verbose=False)
    assert metrics["val/acc"] == pytest.approx(ddp_val_acc, abs=1e-6)

    # And it learns exactly what one process learns from batches of 32: each rank's batch k is every other
    # example of the same 32 (the sampler interleaves the shuffled order) and DDP averages the two gradients, so
    # every step is the same step, up to the order of float additions.
    ddp = json.loads((run_dir / "metrics.json").read_text())
    single = train(compose_config(tmp_path / "single", "batch_size=32", *DATA))
    assert ddp["test/acc"] > 0.75 and ddp == pytest.approx(single, abs=1e-3)


@pytest.mark.parametrize(("data", "metric"), [("data=diabetes", "val/r2"), ("data=names", "val/perplexity")])
def test_ddp_reduces_the_new_tasks_metrics_over_the_whole_validation_set(tmp_path, data: str, metric: str) -> None:
    """R² and perplexity are not means of per-shard values: each process's sums are reduced before the division,
    so the two processes' number is the one a single process computes for the same weights."""
    run_dir = tmp_path / "ddp"
    setting = (data, "epochs=1", "+trainer.limit_train_batches=10")
    result = run_train(run_dir, "trainer=ddp", "trainer.devices=2", *setting)
    assert result.returncode == 0, result.stderr[-3000:]
    module = Learner.load_from_checkpoint(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    datamodule = instantiate(compose_config(tmp_path, *setting).data)
    checker = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, use_distributed_sampler=False)
    [metrics] = checker.validate(module, datamodule=datamodule, verbose=False)
    assert metrics[metric] == pytest.approx(read_scalars(run_dir)[metric][-1][1], rel=1e-5)
