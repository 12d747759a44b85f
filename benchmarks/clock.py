"""A stopwatch inside the template's own run: when the first training step starts, how long each epoch lasts.

The benchmark adds it to a real ``python train.py`` with ``+callbacks.epoch_clock._target_=...``, so the run is the
template's, default callbacks and logger included; this callback only reads clocks and writes them to ``path``.
Given a ``port``, it also waits at each epoch boundary, outside its timed span, until the benchmark has run its
own loops' epochs: the ways then alternate epoch by epoch, and a busy machine slows them alike.
"""

import json
import socket
import time
from pathlib import Path

import lightning as L
import torch


class EpochClock(L.Callback):
    """Records wall-clock time at the first training step and each epoch's seconds, start to next start."""

    def __init__(self, path: str, port: int | None = None) -> None:
        self.path = Path(path)
        self.port = port
        self.connection: socket.socket | None = None
        self.first_step: float | None = None  # time.time(): comparable with the parent's clock at process start
        self.epoch_seconds: list[float] = []
        self.started: float | None = None  # perf_counter() when the current epoch began
        self.fit_started = float("nan")
        self.before_first_epoch = float("nan")  # seconds from fit start to the first epoch: sanity check, graph

    def now(self, trainer: L.Trainer) -> float:
        if trainer.strategy.root_device.type == "cuda":  # GPU work is asynchronous: wait for it before reading
            torch.cuda.synchronize()
        return time.perf_counter()

    def signal(self, message: bytes) -> None:
        """Tell the benchmark where the run is; after ``b"ready"``, wait for its go-ahead (one byte)."""
        if self.port is None:
            return
        if self.connection is None:
            self.connection = socket.create_connection(("127.0.0.1", self.port))
        self.connection.sendall(message + b"\n")
        if message == b"ready" and not self.connection.recv(1):
            raise ConnectionError("the benchmark closed the connection")

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.fit_started = self.now(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self.started is not None:  # the previous epoch ends here: its steps, its validation, its checkpoints
            self.epoch_seconds.append(self.now(trainer) - self.started)
        else:
            self.before_first_epoch = self.now(trainer) - self.fit_started
        self.signal(b"ready")
        self.started = self.now(trainer)

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch: object, idx: int) -> None:
        if self.first_step is None:
            self.first_step = time.time()

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.epoch_seconds.append(self.now(trainer) - self.started)
        record = {"first_step": self.first_step, "epoch_seconds": self.epoch_seconds,
                  "before_first_epoch": self.before_first_epoch,
                  "val_loss": float(trainer.callback_metrics["val/loss"])}
        self.path.write_text(json.dumps(record))
        self.signal(b"done")
