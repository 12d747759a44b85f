"""Where the callbacks that make training visible write: scalars to every logger, pictures to TensorBoard.

Every per-epoch panel uses the epoch as its step, like the loss curves (``module.py``), so the panels line up.
With the CSV logger the scalars land in ``metrics.csv`` and the pictures are skipped; with no logger, nothing.
"""

import math
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import ImageFont
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter

FONT = ImageFont.load_default()  # what the picture panels write captions and class names with
# TensorBoard's TIME SERIES (2.21) fits every picture to this height, enlarging a smaller one pixel by pixel and
# shrinking a larger one until its text blurs: the pictures are drawn at this height where they can be.
CARD_HEIGHT = 215  # pixels
# TensorBoard keeps 10 images and texts per tag unless told: a number, not 0, which has not meant "all" in every
# release (2.21 reads 0 as all). 1000 epochs' pictures are kept.
KEEP_EVERY_EPOCH = "images=1000,text=1000"


def tensorboard_command(logdir: str | Path) -> str:
    """The command that shows ``logdir`` (a run or a sweep) in TensorBoard: every epoch's pictures and words, served
    to this machine only."""
    return f"tensorboard --logdir {logdir} --host 127.0.0.1 --samples_per_plugin {KEEP_EVERY_EPOCH}"


class Panel(L.Callback):
    """A callback that shows one part of training (``benchmarks/panels.py`` measures what they cost together).

    ``applies_to`` says which data it can show; training leaves it out elsewhere (a picture of misclassified
    images needs images and classes).
    """

    def applies_to(self, data: dict) -> bool:
        """Whether this panel can show a run on ``data`` (a data module's ``signature()``: task, input shape)."""
        return True


def validation_logits(outputs: Tensor | None) -> Tensor:
    """What ``validation_step`` returned: the batch's logits."""
    if not isinstance(outputs, Tensor):
        raise TypeError("the prediction panels need validation_step to return the logits (see module.py)")
    return outputs.detach()


def log_scalars(trainer: L.Trainer, values: dict[str, float]) -> None:
    """Write ``values`` to every logger at the current epoch (loggers write on the global-zero process only)."""
    for logger in trainer.loggers:
        logger.log_metrics(values, step=trainer.current_epoch)


def tensorboards(trainer: L.Trainer) -> list[SummaryWriter]:
    """The TensorBoard writers of this run: where histograms, images and the graph go (none on other processes)."""
    if not trainer.is_global_zero:
        return []
    return [logger.experiment for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]


def add_histograms(writer: SummaryWriter, tensors: dict[str, Tensor], step: int, bins: int = 30) -> None:
    """TensorBoard histograms of ``tensors`` (by tag) in ``bins`` equal-width bins (as many as TensorBoard draws).

    Counted by torch where the tensors live, all the statistics read back at once, and handed to
    ``add_histogram_raw``: ``add_histogram`` would copy every tensor to numpy and bin it there. A tensor holding NaN
    or inf (a diverging run, which the divergence guard stops) gets no histogram.
    """
    flat = [t.detach().flatten().float() for t in tensors.values()]
    stats = torch.stack([torch.stack([*v.aminmax(), v.sum(), v.dot(v)]) for v in flat]).tolist()
    for tag, v, (low, high, total, squares) in zip(tensors, flat, stats, strict=True):
        if not (math.isfinite(low) and math.isfinite(high)):
            continue
        if low == high:  # one value only: one bin
            limits, counts = [high], [v.numel()]
        else:  # each bin's right edge, and its count
            limits = [low + (high - low) * (i + 1) / bins for i in range(bins)]
            counts = torch.histc(v, bins, low, high).tolist()
        writer.add_histogram_raw(tag, low, high, v.numel(), total, squares, limits, counts, global_step=step)


def add_picture(writer: SummaryWriter, tag: str, pixels: np.ndarray, step: int) -> None:
    """A TensorBoard image of ``pixels``: uint8, (H, W) grey or (H, W, 3) RGB."""
    writer.add_image(tag, pixels, step, dataformats="HW" if pixels.ndim == 2 else "HWC")
