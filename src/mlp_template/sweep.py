"""Many runs compared: after ``python train.py -m ...``, each job's final metrics side by side, best first.

Hydra calls ``SweepSummary.on_multirun_end`` once every job has returned, in the process that launched them
(whichever launcher ran the jobs); each job left its final metrics in ``metrics.json`` in its own folder.
Hydra's callbacks: https://hydra.cc/docs/experimental/callbacks/
"""

import csv
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from lightning import Trainer
from omegaconf import DictConfig, OmegaConf

from mlp_template.errors import UserError
from mlp_template.objective import multirun_objective
from mlp_template.panels import tensorboard_command

SHARED = "MLP_TEMPLATE_SHARED_OVERRIDES"  # the overrides every job of the running multirun shares (JSON list)


@dataclass
class Job:
    """One job of a multirun: its folder (also its TensorBoard run), overrides and final metrics."""

    run: str
    overrides: list[str]
    metrics: dict[str, float]  # a diverged job's: its last finite ones; empty when the job was cut off
    status: str  # finished, diverged at epoch N (panels/divergence.py), or no metrics.json: cut off or failed

    @classmethod
    def read(cls, sweep_dir: Path, folder: Path) -> "Job":
        metrics_file = folder / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        return cls(
            run=str(folder.relative_to(sweep_dir)),
            overrides=list(OmegaConf.load(folder / ".hydra" / "overrides.yaml")),
            status=metrics.pop("status", "finished") if metrics_file.exists() else "no metrics.json: cut off or failed",
            metrics=metrics,
        )


class SweepSummary(Callback):
    """Prints a multirun's jobs ranked by ``metric`` and writes them to ``summary.csv`` in the multirun folder."""

    def __init__(self, metric: str | None, direction: str | None) -> None:
        self.metric, self.direction = metric, direction  # None: the task's own, known once the data is read

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Tell the jobs (run in this process, or in processes it starts) which overrides they all share, so their
        folders, and their names in TensorBoard, show only what differs between them (``job_name``)."""
        overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
        os.environ[SHARED] = json.dumps([canonical(o) for o in overrides if not o.is_sweep_override()])
        try:  # the metric the jobs return: the config's, or the task's own (objective.py)
            self.metric, self.direction = multirun_objective(config)
        except UserError as e:  # SystemExit: Hydra turns a callback's exceptions into warnings and goes on
            sys.exit(f"error: {e}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = [Job.read(sweep_dir, path.parent.parent) for path in sweep_dir.rglob(".hydra/overrides.yaml")]
        jobs.sort(key=self.rank_key)
        columns = self.columns(jobs)
        with open(sweep_dir / "summary.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["rank", "run", *columns, "status", "overrides"])
            for rank, job in enumerate(jobs, start=1):
                values = [job.metrics.get(name, "") for name in columns]
                ranked = job.status == "finished" and self.metric in job.metrics
                writer.writerow([rank if ranked else "", job.run, *values, job.status, " ".join(job.overrides)])
        print(f"\nsweep summary, best {self.metric} first ({self.direction}): {sweep_dir / 'summary.csv'}")
        print(table(jobs, columns))
        print(f"see the curves: {tensorboard_command(sweep_dir)}")

    def columns(self, jobs: list[Job]) -> list[str]:
        """The metric the sweep ranks by, then the tested weights' other validation and test metrics (the task's:
        val/acc, or val/mae and val/r2, or val/perplexity)."""
        found = {name for job in jobs for name in job.metrics if name.startswith(("val/", "test/"))}
        ordered = sorted(found, key=lambda name: (name.startswith("test/"), name.endswith("/loss"), name))
        return [self.metric, *(name for name in ordered if name != self.metric)]

    def rank_key(self, job: Job) -> tuple[bool, bool, float]:
        """Finished jobs first, best first; then the diverged ones by their last finite metric; jobs cut off before
        writing their metrics last."""
        value = job.metrics.get(self.metric, math.nan)
        return job.status != "finished", math.isnan(value), -value if self.direction == "maximize" else value


def job_name(overrides: list[str], excluded: list[str], fallback: str) -> str:
    """``hydra.sweep.subdir``: a job's folder, named by the overrides that differ between the jobs of its multirun
    (``lr=0.01``), so that TensorBoard's short Trial ID column tells them apart; a swept path as one folder name
    (``data.path=v1_data.csv``). Hydra's ``override_dirname`` (``fallback``, without the ``excluded`` keys) when none
    differs or the multirun did not say what they share."""
    if SHARED not in os.environ:
        return fallback
    shared = set(json.loads(os.environ[SHARED]))
    parsed = OverridesParser.create().parse_overrides(overrides)
    differing = [o for o in parsed if canonical(o) not in shared]
    names = [f"{o.get_key_element()}={flat(o.value())}" if o.key_or_group in excluded else o.input_line
             for o in differing]
    return ",".join(sorted(names)) or fallback


def flat(path: str) -> str:
    """A path as one folder name, as distinct as the paths are: ``/data/v1/t.csv`` -> ``data_v1_t.csv``."""
    return "_".join(part for part in Path(path).parts if part not in ("/", "..", "."))


def canonical(override: Override) -> str:
    """An override as Hydra reads it, whatever its spacing or quoting: ``[64, 32]`` and ``[64,32]`` are one value."""
    return f"{override.get_key_element()}={override.get_value_element_as_str()}"


def table(jobs: list[Job], columns: list[str]) -> str:
    """Jobs as aligned text rows, with the overrides their run name does not show; those of every job once below."""
    shared = set.intersection(*(set(job.overrides) for job in jobs)) if jobs else set()
    lines = ["  ".join(f"{name:>9}" for name in columns) + "  run"]
    for job in jobs:
        cells = [f"{job.metrics[name]:9.4f}" if name in job.metrics else f"{'-':>9}" for name in columns]
        # A run name is Hydra's override_dirname, "key=value,key=value"; trial_<n> names show no overrides.
        unnamed = [o for o in job.overrides if o not in shared and f",{o}," not in f",{job.run},"]
        lines.append("  ".join(cells) + f"  {job.run}" + (f"  [{' '.join(unnamed)}]" if unnamed else "")
                     + ("" if job.status == "finished" else f"  ({job.status})"))
    if shared:
        lines.append(f"every job: {' '.join(sorted(shared))}")
    return "\n".join(lines)


def refuse_local_ddp_in_multirun(trainer: Trainer) -> None:
    """Stop a sweep of DDP jobs that Lightning would start by re-running the command line: it holds ``-m``.

    For DDP on one machine, Lightning starts ranks 1.. by running ``sys.argv`` again; inside a multirun that command
    is the whole sweep. Where the cluster starts the processes (SLURM tasks, torchrun) nothing is re-run.
    """
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN or trainer.world_size == 1:
        return
    if not trainer.strategy.cluster_environment.creates_processes_externally:
        raise UserError(
            "trainer=ddp in a local multirun (-m): Lightning would re-run the whole sweep in every rank; "
            "run one `python train.py ... trainer=ddp` per setting, or sweep on SLURM (hydra/launcher=slurm)"
        )


OmegaConf.register_new_resolver("job_name", job_name, replace=True)
