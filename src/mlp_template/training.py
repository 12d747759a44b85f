"""One training run, from a composed config to a tested checkpoint: data, network, training loop, logs."""

import ctypes
import json
import os
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from mlp_template.data import InMemoryDataModule
from mlp_template.errors import UserError
from mlp_template.learning_rate import find_lr
from mlp_template.module import Classifier
from mlp_template.runs.checkpoints import AtomicCheckpointIO, best_checkpoint, read_checkpoint
from mlp_template.runs.config import validate
from mlp_template.runs.folders import (
    build_logger,
    checkpoint_file,
    discard_refused_run,
    own_folder_warnings_quiet,
    record_resumed_config,
    resumed_config,
)
from mlp_template.sweep import refuse_local_ddp_in_multirun


def plain(node: DictConfig | None) -> dict | None:
    """A resolved config group as plain containers: what a checkpoint may hold and still load weights-only."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def skip_futile_gpu_probe() -> None:
    """On a machine without NVIDIA's driver, stop torch from searching for it at every Adam step.

    Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 so that asking for a GPU never initialises CUDA; without the
    driver's NVML library each check first searches for it in vain. That costs more than 3 % of an MNIST epoch at
    batch 64 with Adam: ``python -m benchmarks.throughput --datasets mnist --batch-sizes 64`` (docs/speed.md).
    """
    try:
        ctypes.CDLL("libnvidia-ml.so.1")  # the library torch's check loads; no Python API asks for it
    except OSError:
        os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train on ``cfg.data``, test the best checkpoint, and return the final metrics (``{"lr": ...}`` with find_lr).

    With ``ckpt_path`` set, training resumes from that checkpoint, in its run's folder
    (src/mlp_template/runs/folders.py).
    """
    skip_futile_gpu_probe()
    cfg, resume_from = checked_config(cfg)  # every value, before any work; a resume gets its run's own config
    L.seed_everything(cfg.seed, workers=True)  # same seed, same initial weights, same shuffles, same curves
    datamodule: InMemoryDataModule = instantiate(cfg.data)  # 1. the examples
    module = Classifier(  # 2. the network, its loss and its optimizer
        input_size=datamodule.input_size,  # sizes come from the data, never typed twice
        num_classes=datamodule.num_classes,
        model=plain(cfg.model),
        optimizer=plain(cfg.optimizer),
        scheduler=plain(cfg.scheduler),
    )
    with own_folder_warnings_quiet(resuming=resume_from is not None):
        trainer = build_trainer(cfg, resume_from)  # 3. the loop, with its logger and callbacks
        if cfg.find_lr:  # the learning-rate range test instead of training: python train.py find_lr=true
            return find_lr(trainer, module, datamodule)
        # 4. train; weights_only: loading a checkpoint never runs code from it (tensors and plain values only).
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    return final_test(trainer, module, datamodule, cfg)


def checked_config(cfg: DictConfig) -> tuple[DictConfig, Path | None]:
    """The config this run uses, every value checked, and the checkpoint it resumes from (None: a new run).

    A resume (``ckpt_path=...``) takes its run's saved config plus this command line's keys. A refused config
    leaves no folder behind and the resumed run's record untouched.
    """
    try:
        used = resumed_config(cfg)
        validate(used)  # one line per mistake
    except UserError:
        discard_refused_run(cfg.output_dir)
        raise
    if used is not cfg:  # a resume in a run folder: its saved config, now checked, is what runs
        record_resumed_config(used)
    return used, checkpoint_file(used) if used.ckpt_path else None


def build_trainer(cfg: DictConfig, resume_from: Path | None) -> L.Trainer:
    """Lightning's loop with this run's logger (continuing a resumed run's curves) and callbacks."""
    callbacks = [instantiate(callback) for callback in (cfg.get("callbacks") or {}).values()]  # ~callbacks: none
    logger = build_logger(cfg, first_epoch(resume_from))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks, plugins=[AtomicCheckpointIO()])
    refuse_local_ddp_in_multirun(trainer)
    return trainer


def final_test(
    trainer: L.Trainer, module: L.LightningModule, datamodule: L.LightningDataModule, cfg: DictConfig
) -> dict[str, float]:
    """Test the best checkpoint on unseen data; log, save and print the final metrics."""
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items() if name != "step"}
    best = best_checkpoint(trainer)
    trainer.test(module, datamodule=datamodule, ckpt_path=best, verbose=False, weights_only=True)
    metrics |= {name: float(value) for name, value in trainer.callback_metrics.items() if name != "step"}
    log_hyperparams(trainer, cfg, metrics)
    report(trainer, metrics)
    return metrics


def first_epoch(checkpoint: Path | None) -> int | None:
    """The first epoch a run resumed from ``checkpoint`` logs (the epochs finished before it was saved); None: new."""
    if checkpoint is None:
        return None
    return read_checkpoint(checkpoint)["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]


def log_hyperparams(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float]) -> None:
    """Fill TensorBoard's HPARAMS tab: the knobs of this run beside its final metrics, to compare runs."""
    params = {
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "hidden_sizes": str(list(cfg.model.hidden_sizes)),
        "activation": cfg.model.activation,
        "optimizer": cfg.optimizer._target_.rsplit(".", 1)[-1],
        "scheduler": cfg.scheduler._target_.rsplit(".", 1)[-1] if cfg.scheduler else "none",
        "data": type(trainer.datamodule).__name__,
    }
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):  # "hp/" tags: apart from the per-epoch curves of the same metrics
            logger.log_hyperparams(params, {f"hp/{name}": value for name, value in metrics.items()})
        else:
            logger.log_hyperparams(params)
        logger.finalize("success")  # flush now: trainer.test already closed the writer this call reopened


def report(trainer: L.Trainer, metrics: dict[str, float]) -> None:
    """Tell the person at the terminal what came out and where to look."""
    run_dir = Path(trainer.log_dir or trainer.default_root_dir).resolve()  # every DDP rank: log_dir is a broadcast
    if not trainer.is_global_zero:
        return
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))  # what a sweep's summary table reads
    names = [name for name in ("test/acc", "val/acc", "train/loss") if name in metrics]  # resumed finished: test only
    print("\n" + "  ".join(f"{name} {metrics[name]:.4f}" for name in names))
    print(f"best checkpoint: {best_checkpoint(trainer) or 'none (checkpointing off): tested the last weights'}")
    print(f"logs and checkpoints: {run_dir}")
    print(f"see the curves: tensorboard --logdir {run_dir}")
