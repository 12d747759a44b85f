"""When the learning rate is too high, gradient descent overshoots and the loss explodes: a guard that stops such
a run at once, says where, with which lr, and what to try instead.
"""

import json
import math
from pathlib import Path
from typing import NamedTuple

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.types import STEP_OUTPUT
from omegaconf import DictConfig
from torch import Tensor

from mlp_template.errors import UserError
from mlp_template.learning_rate import current_lr
from mlp_template.panels import Panel
from mlp_template.panels.hparams import hyperparameters, write_tested
from mlp_template.runs.checkpoints import best_checkpoint


class DivergenceError(UserError):
    """The training loss became NaN/inf or rose far above where it started: usually a learning rate too high."""

    def __init__(self, message: str, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch  # the epoch whose steps diverged; the epochs before it finished


def record_divergence(trainer: L.Trainer, cfg: DictConfig, error: DivergenceError) -> None:
    """A diverged run is a result too: its status and its last finite metrics (the epoch before it diverged) go to
    HPARAMS and to ``metrics.json``, which the sweep summary lists. Its curves end at that epoch."""
    if not trainer.is_global_zero:
        return
    status = f"diverged at epoch {error.epoch}"
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()
               if name.startswith(("train/", "val/")) and math.isfinite(value)}
    run_dir = Path(trainer.log_dir or trainer.default_root_dir)
    if any(isinstance(logger, TensorBoardLogger) for logger in trainer.loggers):
        tested = {name: value for name, value in metrics.items() if name.startswith("val/")}
        write_tested(run_dir, hyperparameters(cfg), tested, max(error.epoch - 1, 0), status)
    (run_dir / "metrics.json").write_text(json.dumps({"status": status, **metrics}, indent=2))


class Step(NamedTuple):
    number: int  # optimizer steps so far, this one included
    epoch: int
    lr: float  # the learning rate this step used
    loss: Tensor  # on the device until checked


class DivergenceGuard(Panel):
    """Stops training at once when the loss diverges, with a one-line reason; what was saved so far stays.

    Diverged: a step's loss is NaN or infinite, or its running mean (``smoothing`` 0.98: about the last 50 steps)
    exceeds ``factor`` times the first step's loss, the loss of the untrained network, which no learning rate has
    touched yet. The losses are read from the device every ``check_every_n_steps`` steps and before every
    validation, so no diverged weights are ever checkpointed and no step waits for the device; the message still
    names the exact step. ``train.py`` prints it and exits 1.
    """

    def __init__(self, factor: float = 10.0, smoothing: float = 0.98, check_every_n_steps: int = 10) -> None:
        self.factor, self.smoothing, self.check_every_n_steps = factor, smoothing, check_every_n_steps
        self.start: float | None = None  # the first step's loss; kept in checkpoints, so a resumed run keeps it
        self.mean = math.nan
        self.pending: list[Step] = []
        self.lr = math.nan  # what the next step uses

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.lr = current_lr(trainer)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: STEP_OUTPUT,
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs  # a dict in automatic optimization
        if loss is not None:
            self.pending.append(Step(trainer.global_step, trainer.current_epoch, self.lr, loss.detach()))
        # Lightning steps a per-step schedule before this hook: the lr now is the next step's. Read here, not in
        # on_train_batch_start, which would cost a second hook call per batch.
        self.lr = current_lr(trainer)
        if len(self.pending) >= self.check_every_n_steps:
            self.check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def check(self, trainer: L.Trainer) -> None:
        """Raise DivergenceError if a pending step diverged (on any process)."""
        if not self.pending:
            return
        losses = torch.stack([step.loss for step in self.pending]).tolist()  # one host sync for them all
        diverged = None
        for step, loss in zip(self.pending, losses, strict=True):
            if self.start is None:
                self.start = self.mean = loss
            self.mean = self.smoothing * self.mean + (1 - self.smoothing) * loss
            if not math.isfinite(loss) or (self.start > 0 and self.mean > self.factor * self.start):
                diverged = step._replace(loss=loss)
                break
        self.pending.clear()
        if trainer.strategy.reduce_boolean_decision(diverged is not None, all=False):
            raise DivergenceError(self.message(trainer, diverged), trainer.current_epoch)

    def message(self, trainer: L.Trainer, diverged: Step | None) -> str:
        """One line: where it diverged, the lr in use, what to try, and what was kept."""
        group = trainer.optimizers[0].param_groups[0]
        knob = group.get("initial_lr", group["lr"])  # the lr typed, before a schedule moved it
        if diverged is None:
            where = f"training diverged on another process, with lr={group['lr']:g}"
        else:
            where = f"loss diverged at step {diverged.number} (epoch {diverged.epoch}): {diverged.loss:.3g}"
            if math.isfinite(diverged.loss):
                where += f", its running mean {self.mean:.3g} over {self.factor:g}x the first step's {self.start:.3g}"
            where += f", with lr={diverged.lr:g}"
        if diverged is not None and not math.isfinite(self.start or 0.0):
            # The first step's loss comes from the initial weights, before any step the lr sized: the data it is.
            cause = ("That is the loss of the untrained network, before any gradient-descent step, so not the "
                     "learning rate: the data probably holds NaN, inf, or values beyond float32's range (3.4e38)")
        else:
            cause = (f"The learning rate is probably too high: try lr={knob / 10:g}, or let python train.py "
                     "find_lr=true suggest one")
        best = best_checkpoint(trainer)
        return (
            f"{where}. {cause}. Kept: logs in {trainer.log_dir or trainer.default_root_dir}, best checkpoint "
            f"so far: {best or 'none yet (diverged before the first validation)'}"
        )

    def state_dict(self) -> dict[str, float | None]:
        return {"start": self.start, "mean": self.mean}

    def load_state_dict(self, state_dict: dict[str, float | None]) -> None:
        self.start, self.mean = state_dict["start"], state_dict["mean"]
