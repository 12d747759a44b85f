"""The loss first: each epoch's training and validation loss on one chart, the task's metric next (TensorBoard).

TensorBoard draws one line per run on a tag's chart, and opens the first two tag groups (sorted by name, digits
first); so the loss of both splits goes to two sub-runs under one tag, ``1_loss``, as Keras does with its
``<run>/train`` and ``<run>/validation``, and each validation metric to ``2_<metric>``. The same values stay under
``train/loss`` and ``val/*`` in the run itself, the names the CSV logger, the sweep summary and HPARAMS use.
"""

from pathlib import Path

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter

LOSS = "1_loss"  # the first chart TensorBoard shows: train and validation loss
SPLITS = {"train": "train", "val": "validation"}  # metric prefix -> sub-run


def paired_tag(name: str) -> tuple[str, str] | None:
    """Where a logged metric also goes, ``(sub-run, tag)``: ``val/acc`` -> ``("validation", "2_acc")``; None for
    the panels' own tags (``grad_norm/hidden1``)."""
    split, _, metric = name.partition("/")
    if split not in SPLITS or not metric or (split == "train" and metric != "loss"):
        return None
    return SPLITS[split], LOSS if metric == "loss" else f"2_{metric}"


class EpochCurvesLogger(TensorBoardLogger):
    """Lightning's TensorBoardLogger, writing the epoch curves also paired (``paired_tag``) into ``<run>/train`` and
    ``<run>/validation``; ``purge_step`` (a resume) applies to those too."""

    def __init__(self, save_dir: str | Path, purge_step: int | None = None, **kwargs: object) -> None:
        super().__init__(save_dir, purge_step=purge_step, **kwargs)
        self.purge_step = purge_step
        self.paired: dict[str, SummaryWriter] = {}  # sub-run -> writer, opened at its first value

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Tensor | float], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        for name, value in metrics.items():
            if (where := paired_tag(name)) is None or step is None:
                continue
            sub_run, tag = where
            if sub_run not in self.paired:
                self.paired[sub_run] = SummaryWriter(Path(self.log_dir) / sub_run, purge_step=self.purge_step)
            self.paired[sub_run].add_scalar(tag, float(value), int(step))
        for writer in self.paired.values():
            writer.flush()  # once an epoch: the curves show while the run trains

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        for writer in self.paired.values():
            writer.close()
        self.paired = {}
