"""Where the callbacks that make training visible write: scalars to every logger, pictures to TensorBoard.

Every per-epoch panel uses the epoch as its step, like the loss curves (``module.py``), so the panels line up.
With the CSV logger the scalars land in ``metrics.csv`` and the pictures are skipped; with no logger, nothing.
"""

import math
import struct
import zlib

import google_crc32c
import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
from tensorboard.summary.writer import record_writer
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter


def masked_crc32c(data: bytes) -> int:
    """The checksum TensorBoard writes after every event (CRC-32C, masked as in TFRecord files), computed in C.

    Without TensorFlow, TensorBoard computes it in pure Python, ~0.1 ms a kilobyte, on its writer thread and holding
    the interpreter lock the training thread needs: ~1-2 ms an epoch on the default run, for the histograms and
    pictures. ``google_crc32c`` gives the same number (tests/test_panels.py checks) in microseconds.
    """
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


record_writer.masked_crc32c = masked_crc32c  # what RecordWriter.write calls, for every writer of the process

# The hooks Lightning calls on every callback for every batch.
BATCH_HOOKS = [
    f"on_{hook}"
    for hook in (
        "train_batch_start",
        "train_batch_end",
        "before_backward",
        "after_backward",
        "before_optimizer_step",
        "before_zero_grad",
        "validation_batch_start",
        "validation_batch_end",
        "test_batch_start",
        "test_batch_end",
        "predict_batch_start",
        "predict_batch_end",
    )
]


class Panel(L.Callback):
    """A callback that shows one part of training, and costs nothing on the batches it does not look at.

    Lightning calls every hook of every callback on every batch, ~2 µs each: with 1 ms steps, eight callbacks
    doing nothing would cost the default run ~10 % (measured). It skips hooks that are not callable
    (``lightning.pytorch.trainer.call._call_callback_hooks``), so the batch hooks a panel leaves alone are None.
    """

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for hook in BATCH_HOOKS:
            if getattr(cls, hook) is getattr(L.Callback, hook):
                setattr(cls, hook, None)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        send()  # the last epoch's event: Lightning closes the loggers after this hook

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        send()  # training failed (a diverged loss, Ctrl-C): keep what the panels showed of the epoch so far


def log_scalars(trainer: L.Trainer, values: dict[str, float]) -> None:
    """Write ``values`` to every logger at the current epoch: in TensorBoard into the epoch's one event."""
    scalars = [Summary.Value(tag=tag, simple_value=value) for tag, value in values.items()]
    for writer in tensorboards(trainer):
        write(writer, scalars, trainer.current_epoch)
    for logger in trainer.loggers:
        if not isinstance(logger, TensorBoardLogger):  # e.g. CSV (loggers write on the global-zero process only)
            logger.log_metrics(values, step=trainer.current_epoch)


def tensorboards(trainer: L.Trainer) -> list[SummaryWriter]:
    """The TensorBoard writers of this run: where histograms, images and the graph go (none on other processes)."""
    if not trainer.is_global_zero:
        return []
    return [logger.experiment for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]


# What the panels wrote for the current epoch, per TensorBoard writer: sent as one event when a panel writes for a
# later epoch or the run ends. Each event costs ~0.1 ms of the training thread (measured: serialising it and waking
# TensorBoard's writer thread), and the panels write seven an epoch.
epoch_events: dict[SummaryWriter, tuple[int, list[Summary.Value]]] = {}


def write(writer: SummaryWriter, values: list[Summary.Value], step: int) -> None:
    """Add ``values`` (scalars, histograms, images) to the one TensorBoard event of epoch ``step``.

    One event, not one per value as ``SummaryWriter.add_*`` does: TensorBoard's writer serialises, queues and
    checksums each.
    """
    if writer in epoch_events and epoch_events[writer][0] != step:
        send(writer)
    epoch_events.setdefault(writer, (step, []))[1].extend(values)


def send(writer: SummaryWriter | None = None) -> None:
    """Write the held event of ``writer`` (default: of every writer). ``_get_file_writer`` is what
    ``SummaryWriter.add_*`` use."""
    for held in [writer] if writer is not None else list(epoch_events):
        step, values = epoch_events.pop(held)
        held._get_file_writer().add_summary(Summary(value=values), step)


def histograms(tensors: dict[str, Tensor], bins: int = 30) -> list[Summary.Value]:
    """TensorBoard histograms of ``tensors`` (by tag), in ``bins`` equal-width bins (as many as TensorBoard draws),
    counted by torch on the calling thread, the statistics of all of them read back at once
    (``SummaryWriter.add_histogram`` bins in numpy, ~10x slower). A tensor holding NaN or inf gets none."""
    flat = [t.detach().flatten().float() for t in tensors.values()]
    stats = torch.stack([torch.stack([*v.aminmax(), v.sum(), v.dot(v)]) for v in flat]).tolist()
    values = []
    for tag, v, (low, high, total, squares) in zip(tensors, flat, stats, strict=True):
        if not (math.isfinite(low) and math.isfinite(high)):  # diverged (the guard stops the run): nothing to bin
            continue
        if low == high:  # one value only: one bin
            limits, buckets = [high], [v.numel()]
        else:  # each bin's right edge, and its count
            limits = [low + (high - low) * (i + 1) / bins for i in range(bins)]
            buckets = torch.histc(v, bins, low, high).tolist()
        histo = HistogramProto(min=low, max=high, num=v.numel(), sum=total, sum_squares=squares,
                               bucket_limit=limits, bucket=buckets)
        values.append(Summary.Value(tag=tag, histo=histo))
    return values


def picture(tag: str, pixels: np.ndarray) -> Summary.Value:
    """A TensorBoard image of ``pixels``, uint8 (H, W) grey or (H, W, 3) RGB, kept grey if it is (``add_image``
    would make it RGB: three times the bytes to encode, checksum and write)."""
    height, width = pixels.shape[:2]
    colorspace = 1 if pixels.ndim == 2 else 3
    encoded = Summary.Image(height=height, width=width, colorspace=colorspace, encoded_image_string=png(pixels))
    return Summary.Value(tag=tag, image=encoded)


def png(pixels: np.ndarray) -> bytes:
    """``pixels`` as a PNG file, rows unfiltered, compressed by zlib at its fastest level.

    Written out because Pillow's and torchvision's PNG encoders pick a filter for every row, which costs twice as
    long as compressing (250-350 µs against 95 µs for the 241x241 confusion matrix, measured), while these flat
    pictures compress as small without (5.4 KB against 5.2 KB). The format: https://www.w3.org/TR/png/
    """
    height, width = pixels.shape[:2]
    rows = np.zeros((height, 1 + pixels[0].size), np.uint8)  # each row: filter type 0 (none), then its bytes
    rows[:, 1:] = pixels.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if pixels.ndim == 2 else 2, 0, 0, 0)  # 8 bits, grey/RGB
    chunks = ((b"IHDR", header), (b"IDAT", zlib.compress(rows.tobytes(), 1)), (b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)) for kind, data in chunks
    )
