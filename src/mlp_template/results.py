"""What a run comes out with: its best weights tested on data they never saw; the metrics logged, saved and printed
beside what answers that ignore the inputs score."""

import json
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig

from mlp_template.data.datamodule import InMemoryDataModule
from mlp_template.panels import tensorboard_command
from mlp_template.panels.hparams import hyperparameters, write_tested
from mlp_template.runs.checkpoints import best_checkpoint
from mlp_template.runs.run import read_checkpoint


def final_test(
    trainer: L.Trainer, module: L.LightningModule, datamodule: InMemoryDataModule, cfg: DictConfig
) -> dict[str, float]:
    """Test the best checkpoint on unseen data; log, save and print the final metrics.

    ``val/*`` and ``test/*`` are the tested weights' (the best checkpoint's); ``train/loss`` and ``last_epoch/val/*``
    the last epoch's; ``baseline/val/loss`` what a model that ignores its inputs scores, when the data defines one.
    """
    last = {name: float(value) for name, value in trainer.callback_metrics.items() if name != "step"}
    metrics = {name: value for name, value in last.items() if name.startswith("train/")}
    metrics |= {f"last_epoch/{name}": value for name, value in last.items() if name.startswith("val/")}
    best = best_checkpoint(trainer)
    saved = read_checkpoint(Path(best)) if best else None  # read once: its weights and its validation metrics
    if saved:
        module.load_state_dict(saved["state_dict"])  # test the best weights (without a checkpoint: the last ones)
    metrics |= saved["validation"] if saved else {name: v for name, v in last.items() if name.startswith("val/")}
    trainer.test(module, datamodule=datamodule, verbose=False)
    metrics |= {name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("test/")}
    if (baseline := datamodule.baseline()) is not None:
        metrics["baseline/val/loss"] = baseline
    metrics |= module.task.always_scores(datamodule.examples["train"][1], datamodule.examples["test"][1])
    log_hyperparams(trainer, cfg, metrics, epoch=saved["epoch"] if saved else max(trainer.current_epoch - 1, 0))
    report(trainer, metrics, test_rows=len(datamodule.examples["test"][1]))
    return metrics


def log_hyperparams(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float], epoch: int) -> None:
    """Fill TensorBoard's HPARAMS tab (panels/hparams.py: the knobs beside the metrics of the tested weights, from
    ``epoch``); other loggers get the knobs (CSVLogger: hparams.yaml)."""
    params = hyperparameters(cfg)
    tested = {name: value for name, value in metrics.items() if name.startswith(("val/", "test/"))}
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            if trainer.is_global_zero:
                write_tested(Path(logger.log_dir), params, tested, epoch)
        else:
            logger.log_hyperparams(params)
            logger.finalize("success")  # flush now: trainer.test already closed the writer this call reopened


def report(trainer: L.Trainer, metrics: dict[str, float], test_rows: int) -> None:
    """Tell the person at the terminal what came out, beside what answers that ignore the inputs score, and where to
    look."""
    run_dir = Path(trainer.log_dir or trainer.default_root_dir).resolve()  # every DDP rank: log_dir is a broadcast
    if not trainer.is_global_zero:
        return
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))  # what a sweep's summary table reads
    tested = [name for name in metrics if name.startswith(("test/", "val/"))]
    print("\nthe tested weights: " + "  ".join(f"{name} {metrics[name]:.4f}" for name in sorted(tested)))
    last = [name for name in metrics if name.startswith(("train/", "last_epoch/"))]  # none: a resume had no epoch left
    if last:
        print("the last epoch: " + "  ".join(f"{n.removeprefix('last_epoch/')} {metrics[n]:.4f}" for n in last))
    if "baseline/val/loss" in metrics:
        print(f"baseline (ignores the inputs): val/loss {metrics['baseline/val/loss']:.4f}")
    if always := [name for name in metrics if name.startswith("always/")]:
        print(f"{trainer.lightning_module.task.always} (ignores the inputs): "
              + "  ".join(f"{name.removeprefix('always/')} {metrics[name]:.4f}" for name in always))
    if test_rows < 30:
        print(f"the test figures come from {test_rows} examples only: read them as rough")
    print(f"best checkpoint: {best_checkpoint(trainer) or 'none (checkpointing off): tested the last weights'}")
    print(f"logs and checkpoints: {run_dir}")
    print(f"see the curves: {tensorboard_command(run_dir)}")
