"""The template's path, run as a person runs it: ``python train.py OVERRIDES`` in a fresh process.

Its default callbacks and logger stay on (whatever ``conf/callbacks/default.yaml`` and ``conf/logger`` hold when the
benchmark runs); ``benchmarks.clock.EpochClock`` is added beside them to read the epoch boundaries.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class TemplateRun:
    epoch_seconds: list[float]
    startup: float  # process start -> first training step, seconds
    wall: float  # process start -> exit
    val_loss: float
    before_first_epoch: float  # fit start -> first epoch start (the sanity check, hooks run once), seconds


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a child process that computes with ``threads`` threads, like this one."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


@dataclass
class Child:
    """A running ``python train.py``: its process, the time just before it started, the folder of its output."""

    process: subprocess.Popen
    start: float
    run_dir: Path

    def finish(self) -> float:
        """Wait for the run to exit and return its wall time; a failed run raises with the end of its stderr."""
        if self.process.wait() != 0:
            tail = (self.run_dir / "stderr.txt").read_text()[-3000:]
            raise RuntimeError(f"{' '.join(self.process.args)} failed ({self.process.returncode}):\n{tail}")
        return time.time() - self.start


def start_train(run_dir: Path, overrides: list[str], threads: int, *flags: str) -> Child:
    """Start ``python [FLAGS] train.py OVERRIDES`` with its output in ``run_dir``."""
    command = [sys.executable, *flags, "train.py", f"hydra.run.dir={run_dir}", *overrides]
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "stdout.txt", "w") as out, open(run_dir / "stderr.txt", "w") as err:
        start = time.time()
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, env=thread_env(threads))
    return Child(process, start, run_dir)


def python_train(run_dir: Path, overrides: list[str], threads: int, *flags: str) -> float:
    """Run ``python [FLAGS] train.py OVERRIDES`` to the end; return its wall time."""
    return start_train(run_dir, overrides, threads, *flags).finish()


def start_clocked(run_dir: Path, overrides: list[str], threads: int, port: int | None = None) -> Child:
    """Start ``python train.py OVERRIDES`` with ``benchmarks.clock.EpochClock`` added, recording into ``run_dir``;
    given a ``port``, the clock waits there for a go-ahead at each epoch start."""
    clock = ["+callbacks.epoch_clock._target_=benchmarks.clock.EpochClock",
             f"+callbacks.epoch_clock.path={run_dir / 'epoch_clock.json'}"]
    if port is not None:
        clock.append(f"+callbacks.epoch_clock.port={port}")
    return start_train(run_dir, [*overrides, *clock], threads)


def clocked_result(child: Child, wall: float) -> TemplateRun:
    """What the clock of a finished ``start_clocked`` run recorded, with its start-up and ``wall`` time."""
    times = json.loads((child.run_dir / "epoch_clock.json").read_text())
    startup = times["first_step"] - child.start
    return TemplateRun(times["epoch_seconds"], startup, wall, times["val_loss"], times["before_first_epoch"])


class SteppedRun:
    """A ``python train.py`` that waits at the start of each epoch until told to go, so that several ways of
    training take turns epoch by epoch (``take_turns``) and a busy machine slows them alike."""

    def __init__(self, run_dir: Path, overrides: list[str], threads: int) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.child = start_clocked(run_dir, overrides, threads, port=self.server.getsockname()[1])
        self.messages: BinaryIO | None = None
        self.wall = float("nan")

    def connect(self) -> None:
        """Wait until the run is about to start its first epoch (it connects then), unless it fails before."""
        if self.messages is not None:  # connected already
            return
        self.server.settimeout(1.0)
        with self.server:
            while True:
                try:
                    self.connection, _ = self.server.accept()
                    break
                except TimeoutError:
                    if self.child.process.poll() is not None:
                        self.child.finish()  # raises if it failed
                        raise RuntimeError(f"train.py ended before its first epoch; see {self.child.run_dir}") from None
        self.messages = self.connection.makefile("rb")
        self.expect(b"ready\n")

    def epoch(self) -> None:
        """Let the run train one epoch; return once it waits before the next one, or, after its last, has exited."""
        self.connection.sendall(b"g")
        if self.expect(b"ready\n", b"done\n") == b"done\n":
            self.connection.close()
            self.wall = self.child.finish()  # testing, logging, exiting: done before the other ways go on

    def expect(self, *messages: bytes) -> bytes:
        """The run's next message, one of ``messages``; anything else (it died: nothing) raises."""
        message = self.messages.readline()
        if message not in messages:
            self.child.finish()  # raises if it failed
            raise RuntimeError(f"train.py stopped early; see {self.child.run_dir}")
        return message

    def result(self) -> TemplateRun:
        """Its epoch times and start-up; its wall time includes the turns it waited for the other ways."""
        return clocked_result(self.child, self.wall)


def take_turns(runs: list[SteppedRun], loops: list[Callable[[], None]], epochs: int) -> None:
    """Epoch 1 of each run, then of each loop, then epoch 2 of each, ...: every way sees the same machine."""
    for run in runs:
        run.connect()
    for _ in range(epochs):
        for run in runs:
            run.epoch()
        for loop in loops:
            loop()


def run_template(run_dir: Path, overrides: list[str], threads: int) -> TemplateRun:
    """One timed run of the template on its own, start to exit."""
    child = start_clocked(run_dir, overrides, threads)
    return clocked_result(child, child.finish())


@dataclass
class Import:
    name: str
    self_seconds: float
    cumulative: float
    depth: int
    parent: "Import | None" = None  # the module whose import statement imported this one


def import_profile(run_dir: Path, overrides: list[str], threads: int) -> list[Import]:
    """Every module ``python -X importtime train.py OVERRIDES`` imports, with its time and who imported it."""
    python_train(run_dir, overrides, threads, "-X", "importtime")
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    imports = []
    for line in (run_dir / "stderr.txt").read_text().splitlines():
        if match := pattern.match(line):
            self_us, cumulative_us, indent, name = match.groups()
            imports.append(Import(name, int(self_us) / 1e6, int(cumulative_us) / 1e6, (len(indent) - 1) // 2))
    # importtime prints a module after everything it imported: its parent is the next line one level up.
    pending: dict[int, list[Import]] = {}
    for module in imports:
        for child in pending.pop(module.depth + 1, []):
            child.parent = module
        pending.setdefault(module.depth, []).append(module)
    return imports


def import_breakdown(imports: list[Import], notable: tuple[str, ...]) -> list[str]:
    """Lines for the report: total, the heaviest packages by own time, and who pulls in the ``notable`` modules."""
    by_package: dict[str, float] = {}
    for module in imports:
        package = module.name.split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + module.self_seconds
    heaviest = sorted(by_package.items(), key=lambda item: -item[1])[:8]
    lines = [f"imports: {sum(m.self_seconds for m in imports):.2f} s in {len(imports)} modules; by package: "
             + ", ".join(f"{name} {seconds:.2f}" for name, seconds in heaviest)]
    first = {}
    for module in imports:
        first.setdefault(module.name, module)
    for name in notable:
        if name not in first:
            lines.append(f"  {name:<24} not imported")
            continue
        importers, module = [], first[name]
        while module.parent:  # up to the top, naming the first module of each other package on the way
            module = module.parent
            if module.name.split(".")[0] != (importers[-1] if importers else name).split(".")[0]:
                importers.append(module.name)
        lines.append(f"  {name:<24} {first[name].cumulative:5.2f} s  <- {' <- '.join(importers) or '(top level)'}")
    return lines
