"""Whole processes on MNIST: ``python train.py experiment=mnist_mlp`` against a hand loop's 10 epochs.

    python -m benchmarks.whole --threads 1 --repeats 2

Each program runs start to exit, taking turns (template, hand loop, template, ...), the fastest of ``--repeats``
kept; start-up (process start to the first training step) is separated from the rest. Uses the MNIST files in
``data/MNIST/raw`` (``--mnist-root``) or writes a synthetic 60,000-image set in the same format.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import synthetic
from benchmarks.template import ROOT, clocked_result, start_clocked, thread_env


def hand_loop(root: Path, threads: int) -> dict[str, float]:
    """One ``python -m benchmarks.hand_mnist``: its wall time, start-up and test accuracy."""
    start = time.time()
    command = [sys.executable, "-m", "benchmarks.hand_mnist", str(root), "--threads", str(threads)]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=thread_env(threads), check=True)
    wall = time.time() - start
    result = json.loads(out.stdout.splitlines()[-1])
    return {"wall": wall, "startup": result["first_step"] - start, "test_acc": result["test_acc"]}


def template(root: Path, threads: int, run_dir: Path) -> dict[str, float]:
    """One ``python train.py experiment=mnist_mlp``: its wall time, start-up and val accuracy (EpochClock)."""
    child = start_clocked(run_dir, ["experiment=mnist_mlp", f"data.root={root}", f"threads={threads}"], threads)
    run = clocked_result(child, child.finish())
    metrics = json.loads(next(run_dir.rglob("metrics.json")).read_text())
    return {"wall": run.wall, "startup": run.startup, "test_acc": metrics["test/acc"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--mnist-root", type=Path, default=ROOT / "data")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlp-template-whole-") as workdir:
        root = args.mnist_root if synthetic.has_mnist(args.mnist_root) else synthetic.write_mnist(Path(workdir))
        runs: dict[str, list[dict[str, float]]] = {"template": [], "hand": []}
        for repeat in range(args.repeats):
            runs["template"].append(template(root, args.threads, Path(workdir) / f"run{repeat}"))
            runs["hand"].append(hand_loop(root, args.threads))
    source = "MNIST" if root == args.mnist_root else "synthetic MNIST-format files (60,000 + 10,000 images)"
    print(f"whole processes, {source}, {args.threads} thread(s), fastest of {args.repeats}, taking turns")
    best = {name: min(results, key=lambda r: r["wall"]) for name, results in runs.items()}
    for name, label in (("template", "python train.py experiment=mnist_mlp"), ("hand", "hand loop, 10 epochs")):
        r = best[name]
        print(f"{label:<40} wall {r['wall']:5.1f} s = start-up {r['startup']:4.1f} s + training, testing, exit "
              f"{r['wall'] - r['startup']:5.1f} s; test acc {r['test_acc']:.3f}")
    t, h = best["template"], best["hand"]
    after = (t["wall"] - t["startup"]) / (h["wall"] - h["startup"])
    print(f"template/hand: whole {t['wall'] / h['wall']:.2f}x; after start-up {after:.2f}x; start-up "
          f"{t['startup'] - h['startup']:+.1f} s")


if __name__ == "__main__":
    main()
