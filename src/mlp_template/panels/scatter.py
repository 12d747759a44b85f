"""The predictions on unseen data, once per epoch, for a number: each validation example's predicted value against
its true value. On the diagonal is right; the farther off it, the larger the error.

Drawn with Pillow from the outputs ``validation_step`` returns (``module.py``): no second pass over the data.
"""

import lightning as L
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from mlp_template.panels import FONT, Panel, add_picture, tensorboards

SIZE, MARGIN = 280, 36  # pixels: the picture, and the room left of and under the plot for the axes' labels


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
            picture = np.asarray(draw_scatter(predicted, true))
            for writer in tensorboards(trainer):
                add_picture(writer, "predicted_vs_true", picture, trainer.current_epoch)
        self.pairs = []


def draw_scatter(predicted: np.ndarray, true: np.ndarray) -> Image.Image:
    """An RGB picture: one dot per example at (true, predicted), both axes over the same range, and the diagonal."""
    low, high = float(min(predicted.min(), true.min())), float(max(predicted.max(), true.max()))
    high = high if high > low else low + 1
    span = SIZE - MARGIN - 8

    def at(value: np.ndarray, vertical: bool) -> np.ndarray:
        scaled = (value - low) / (high - low) * span
        return SIZE - MARGIN - scaled if vertical else MARGIN + scaled

    image = Image.new("RGB", (SIZE, SIZE), "white")
    draw = ImageDraw.Draw(image)
    corner, far = (MARGIN, SIZE - MARGIN), (MARGIN + span, SIZE - MARGIN - span)
    draw.rectangle((MARGIN, far[1], far[0], corner[1]), outline=(160, 160, 160))
    draw.line((*corner, *far), fill=(200, 80, 80))  # predicted == true
    for x, y in zip(at(true, vertical=False), at(predicted, vertical=True), strict=True):
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(40, 90, 170))
    draw.text((MARGIN, SIZE - MARGIN + 4), f"{low:.3g}", fill="black", font=FONT)
    draw.text((far[0] - 30, SIZE - MARGIN + 4), f"{high:.3g}", fill="black", font=FONT)
    draw.text((MARGIN + span // 2 - 10, SIZE - 16), "true", fill="black", font=FONT)
    draw.text((2, far[1]), f"{high:.3g}", fill="black", font=FONT)
    draw.text((2, corner[1] - 12), f"{low:.3g}", fill="black", font=FONT)
    draw.text((2, SIZE // 2), "pred", fill="black", font=FONT)
    return image
