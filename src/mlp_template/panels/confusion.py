"""Which classes the network confuses with which, on the validation set, once per epoch: the confusion matrix.

It reads the logits ``validation_step`` returns (``module.py``): no second pass over the validation set. The
matrix is counted by torchmetrics (summed over every DDP process) and drawn with Pillow; what never changes (the
axes, the class names) is drawn once and reused.
"""

from functools import cache

import lightning as L
import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix

from mlp_template.panels import CARD_HEIGHT, FONT, Panel, add_picture, tensorboards, validation_logits

MAX_CELL = 40  # pixels: two classes get big squares, not a grid as tall as the card


def column_label(name: str, cell: int) -> Image.Image:
    """A column's class name as a mask: level if it fits the column, else written upwards."""
    mask = stamp(name)
    return mask if mask.width <= cell - 4 else mask.rotate(90, expand=True)


def margins(classes: tuple[str, ...], cell: int) -> tuple[int, int]:
    """Where the grid starts, ``(left, top)``: room for the rows' class names and ``true``, and above the grid for
    the columns' under the title."""
    left = max(stamp("true").width, *(stamp(name).width for name in classes)) + 8
    top = max(column_label(name, cell).height for name in classes) + 20
    return left, top


def cell_size(classes: tuple[str, ...], largest: int) -> int:
    """A square cell's side: the grid as tall as TensorBoard shows a picture (``CARD_HEIGHT``, so it is neither
    shrunk nor enlarged), at most ``MAX_CELL`` unless the class names then fit level, and never too narrow for the
    largest count."""
    _, top = margins(classes, 1000)  # the class names level
    fits = (CARD_HEIGHT - top - 1) // len(classes)
    level = max(stamp(name).width for name in classes) + 6  # a column wide enough to write its name level
    return max(min(fits, max(MAX_CELL, level)), stamp(str(largest)).width + 6, 14)


@cache
def confusion_frame(classes: tuple[str, ...], cell: int) -> Image.Image:
    """The confusion-matrix picture without its counts: axis titles, class names, an empty grid."""
    n, (left, top) = len(classes), margins(classes, cell)
    frame = Image.new("L", (max(left + n * cell, left + stamp("predicted").width) + 1, top + n * cell + 1), 255)
    draw = ImageDraw.Draw(frame)
    draw.text((left, 2), "predicted", fill=0, font=FONT)
    draw.text((2, top - 14), "true", fill=0, font=FONT)
    for i, name in enumerate(classes):
        label = column_label(name, cell)  # columns: the predicted class
        frame.paste(0, (left + i * cell + (cell - label.width) // 2, top - label.height - 3), label)
        mask = stamp(name)  # rows: the true class
        frame.paste(0, (left - mask.width - 4, top + i * cell + (cell - mask.height) // 2), mask)
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


def draw_confusion(counts: list[list[int]], classes: tuple[str, ...]) -> Image.Image:
    """``counts[true][predicted]`` as a grey picture: each non-empty cell shaded by its share of the true class
    (darker: more), with its count; empty cells stay blank, so the confusions stand out."""
    cell = cell_size(classes, max(max(row) for row in counts))
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
        self.classes = tuple(pl_module.task.names)  # a table's labels; images' classes are their numbers (tasks.py)

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
