"""Where the callbacks that make training visible write: scalars to every logger, pictures to TensorBoard.

Every per-epoch panel uses the epoch as its step, like the loss curves (``module.py``), so the panels line up.
With the CSV logger the scalars land in ``metrics.csv`` and the pictures are skipped; with no logger, nothing.
"""

import io
import math
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import google_crc32c
import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image
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


# The pictures are drawn on one background thread while training goes on: Pillow and zlib release the GIL while
# they draw and PNG-encode. That thread never calls torch: after one torch operation on a second thread, OpenMP
# keeps a second team of compute threads on the same cores, and every later step of the training thread ran
# 1.5-2.5x slower (measured: 784-256-256-256-10 MLP, batch 64). So the tensors are turned into plain numbers and
# arrays before painting.
painter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="panels")
pictures: list[Future] = []


def paint(trainer: L.Trainer, draw: Callable[[SummaryWriter], None]) -> None:
    """Call ``draw(writer)`` for every TensorBoard of the run on the painter thread. ``draw`` must not use torch
    (see ``painter``): it gets numbers, lists or numpy arrays, copied from what training changes."""
    writers = tensorboards(trainer)
    for done in [picture for picture in pictures if picture.done()]:
        pictures.remove(done)
        done.result()  # an error in an earlier picture surfaces here, in the training thread
    for writer in writers:
        pictures.append(painter.submit(draw, writer))


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
        """Lightning closes the loggers next: finish the pictures first."""
        while pictures:
            pictures.pop(0).result()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """Training failed (a diverged loss, Ctrl-C): finish the pictures drawn so far; report the failure only."""
        while pictures:
            pictures.pop(0).exception()


def log_scalars(trainer: L.Trainer, values: dict[str, float]) -> None:
    """Write ``values`` to every logger at the current epoch: in TensorBoard as one event."""
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


def write(writer: SummaryWriter, values: list[Summary.Value], step: int) -> None:
    """Write ``values`` (scalars, histograms, images) to TensorBoard as one event.

    One event, not one per value as ``SummaryWriter.add_*`` does: TensorBoard's writer opens and closes its file
    for every event, and checksums each. ``_get_file_writer`` is what those ``add_*`` methods use.
    """
    writer._get_file_writer().add_summary(Summary(value=values), step)


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


def picture(tag: str, image: Image.Image) -> Summary.Value:
    """A TensorBoard image of a Pillow picture, kept grey if it is (``add_image`` would make it RGB: three times
    the bytes to encode, checksum and write)."""
    png = io.BytesIO()
    image.save(png, format="PNG", compress_level=1)  # twice as fast as the default 6, ~15 % more bytes
    encoded = Summary.Image(
        height=image.height, width=image.width, colorspace=len(image.getbands()), encoded_image_string=png.getvalue()
    )
    return Summary.Value(tag=tag, image=encoded)
