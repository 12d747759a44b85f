"""One training run, from a composed config to a tested checkpoint: data, network, training loop, logs."""

import ctypes
import os
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from mlp_template.data import InMemoryDataModule
from mlp_template.module import Classifier


def plain(node: DictConfig | None) -> dict | None:
    """A resolved config group as plain containers: what a checkpoint may hold and still load weights-only."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def skip_futile_gpu_probe() -> None:
    """Stop torch from looking for the NVIDIA driver library at every Adam step on a machine that has none.

    Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 so that asking for a GPU never initialises CUDA. Without the
    driver's NVML library, each such check searches for it, fails, and asks the CUDA runtime anyway: same answer,
    plus 0.05-0.2 ms per optimizer step for a CUDA build of torch on a CPU-only machine.
    """
    try:
        ctypes.CDLL("libnvidia-ml.so.1")  # the library torch's check loads
    except OSError:
        os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train on ``cfg.data``, test the best checkpoint, and return the final metrics."""
    skip_futile_gpu_probe()
    L.seed_everything(cfg.seed, workers=True)  # same seed, same initial weights, same shuffles, same curves
    datamodule: InMemoryDataModule = instantiate(cfg.data)
    module = Classifier(
        input_size=datamodule.input_size,  # sizes come from the data, never typed twice
        num_classes=datamodule.num_classes,
        model=plain(cfg.model),
        optimizer=plain(cfg.optimizer),
        scheduler=plain(cfg.scheduler),
    )
    callbacks = [instantiate(callback) for callback in cfg.callbacks.values()]
    trainer: L.Trainer = instantiate(cfg.trainer, logger=instantiate(cfg.logger), callbacks=callbacks)
    trainer.fit(module, datamodule=datamodule)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items() if name != "step"}
    trainer.test(module, datamodule=datamodule, ckpt_path="best", verbose=False)
    metrics |= {name: float(value) for name, value in trainer.callback_metrics.items() if name != "step"}
    log_hyperparams(trainer, cfg, metrics)
    report(trainer, metrics)
    return metrics


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
    if not trainer.is_global_zero:
        return
    run_dir = Path(trainer.log_dir or trainer.default_root_dir).resolve()
    print("\n" + "  ".join(f"{name} {metrics[name]:.4f}" for name in ("test/acc", "val/acc", "train/loss")))
    print(f"best checkpoint: {trainer.checkpoint_callback.best_model_path}")
    print(f"logs and checkpoints: {run_dir}")
    print(f"see the curves: tensorboard --logdir {run_dir}")
