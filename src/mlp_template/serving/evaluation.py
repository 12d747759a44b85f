"""Metrics on unseen data, after the fact: a checkpoint tested on the test split of the run that trained it.

The run's saved config (``<run>/.hydra/config.yaml``) decides the data, its split and preprocessing, the batch
size and the trainer, so the numbers are the ones training reported for the same checkpoint, not today's defaults.
A data file that changed since (its preprocessing or sizes differ from the checkpoint's) is refused in one line.
"""

from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from mlp_template.data.datamodule import InMemoryDataModule
from mlp_template.module import Learner
from mlp_template.runs.checkpoints import AtomicCheckpointIO
from mlp_template.runs.config import validate
from mlp_template.runs.folders import build_logger
from mlp_template.runs.run import served_run
from mlp_template.serving.prediction import refuse_non_finite
from mlp_template.training import plain


def evaluate(ckpt_path: str) -> dict[str, float]:
    """Test ``ckpt_path`` (a file, ``last`` or ``best``); print and log its ``test/*`` metrics; return them."""
    run = served_run(ckpt_path)
    cfg, path = run.config, run.path
    validate(cfg)
    L.seed_everything(cfg.seed, workers=True)
    datamodule: InMemoryDataModule = instantiate(cfg.data)
    datamodule.read()
    run.check_data(datamodule.signature())  # today's file read the same way as the weights learned, or one line
    refuse_non_finite_tests(datamodule, cfg.trainer.get("precision"))
    module = Learner(run.data, plain(cfg.model), plain(cfg.optimizer), plain(cfg.scheduler))
    module.model = run.network(cfg.model)  # the checkpoint's weights, checked layer by layer: no training state
    trainer: L.Trainer = instantiate(cfg.trainer, logger=build_logger(eval_config(cfg, path), 0),
                                     enable_checkpointing=False, plugins=[AtomicCheckpointIO()])
    trainer.test(module, datamodule=datamodule, verbose=False)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("test/")}
    trainer.logger.log_metrics(metrics, step=0)  # one point per tag: its own run, beside the training run
    trainer.logger.finalize("success")
    print(f"\n{path}: " + "  ".join(f"{name} {value:.4f}" for name, value in metrics.items()))
    print(f"logged in: {Path(trainer.log_dir or '').resolve()}")
    return metrics


# The network's dtype under a trainer's precision: "-true" converts the weights and inputs, "-mixed" only computes
# in half precision inside (the inputs stay float32).
DTYPES = {"64-true": torch.float64, "64": torch.float64, 64: torch.float64, "16-true": torch.float16,
          "bf16-true": torch.bfloat16}


def refuse_non_finite_tests(datamodule: InMemoryDataModule, precision: str | int | None) -> None:
    """The test examples, as the network takes them, hold no NaN or infinity; else one line naming the first (for a
    table, its file row, counted from 1 under the header, and its column)."""
    x, data = datamodule.examples["test"][0], datamodule.signature()
    table = "numeric" in data  # a table's rows and columns have names; other inputs are counted
    rows = [str(int(row) + 1) for row in datamodule.rows["test"]] if table else [str(i) for i in range(len(x))]
    where = getattr(datamodule, "source", "the test split")  # a table names its file: data.path=...
    refuse_non_finite(x, DTYPES.get(precision, torch.float32), where, rows, data.get("numeric"))


def eval_config(cfg: DictConfig, path: Path) -> DictConfig:
    """The run's config writing its logs to ``<run>/eval/<checkpoint name>/``: beside the run, not into its curves."""
    cfg = cfg.copy()
    cfg.output_dir = str(Path(cfg.output_dir) / "eval" / path.stem)
    return cfg
