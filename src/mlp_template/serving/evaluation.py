"""Metrics on unseen data, after the fact: a checkpoint tested on the test split of the run that trained it.

The run's saved config (``<run>/.hydra/config.yaml``) decides the data, its split and preprocessing, the batch
size and the trainer, so the numbers are the ones training reported for the same checkpoint, not today's defaults.
A data file that changed since (its preprocessing or sizes differ from the checkpoint's) is refused in one line.
"""

import warnings
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from mlp_template.data import InMemoryDataModule
from mlp_template.module import Learner
from mlp_template.runs.checkpoints import AtomicCheckpointIO, read_checkpoint
from mlp_template.runs.config import check_same_data, checkpoint_config
from mlp_template.runs.folders import build_logger
from mlp_template.training import plain


def evaluate(ckpt_path: str) -> dict[str, float]:
    """Test ``ckpt_path`` (a file, or ``last``); print and log its ``test/*`` metrics; return them."""
    cfg = checkpoint_config(ckpt_path, data_files=True)
    path = Path(cfg.ckpt_path)
    L.seed_everything(cfg.seed, workers=True)
    datamodule: InMemoryDataModule = instantiate(cfg.data)
    datamodule.read()
    saved = read_checkpoint(path)["hyper_parameters"]["data"]  # the split and preprocessing the weights learned
    check_same_data(path, saved, datamodule.signature())  # today's file read the same way, or a one-line error
    module = Learner(saved, plain(cfg.model), plain(cfg.optimizer), plain(cfg.scheduler))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=build_logger(eval_config(cfg, path), 0),
                                     enable_checkpointing=False, plugins=[AtomicCheckpointIO()])
    with warnings.catch_warnings():  # a test restores the weights alone: the training callbacks' state is not needed
        warnings.filterwarnings("ignore", "Be aware that when using `ckpt_path`, callbacks used to create")
        trainer.test(module, datamodule=datamodule, ckpt_path=path, verbose=False, weights_only=True)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("test/")}
    trainer.logger.log_metrics(metrics, step=0)  # one point per tag: its own run, beside the training run
    trainer.logger.finalize("success")
    print(f"\n{path}: " + "  ".join(f"{name} {value:.4f}" for name, value in metrics.items()))
    print(f"logged in: {Path(trainer.log_dir or '').resolve()}")
    return metrics


def eval_config(cfg: DictConfig, path: Path) -> DictConfig:
    """The run's config writing its logs to ``<run>/eval/<checkpoint name>/``: beside the run, not into its curves."""
    cfg = cfg.copy()
    cfg.output_dir = str(Path(cfg.output_dir) / "eval" / path.stem)
    return cfg
