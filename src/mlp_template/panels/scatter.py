"""The predictions on unseen data, once per epoch, for a number: each validation example's predicted value against
its true value. On the diagonal is right; the farther off it, the larger the error.

Drawn with Pillow from the outputs ``validation_step`` returns (``module.py``): no second pass over the data.
"""

import math

import lightning as L
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from mlp_template.panels import CARD_HEIGHT, FONT, Panel, add_picture, tensorboards

PLOT, TOP, BOTTOM, RIGHT = CARD_HEIGHT - 52, 20, 32, 14  # pixels: the square plot; the room above, under, right of it


def nice_ticks(low: float, high: float) -> list[float]:
    """5 or 6 round values (steps of 1, 2, 2.5 or 5 times a power of ten) from at or below ``low`` to at or above
    ``high``: the axis covers every point."""
    if high <= low:
        low, high = low - 1, high + 1
    candidates = []
    for power in range(math.floor(math.log10(high - low)) - 2, math.floor(math.log10(high - low)) + 1):
        for base in (1, 2, 2.5, 5):
            step = base * 10.0**power
            first, last = math.floor(low / step), math.ceil(high / step)
            candidates.append((abs(last - first + 1 - 5.5), step, first, last))
    _, step, first, last = min(candidates)
    return [round(k * step, 10) for k in range(first, last + 1)]


def target_label(datamodule: object) -> str:
    """What the number is, for the picture's title: the data's own words, else its target column's name."""
    label = getattr(datamodule, "target_label", None)
    return label or f"{getattr(datamodule, 'target', 'target')} (in its units)"


class PredictedVsTrue(Panel):
    """``predicted_vs_true`` (IMAGES tab): a scatter of predicted (up) against true (across) values of the
    validation set (under DDP, the first process's shard of it), in the target's units, with the diagonal where
    they are equal."""

    def __init__(self) -> None:
        self.pairs: list[tuple[Tensor, Tensor]] = []

    def applies_to(self, data: dict) -> bool:
        return data["task"] == "regression"

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Tensor | None,
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not trainer.sanity_checking and tensorboards(trainer):
            self.pairs.append(pl_module.task.judged(outputs.detach(), batch[1]))  # in the target's units

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.pairs:
            predicted, true = (torch.cat(parts).float().cpu().numpy() for parts in zip(*self.pairs, strict=True))
            picture = np.asarray(draw_scatter(predicted, true, target_label(trainer.datamodule)))
            for writer in tensorboards(trainer):
                add_picture(writer, "predicted_vs_true", picture, trainer.current_epoch)
        self.pairs = []


def draw_scatter(predicted: np.ndarray, true: np.ndarray, label: str = "target") -> Image.Image:
    """An RGB picture ``CARD_HEIGHT`` tall: one dot per example at (true, predicted), both axes over the same round
    range with 5-6 ticks, the diagonal, and ``label`` (what the number is) above."""
    finite = np.concatenate([predicted, true])
    finite = finite[np.isfinite(finite)]
    ticks = nice_ticks(float(finite.min()), float(finite.max())) if finite.size else [0.0, 1.0]
    names = [f"{tick:g}" for tick in ticks]
    left = max(FONT.getbbox(name)[2] for name in names) + 22  # tick labels, and "predicted" written upwards
    low, high = ticks[0], ticks[-1]

    def at(value: float | np.ndarray, vertical: bool) -> float | np.ndarray:
        scaled = (np.clip(value, low, high) - low) / (high - low) * PLOT  # a runaway prediction stays at the border
        return TOP + PLOT - scaled if vertical else left + scaled

    image = Image.new("RGB", (max(left + PLOT + RIGHT, FONT.getbbox(label)[2] + 6), CARD_HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.text((3, 3), label, fill="black", font=FONT)
    for tick, name in zip(ticks, names, strict=True):
        x, y = at(tick, vertical=False), at(tick, vertical=True)
        draw.line((x, TOP, x, TOP + PLOT), fill=(235, 235, 235))
        draw.line((left, y, left + PLOT, y), fill=(235, 235, 235))
        width = FONT.getbbox(name)[2]
        draw.text((x - width / 2, TOP + PLOT + 3), name, fill="black", font=FONT)
        draw.text((left - width - 4, y - 6), name, fill="black", font=FONT)
    draw.rectangle((left, TOP, left + PLOT, TOP + PLOT), outline=(160, 160, 160))
    draw.line((left, TOP + PLOT, left + PLOT, TOP), fill=(200, 80, 80))  # predicted == true
    for x, y in zip(at(true, vertical=False), at(predicted, vertical=True), strict=True):
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(40, 90, 170))
    draw.text((left + PLOT // 2 - 8, CARD_HEIGHT - 14), "true", fill="black", font=FONT)
    upwards = Image.new("L", FONT.getbbox("predicted")[2:])
    ImageDraw.Draw(upwards).text((0, 0), "predicted", fill=255, font=FONT)
    upwards = upwards.rotate(90, expand=True)
    image.paste((0, 0, 0), (2, TOP + (PLOT - upwards.height) // 2), upwards)
    return image
