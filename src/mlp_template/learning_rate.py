"""The learning rate, gradient descent's step size (too high diverges, too low crawls): the lr each epoch uses,
and the range test that suggests one. The guard against a diverging run is in ``divergence.py``.
"""

import math
import shlex

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.tuner import Tuner
from torch import Tensor

from mlp_template.errors import UserError
from mlp_template.panels import Panel, log_scalars, tensorboard_command


class LearningRate(Panel):
    """The learning rate gradient descent uses, as ``lr`` once per epoch: the optimizer's lr at the epoch's first
    step (a schedule, if any, moves it between epochs).

    Hand-written rather than Lightning's ``LearningRateMonitor``, which names the tag after the optimizer
    (``lr-SGD``) and plots it against the step count, while every other panel here is per epoch.
    """

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        log_scalars(trainer, {"lr": current_lr(trainer)})


def current_lr(trainer: L.Trainer) -> float:
    """The learning rate of the optimizer's next step (of its first parameter group)."""
    return float(trainer.optimizers[0].param_groups[0]["lr"])


def find_lr(
    trainer: L.Trainer,
    module: L.LightningModule,
    datamodule: L.LightningDataModule,
    min_lr: float = 1e-6,
    max_lr: float = 10.0,
    steps: int = 100,
) -> dict[str, float]:
    """The learning-rate range test (Lightning's Tuner): ``steps`` gradient-descent steps, the lr growing from
    ``min_lr`` to ``max_lr`` by the same factor each step; writes the curve, prints the suggested lr and the command.

    The lr grows geometrically, so the step axis of ``lr_find/loss`` is a log-lr axis; ``lr_find/lr`` reads it.
    """
    finder = Tuner(trainer).lr_find(
        module, datamodule=datamodule, min_lr=min_lr, max_lr=max_lr, num_training=steps, update_attr=False
    )
    lrs, losses = torch.tensor(finder.results["lr"]), unbiased(torch.tensor(finder.results["loss"]))
    for logger in trainer.loggers:
        for step, (lr, loss) in enumerate(zip(lrs.tolist(), losses.tolist(), strict=True)):
            logger.log_metrics({"lr_find/lr": lr, "lr_find/loss": loss}, step=step)
        logger.finalize("success")
    if len(losses) < steps // 2:
        raise UserError(
            f"the learning-rate range test ran only {len(losses)} steps, too few to suggest an lr: give it more "
            f"training batches (no debug=fast or trainer.limit_train_batches below {steps})"
        )
    # A tenth of the lr where the loss was lowest (Smith's rule): the fastest lr still well below divergence.
    # Lightning's own suggestion, the steepest slope against the lr rather than its log, jumps between 0.013 and
    # 0.65 from one seed to the next on the digits; this rule gives ~0.09 for SGD, where lr=0.1 does best.
    # The first tenth of the curve is left out: there the moving average holds a few batches' losses, and on a small
    # noisy dataset (diabetes: 9 batches an epoch) one lucky batch can be the lowest point of the whole test.
    settled = len(losses) // 10
    lr = float(f"{lrs[settled + losses[settled:].nan_to_num(math.inf).argmin()].item() / 10:.2g}")
    if trainer.is_global_zero:
        print(f"\nlearning-rate range test: the loss was lowest at lr={10 * lr:g}; a tenth of it is lr={lr:g}")
        print(f"train with it: {train_command(lr)}")
        print(f"see the curve (lr_find/loss): {tensorboard_command(trainer.log_dir or trainer.default_root_dir)}")
    return {"lr": lr}


def unbiased(smoothed: Tensor, beta: float = 0.98) -> Tensor:
    """Lightning's smoothed losses with the start-up bias removed: its moving average is divided by
    ``1 - beta**(t + 1)`` instead of ``1 - beta**t``, which pulls the first points down (the first to half its
    value) and can put the curve's minimum there. If Lightning fixes it, this only raises those first points."""
    t = torch.arange(1, len(smoothed) + 1, dtype=smoothed.dtype)
    return smoothed * (1 - beta ** (t + 1)) / (1 - beta**t)


def train_command(lr: float) -> str:
    """The command line of this run with ``lr`` instead of the range test (the person's other overrides kept)."""
    typed = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    kept = [shlex.quote(o) for o in typed if not o.startswith(("find_lr=", "lr=", "+find_lr=", "++find_lr="))]
    return " ".join(["python train.py", *kept, f"lr={lr:g}"])
