"""Where an epoch's time goes: the template against Lightning alone and a hand loop, part by part.

    python -m benchmarks.steps                                   # the default run's data and settings
    python -m benchmarks.steps data=names                        # any train.py overrides
    python -m benchmarks.steps data=csv data.path=prices.csv data.target=price --epochs 8 --rounds 3

Every way trains the same network on the same data, built as ``train.py`` builds it (``training.checked_run`` and
``training.build_trainer``), each in a process forked from one that has read the data once, so that none inherits
what an earlier way's trainer left behind (its logger's threads, its objects for the garbage collector to scan). It
reports CPU milliseconds per epoch (the steps, the validation pass and the epoch's hooks and checkpoints;
``time.process_time``, which a busy machine disturbs less than wall time), the minimum over the epochs after the
first and over the rounds; each round runs every way once. The ways:

- the hand loop (``benchmarks/loops.py``), the same optimizer, batches cut from the same tensors;
- Lightning alone: ``build_trainer`` with no callback, no progress bar, no checkpoint (the logger stays);
- the same with ``automatic_optimization = False``, the four steps written in ``training_step``: what Lightning's
  closure around them costs;
- the same with as many empty callbacks as the template has: what Lightning's calls of their hooks cost;
- the template.

Then it runs the template once more under Lightning's ``SimpleProfiler``, which times each hook of each callback
and each part of Lightning's step from inside one run, and lists them per step and per epoch. Timing a template
without each callback in turn, one process per way, was tried: each way keeps the memory layout of its own
configuration, and that moved an epoch by up to 30 % in ways that did not repeat from one run to the next, far more
than most callbacks cost.
"""

import argparse
import gc
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.profilers import SimpleProfiler
from omegaconf import DictConfig
from torch import Tensor

from benchmarks import loops
from benchmarks.throughput import LIGHTNING_ALONE, config
from mlp_template.data.datamodule import InMemoryDataModule
from mlp_template.module import Learner
from mlp_template.training import build_trainer, checked_run, plain
from mlp_template.training import callbacks as run_callbacks


class CpuClock(L.Callback):
    """CPU seconds of each epoch, from one epoch's start to the next (or to the end of training)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.started: float | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        now = time.process_time()
        if self.started is not None:
            self.seconds.append(now - self.started)
        self.started = now

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seconds.append(time.process_time() - self.started)


class ManualLearner(Learner):
    """The template's module with the four steps written out: no closure, no automatic optimizer hooks. Lightning
    then leaves the schedule to the module (stepped here once an epoch, as configure_optimizers asks) and refuses
    ``gradient_clip_val`` and ``accumulate_grad_batches``, which the template's defaults do not set."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.automatic_optimization = False

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = super().training_step(batch, batch_idx)  # forward pass and loss
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        return loss.detach()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        if (scheduler := self.lr_schedulers()) is not None:
            scheduler.step()


def lightning_epochs(
    cfg: DictConfig, data: InMemoryDataModule, module_class: type[Learner] = Learner
) -> tuple[list[float], float]:
    """Train ``cfg.epochs`` epochs as ``train.py`` would (no final test); CPU seconds per epoch, the last val/loss."""
    L.seed_everything(cfg.seed, verbose=False)
    module = module_class(data.signature(), plain(cfg.model), plain(cfg.optimizer), plain(cfg.scheduler))
    trainer = build_trainer(cfg, module.hparams.data, None)
    clock = CpuClock()
    trainer.callbacks.append(clock)  # Trainer.callbacks: the public list of its callbacks
    trainer.fit(module, datamodule=data)
    return clock.seconds, float(trainer.callback_metrics["val/loss"])


def hand_epochs(cfg: DictConfig, data: InMemoryDataModule) -> tuple[list[float], float]:
    """The same epochs in the hand loop; CPU seconds per epoch, the last val/loss."""
    torch.manual_seed(cfg.seed)
    module = Learner(data.signature(), plain(cfg.model), plain(cfg.optimizer))
    x, y = data.splits["train"].tensors
    loop = loops.PlainLoop(module.model, module.configure_optimizers(), module.loss,
                           loops.in_memory_batches(x, y, cfg.batch_size),
                           loops.in_memory_batches(*data.splits["val"].tensors, cfg.batch_size), torch.device("cpu"))
    seconds = []
    for _ in range(cfg.epochs):
        start = time.process_time()
        loop.epoch()
        seconds.append(time.process_time() - start)
    return seconds, loop.val_loss


def in_child(train: Callable[[], object]) -> object:
    """``train()`` in a forked copy of this process; what it returns."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def run() -> None:
        gc.freeze()  # as train.py does: the objects from before the fork are never scanned again
        send.send(train())

    process = context.Process(target=run)
    process.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"a way failed (exit code {process.exitcode}); its error is above") from None
    process.join()
    return result


PER_STEP_HOOKS = ("on_train_batch_start", "on_before_backward", "on_after_backward", "on_before_optimizer_step",
                  "on_before_zero_grad", "on_train_batch_end")  # what Lightning calls on every callback, every step
# Lightning's parts of a training step, by the end of the profiler's name for them (the strategy's name varies).
STEP_PARTS = {
    "train_dataloader_next": "the next batch (the sampler's indices, the tensors cut)",
    ".batch_to_device": "the batch to the device (already there: the hooks only)",
    "run_training_batch": "the step (run_training_batch): the hooks around it, and",
    "Learner.optimizer_step": "  optimizer_step: Lightning's closure around the next three, and the update",
    ".training_step": "    training_step: forward pass and loss",
    "Learner.optimizer_zero_grad": "    zero_grad",
    ".backward": "    backpropagation",
}


def profiled(cfg: DictConfig, data: InMemoryDataModule) -> dict[str, list[float]]:
    """Train ``cfg.epochs`` epochs of the template under Lightning's SimpleProfiler; the seconds of each call of
    each profiled action (``[Callback]<state key>.<hook>``, ``run_training_batch``, ...)."""
    L.seed_everything(cfg.seed, verbose=False)
    module = Learner(data.signature(), plain(cfg.model), plain(cfg.optimizer), plain(cfg.scheduler))
    trainer = build_trainer(cfg, module.hparams.data, None)
    trainer.fit(module, datamodule=data)
    return dict(trainer.profiler.recorded_durations)


def profile_lines(durations: dict[str, list[float]], epochs: int) -> list[str]:
    """Lightning's step, part by part (us per step), and each callback's own work per epoch: in its per-step hooks,
    and in the others (its epoch's pictures, its checkpoint), in ms; the profiler adds a few us to every call."""
    steps = len(durations["run_training_batch"])
    lines = ["Lightning's training step, by its SimpleProfiler (mean per step):"]
    for suffix, what in STEP_PARTS.items():
        action = next((name for name in durations if name.endswith(suffix) and "[Callback]" not in name), None)
        if action is not None:
            lines.append(f"  {what:76s} {sum(durations[action]) / steps * 1e6:6.0f} us")
    own: dict[str, list[float]] = {}  # a callback's class: seconds in per-step hooks, in the others
    for action, seconds in durations.items():
        if action.startswith("[Callback]"):
            key, hook = action.removeprefix("[Callback]").rsplit(".", 1)
            split = own.setdefault(key.split("{")[0], [0.0, 0.0])
            split[hook not in PER_STEP_HOOKS] += sum(seconds)
    lines.append(f"each callback's own work, by the same profiler (ms per epoch, over {epochs} epochs): "
                 "in its per-step hooks (us per step) | in the others (once an epoch, or once a run)")
    for name, (per_step, rest) in sorted(own.items(), key=lambda item: -sum(item[1])):
        lines.append(f"  {name:30s} {per_step / epochs * 1e3:6.1f} ms ({per_step / steps * 1e6:4.0f} us/step) | "
                     f"{rest / epochs * 1e3:6.1f} ms")
    return lines


def ways(overrides: list[str], workdir: Path, data: InMemoryDataModule, callbacks: list[str]) -> dict:
    """Each way's name and how it trains one round: a function returning CPU seconds per epoch."""
    alone = [*(f"~callbacks.{name}" for name in callbacks), *LIGHTNING_ALONE]
    empty = [f"+callbacks.empty{i}._target_=lightning.pytorch.Callback" for i in range(len(callbacks))]

    def compose(name: str, *extra: str) -> DictConfig:
        return config(workdir / name.replace(" ", "_"), [*overrides, *extra])

    table = {
        "hand loop": lambda: hand_epochs(compose("hand"), data),
        "Lightning alone": lambda: lightning_epochs(compose("alone", *alone), data),
        "  manual optimization": lambda: lightning_epochs(compose("manual", *alone), data, ManualLearner),
        f"  + {len(callbacks)} empty callbacks": lambda: lightning_epochs(compose("empty", *alone, *empty), data),
        "the template": lambda: lightning_epochs(compose("template"), data),
    }
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per way and round; the first is warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="times every way runs; the fastest epoch counts")
    parser.add_argument("--threads", type=int, default=1, help="compute threads, every way")
    args, overrides = parser.parse_known_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be 2 or more: the first epoch is warm-up, not counted")
    torch.set_num_threads(args.threads)
    overrides = [*overrides, f"epochs={args.epochs}", f"threads={args.threads}", "trainer.accelerator=cpu"]
    with tempfile.TemporaryDirectory(prefix="mlp-template-steps-") as workdir:
        cfg, data, _ = checked_run(config(Path(workdir) / "read", overrides))
        data.setup("fit")
        callbacks = list(run_callbacks(cfg, data.signature()))  # the panels that apply to this data
        table = ways(overrides, Path(workdir), data, callbacks)
        rounds: dict[str, list[float]] = {}  # each way's fastest epoch, per round
        val_loss: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, train in table.items():
                epochs, val_loss[name] = in_child(train)
                rounds.setdefault(name, []).append(min(epochs[1:]))
        profiler = [f"+trainer.profiler._target_={SimpleProfiler.__module__}.SimpleProfiler",
                    f"+trainer.profiler.dirpath={workdir}", "+trainer.profiler.filename=profile"]  # not printed
        durations = in_child(lambda: profiled(config(Path(workdir) / "profiled", [*overrides, *profiler]), data))
    steps = -(-len(data.splits["train"]) // cfg.batch_size)
    print(f"python train.py {' '.join(overrides)}: {steps} training steps an epoch (batch {cfg.batch_size}), "
          f"{args.threads} thread(s); CPU ms per epoch, the fastest of {args.epochs - 1} epochs x {args.rounds} rounds")
    best = {name: min(fastest) for name, fastest in rounds.items()}
    print(*report(best, val_loss, steps), sep="\n")
    spread = max(rounds["the template"]) - min(rounds["the template"])
    print(f"the template's fastest epoch varied by {spread * 1e3:.1f} ms between its {args.rounds} rounds (processes)")
    print(*profile_lines(durations, args.epochs), sep="\n")


def report(best: dict[str, float], val_loss: dict[str, float], steps: int) -> list[str]:
    """A line per way: its epoch, its ratio to the hand loop's, its extra time, and the validation loss it reached."""
    lines = []
    for name, seconds in best.items():
        extra = seconds - best["hand loop"]
        extra = "" if name == "hand loop" else f"{extra * 1e3:+8.1f} ms {extra / steps * 1e6:+5.0f} us/step"
        lines.append(f"{name:32s} {seconds * 1e3:8.1f} ms  {seconds / best['hand loop']:5.2f}x hand {extra:26s} "
                     f"val/loss {val_loss[name]:.4f}")
    return lines

if __name__ == "__main__":
    main()
