"""What the panels cost: ``python train.py`` with and without the callbacks that draw them, epoch by epoch.

    python -m benchmarks.panels                 # the default run, three times each way (about a minute)
    python -m benchmarks.panels data=mnist ...  # any other run: the arguments are train.py's overrides

The panels are every callback in ``conf/callbacks/default.yaml`` that is a ``mlp_template.panels.Panel`` (the
gradient norms, update ratios, weight histograms, graph, learning rate, pictures, and the divergence guard). Two
runs of the same config, one with them and one without, take turns epoch by epoch (one waits while the other
trains), so a busy machine slows both alike; the cost is the median over those turns of one epoch's time with the
panels over the same epoch's time without them. The first epoch is reported apart, and so is what they cost once,
before it (the graph is traced then).
"""

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class

from benchmarks.template import ROOT, SteppedRun, take_turns
from mlp_template.panels import Panel


def panels_and_epochs(overrides: list[str]) -> tuple[list[str], int]:
    """The callbacks of the run's config that draw panels, and its number of epochs."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    panels = [name for name, node in cfg.callbacks.items() if issubclass(get_class(node._target_), Panel)]
    return panels, cfg.trainer.max_epochs


def measure(overrides: list[str], repeats: int, threads: int, workdir: Path) -> dict:
    """Per repeat, the epoch times of the run with the panels and of the same run without them."""
    panels, epochs = panels_and_epochs(overrides)
    with_panels, without, before = [], [], {"with": [], "without": []}
    for repeat in range(repeats):
        none = [*overrides, *(f"~callbacks.{name}" for name in panels)]
        runs = []
        for name, run_overrides in (("with", overrides), ("without", none)):
            runs.append(SteppedRun(workdir / f"{repeat}-{name}", run_overrides, threads))
            runs[-1].connect()  # one start-up at a time: what each does before its first epoch is timed alone
        take_turns(runs, [], epochs)
        panelled, bare = (run.result() for run in runs)
        with_panels.append(panelled.epoch_seconds)
        without.append(bare.epoch_seconds)
        before["with"].append(panelled.before_first_epoch)
        before["without"].append(bare.before_first_epoch)
    return {"overrides": overrides, "panels": panels, "with": with_panels, "without": without,
            "before_first_epoch": before}


def summary(result: dict) -> dict[str, float]:
    """The panels' cost as fractions of an epoch: per later epoch (median, spread), the first epoch, the run."""
    later = [a / b - 1 for run, base in zip(result["with"], result["without"], strict=True)
             for a, b in zip(run[1:], base[1:], strict=True)] or [float("nan")]
    first = [run[0] / base[0] - 1 for run, base in zip(result["with"], result["without"], strict=True)]
    whole = [sum(run) / sum(base) - 1 for run, base in zip(result["with"], result["without"], strict=True)]
    quartiles = statistics.quantiles(later, n=4) if len(later) > 1 else [later[0]] * 3
    return {"epoch": statistics.median(later), "epoch_q1": quartiles[0], "epoch_q3": quartiles[2],
            "pairs": len(later), "first_epoch": statistics.median(first), "run": statistics.median(whole),
            "epoch_seconds_without": statistics.median(s for base in result["without"] for s in base[1:] or base),
            "before_first_epoch": statistics.median(result["before_first_epoch"]["with"])
            - statistics.median(result["before_first_epoch"]["without"])}


def lines(result: dict, cost: dict[str, float]) -> list[str]:
    command = " ".join(["python train.py", *result["overrides"]])
    return [
        f"{command}: with and without the panels ({', '.join(result['panels'])}), taking turns epoch by epoch, "
        f"{len(result['with'])} times",
        f"an epoch without them: {cost['epoch_seconds_without'] * 1000:.0f} ms (median)",
        f"the panels' cost per epoch: {100 * cost['epoch']:+.1f} % (median of {cost['pairs']} epoch pairs; "
        f"quartiles {100 * cost['epoch_q1']:+.1f} % to {100 * cost['epoch_q3']:+.1f} %)",
        f"the first epoch: {100 * cost['first_epoch']:+.1f} %; all epochs together: {100 * cost['run']:+.1f} %",
        f"once, before the first epoch (the graph is traced then): {cost['before_first_epoch'] * 1000:+.0f} ms",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides, e.g. data=mnist batch_size=64")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs; each gives one pair per epoch")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="compute threads per run")
    parser.add_argument("--json", type=Path, help="also write the epoch times and the summary here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlp-template-panels-") as workdir:
        result = measure(args.overrides, args.repeats, args.threads, Path(workdir))
    result["cost"] = summary(result)
    print(*lines(result, result["cost"]), sep="\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
