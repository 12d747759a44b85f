"""The predictions on unseen images, once per epoch, for the tasks with classes: the validation images the
network gets wrong (confusion.py: which classes it confuses with which).

It reads the logits ``validation_step`` returns (``module.py``): no second pass over the validation set. The grid
is laid out by torchvision's ``make_grid``; captions are drawn with Pillow (already there for torchvision), which
starts faster than a plotting library, once for each text and reused.
"""

from functools import cache

import lightning as L
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor
from torchvision.utils import make_grid

from mlp_template.panels import FONT, Panel, add_picture, tensorboards, validation_logits

TILE = 32  # pixels: small images (8x8 digits) are enlarged to at least this width, so a person can read them


@cache
def caption_line(text: str, shade: int, width: int) -> Tensor:
    """One line of a tile's caption, uint8 (12, width): drawn once for each text (20 for ten classes)."""
    line = Image.new("L", (width, 12))
    ImageDraw.Draw(line).text((2, 0), text, fill=shade, font=FONT)
    return torch.from_numpy(np.array(line))


def captioned_grid(x: Tensor, preds: list[str], targets: list[str], per_row: int) -> np.ndarray:
    """Images (N, C, H, W), grey or RGB, as one uint8 picture, (H, W) or (H, W, 3): each contrast-stretched,
    enlarged, under its caption (predicted class over true class), in rows of ``per_row`` (``make_grid``)."""
    channels, width = x.shape[1], x.shape[3]
    low, high = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
    x = ((x - low) / (high - low).clamp_min(1e-8) * 255).to(torch.uint8)
    scale = -(-TILE // width)  # ceil: at least TILE pixels wide
    x = x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)  # each pixel a scale x scale square
    captions = [
        torch.cat([caption_line(f"pred {p}", 255, x.shape[3]), caption_line(f"true {t}", 160, x.shape[3])])
        for p, t in zip(preds, targets, strict=True)
    ]
    tiles = torch.cat([torch.stack(captions)[:, None].expand(-1, channels, -1, -1), x], dim=2)  # (N, C, 24+H', W')
    grid = make_grid(tiles, nrow=per_row, padding=2, pad_value=128)  # a grey image comes back as RGB
    return grid[0].numpy() if channels == 1 else grid.permute(1, 2, 0).numpy()


class MisclassifiedImages(Panel):
    """Up to ``max_images`` validation images the network gets wrong, each with its predicted and true class:
    one grid per epoch, ``misclassified`` (IMAGES tab), in whole rows of ``per_row`` (fewer than that: one row).
    The first ones in the validation order, so from epoch to epoch you see which mistakes get fixed."""

    def __init__(self, max_images: int = 16, per_row: int = 8) -> None:
        self.max_images, self.per_row = max_images, per_row
        self.found: list[tuple[Tensor, Tensor, Tensor]] = []
        self.count = 0
        self.wanted = False

    def applies_to(self, data: dict) -> bool:
        return data["task"] == "classification" and len(data["input_shape"]) == 3  # (channels, height, width)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.wanted = not trainer.sanity_checking and bool(tensorboards(trainer))  # the sanity check is no epoch

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Tensor | None,
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not self.wanted or self.count >= self.max_images:
            return
        logits = validation_logits(outputs)
        x, y = batch
        preds = logits.argmax(dim=1)
        wrong = (preds != y).nonzero().squeeze(1)[: self.max_images - self.count]  # syncs, until the grid is full
        self.found.append((x[wrong], preds[wrong], y[wrong]))
        self.count += len(wrong)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.count and not trainer.sanity_checking:
            x, preds, y = (torch.cat(parts).cpu() for parts in zip(*self.found, strict=True))
            if self.count > self.per_row:  # whole rows only: fewer tiles rather than empty slots
                x, preds, y = (t[: self.count - self.count % self.per_row] for t in (x, preds, y))
            names = pl_module.task.names  # the class folders' names (data=images), or the classes' numbers
            captions = [[names[i] for i in classes.tolist()] for classes in (preds, y)]
            grid = captioned_grid(x.float(), *captions, self.per_row)
            for writer in tensorboards(trainer):
                add_picture(writer, "misclassified", grid, trainer.current_epoch)
        self.found, self.count = [], 0
