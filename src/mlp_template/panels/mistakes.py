"""The predictions on unseen data, once per epoch, for the tasks with classes: the validation images the network
gets wrong, and which classes it confuses with which.

Both read the logits ``validation_step`` returns (``module.py``): no second pass over the validation set. The
grid is laid out by torchvision's ``make_grid``; text and the matrix are drawn with Pillow (already there for
torchvision), which starts faster than a plotting library; what never changes (captions, axes) is drawn once and
reused.
"""

from functools import cache

import lightning as L
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix
from torchvision.utils import make_grid

from mlp_template.panels import Panel, add_picture, tensorboards

FONT = ImageFont.load_default()
TILE = 32  # pixels: small images (8x8 digits) are enlarged to at least this width, so a person can read them


def validation_logits(outputs: Tensor | None) -> Tensor:
    """What ``validation_step`` returned: the batch's logits."""
    if not isinstance(outputs, Tensor):
        raise TypeError("the prediction panels need validation_step to return the logits (see module.py)")
    return outputs.detach()


@cache
def caption_line(text: str, shade: int, width: int) -> Tensor:
    """One line of a tile's caption, uint8 (12, width): drawn once for each text (20 for ten classes)."""
    line = Image.new("L", (width, 12))
    ImageDraw.Draw(line).text((2, 0), text, fill=shade, font=FONT)
    return torch.from_numpy(np.array(line))


def captioned_grid(x: Tensor, preds: list[int], targets: list[int], per_row: int) -> np.ndarray:
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
    one grid per epoch, ``misclassified`` (IMAGES tab). The first ones in the validation order, so from epoch to
    epoch you see which mistakes get fixed."""

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
            grid = captioned_grid(x.float(), preds.tolist(), y.tolist(), self.per_row)
            for writer in tensorboards(trainer):
                add_picture(writer, "misclassified", grid, trainer.current_epoch)
        self.found, self.count = [], 0


def column_label(name: str, cell: int) -> Image.Image:
    """A column's class name as a mask: level if it fits the column, else written upwards."""
    mask = stamp(name)
    return mask if mask.width <= cell - 4 else mask.rotate(90, expand=True)


def margins(classes: tuple[str, ...], cell: int) -> tuple[int, int]:
    """Where the grid starts, ``(left, top)``: room for the rows' class names, and above the grid for the columns'
    under the title."""
    left = max(stamp(name).width for name in classes) + 6
    top = max(column_label(name, cell).height for name in classes) + 18
    return max(2 * cell, left), max(2 * cell, top)


@cache
def confusion_frame(classes: tuple[str, ...], cell: int) -> Image.Image:
    """The confusion-matrix picture without its counts: axis titles, class names, an empty grid."""
    n, (left, top) = len(classes), margins(classes, cell)
    frame = Image.new("L", (max(left + n * cell, left + stamp("predicted").width) + 1, top + n * cell + 1), 255)
    draw = ImageDraw.Draw(frame)
    draw.text((left, 2), "predicted", fill=0, font=FONT)
    draw.text((2, top - 12), "true", fill=0, font=FONT)
    for i, name in enumerate(classes):
        label = column_label(name, cell)  # columns: the predicted class
        frame.paste(0, (left + i * cell + (cell - label.width) // 2, top - label.height - 3), label)
        mask = stamp(name)  # rows: the true class
        frame.paste(0, (left - mask.width - 3, top + i * cell + (cell - mask.height) // 2), mask)
    for i in range(n + 1):
        draw.line((left, top + i * cell, left + n * cell, top + i * cell), fill=225)
        draw.line((left + i * cell, top, left + i * cell, top + n * cell), fill=225)
    return frame


@cache
def stamp(text: str) -> Image.Image:
    """``text`` drawn once as a mask, to be pasted wherever it is written again (cheaper than drawing it)."""
    mask = Image.new("L", FONT.getbbox(text)[2:])
    ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=FONT)
    return mask


def centred(image: Image.Image, corner: tuple[int, int], cell: int, text: str, shade: int) -> None:
    """Write ``text`` in the middle of the square cell whose top-left corner is ``corner``."""
    mask = stamp(text)
    image.paste(shade, (corner[0] + (cell - mask.width) // 2, corner[1] + (cell - mask.height) // 2), mask)


def draw_confusion(counts: list[list[int]], classes: tuple[str, ...], cell: int = 20) -> Image.Image:
    """``counts[true][predicted]`` as a grey picture: each non-empty cell shaded by its share of the true class
    (darker: more), with its count; empty cells stay blank, so the confusions stand out."""
    image, (left, top) = confusion_frame(classes, cell).copy(), margins(classes, cell)
    draw = ImageDraw.Draw(image)
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            if not count:
                continue
            x, y, level = left + j * cell, top + i * cell, count / sum(row)
            draw.rectangle((x + 1, y + 1, x + cell - 1, y + cell - 1), fill=int(245 - 215 * level))
            centred(image, (x, y), cell, str(count), 255 if level > 0.5 else 0)
    return image


class ConfusionMatrix(Panel):
    """How often each true class (row) is predicted as each class (column) on the validation set, once per epoch:
    ``confusion_matrix`` (IMAGES tab). The diagonal is right; anything off it is a confusion."""

    def __init__(self) -> None:
        self.matrix: MulticlassConfusionMatrix | None = None  # made at the first batch: the classes, the device
        self.classes: tuple[str, ...] = ()

    def applies_to(self, data: dict) -> bool:
        return data["task"] == "classification"  # images or a table's rows; not the next token (too many classes)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        data = pl_module.hparams["data"]  # a table's class names; images' classes are their numbers
        self.classes = tuple(data.get("classes") or map(str, range(data["output_size"])))

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Tensor | None,
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if trainer.sanity_checking:  # two batches to catch a broken validation_step: not an epoch
            return
        logits = validation_logits(outputs)
        if self.matrix is None:
            self.matrix = MulticlassConfusionMatrix(logits.shape[1], validate_args=False).to(logits.device)
        self.matrix.update(logits.argmax(dim=1), batch[1])

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.matrix is None or trainer.sanity_checking or not self.matrix.update_called:
            return
        counts = self.matrix.compute().tolist()  # summed over every process's shard
        self.matrix.reset()
        picture = np.asarray(draw_confusion(counts, self.classes))
        for writer in tensorboards(trainer):
            add_picture(writer, "confusion_matrix", picture, trainer.current_epoch)
