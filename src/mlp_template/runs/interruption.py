"""Stopping a run on Ctrl-C (SIGINT) or SIGTERM without losing a finished step: checkpoint, flush, say how to resume.

Hand-written because Lightning's own handling cannot be resumed exactly: Ctrl-C raises ``KeyboardInterrupt`` wherever
the code is, possibly between a gradient-descent step and the counter that records it, and its SIGTERM handler may
stop in the middle of validation, whose half-computed metrics no checkpoint holds. Here both signals only set a flag;
the run stops at the end of the next training batch, or of the epoch, where a checkpoint resumes exactly.
"""

import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import lightning as L
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Handler = Callable[[int, FrameType | None], object] | int | None  # what signal.signal takes and returns


class Interrupted(SystemExit):
    """The run stopped on a signal after saving its checkpoint; the exit code is 128 + the signal's number.

    A ``SystemExit``: Lightning runs its ``on_exception`` hooks and closes the loggers, Hydra lets it through, and
    the process exits with the code a shell gives a process killed by that signal (130 for Ctrl-C, 143 for SIGTERM).
    """


class StopOnSignal(Checkpoint):
    """On SIGINT or SIGTERM during training: save ``last.ckpt`` at the next safe point, flush the logs, exit.

    Mid-epoch, the checkpoint is taken at the end of the current batch: weights, optimizer, scheduler, loop
    counters, the epoch's running train loss, the data order's position and the random state, so the resumed run
    goes on as if never stopped. A signal during the epoch's last batch or its validation waits for the epoch's
    end. A second Ctrl-C stops at once, without a new checkpoint: the command printed resumes from ``last.ckpt``
    as it was (the last epoch's end, or the first Ctrl-C's save if it was done).
    """

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        super().__init__()
        self.path = Path(dirpath) / f"{filename}{ModelCheckpoint.FILE_EXTENSION}"
        self.received: int | None = None
        self.saved = False  # the checkpoint is written; the stop waits until Lightning has logged the epoch
        self.where = ""
        self.previous: dict[int, Handler] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Installed here, after Lightning registered its own SIGTERM handler (Trainer._run), so ours replaces it.
        self.received, self.saved = None, False
        self.previous = {signum: signal.signal(signum, self.request_stop) for signum in SIGNALS}

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler: only remember the request; a second Ctrl-C stops at once."""
        self.received = signum
        signal.signal(signal.SIGINT, self.stop_at_once)
        # os.write, not print: the handler may interrupt a print, and Python's buffered streams are not reentrant.
        os.write(2, f"\n{signal.Signals(signum).name} received: saving a checkpoint at the end of "
                 "this batch (or epoch), then stopping; Ctrl-C again stops at once, without saving\n".encode())

    def stop_at_once(self, signum: int, frame: FrameType | None) -> None:
        """The second Ctrl-C's handler: one line, the resume command if a checkpoint exists, exit code 130.

        Raised here, wherever the code is: Lightning closes the loggers on the way out. A checkpoint being written
        is not replaced half-written (AtomicCheckpointIO), so ``last.ckpt`` is always whole.
        """
        hint = (f"resume with: python train.py ckpt_path={self.path.resolve()}" if self.path.is_file()
                else "no checkpoint was saved yet, nothing to resume")
        os.write(2, f"\nstopped at once by a second {signal.Signals(signum).name}, without saving; {hint}\n".encode())
        raise Interrupted(128 + signum)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        # Not after an epoch's last batch: Lightning 2.6 resumes a checkpoint taken there without that epoch's
        # validation. That stop waits for the epoch's end.
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch and self.asked(trainer):
            self.save(trainer)
            self.stop(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # A Checkpoint callback runs after the module's on_train_epoch_end: the state ModelCheckpoint saves too.
        if self.asked(trainer):
            self.save(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.saved:  # Lightning has written the last epoch's metrics and stepped the scheduler since the save
            self.stop(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.restore_handlers()
        if self.saved:  # the signal came during the last epoch's end: stop before testing
            self.stop(trainer)

    def asked(self, trainer: L.Trainer) -> bool:
        stop = self.received is not None
        if trainer.world_size > 1:  # every process stops at the same batch, or the others would wait forever
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        return stop

    def save(self, trainer: L.Trainer) -> None:
        trainer.save_checkpoint(self.path, weights_only=False)
        self.saved = True
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        self.where = f"epoch {trainer.current_epoch}, after batch {done} of {trainer.num_training_batches}"

    def stop(self, trainer: L.Trainer) -> None:
        """Flush every logger, print the resume command, exit with 128 + the signal's number."""
        for logger in trainer.loggers:
            logger.save()  # TensorBoard: flush the event file; CSV: write metrics.csv
        signum = self.received or signal.SIGTERM
        if trainer.is_global_zero:
            print(f"stopped by {signal.Signals(signum).name} in {self.where}; checkpoint: {self.path.resolve()}\n"
                  f"resume with: python train.py ckpt_path={self.path.resolve()}", flush=True)
        raise Interrupted(128 + signum)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.restore_handlers()

    def restore_handlers(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}
