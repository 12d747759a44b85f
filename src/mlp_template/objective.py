"""What sweeps compare runs by: ``optimized_metric``, best in ``optimized_direction``.

Each data option picks them (conf/objective/). ``data=csv`` leaves both null, the task's own, since its target
decides the task once the file is read: a run settles them after reading its data (``settle``); a multirun, in the
process that launches its jobs, by reading the data once (``task_objective``), so its summary and an Optuna study
rank by the same metric the jobs return.
"""

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mlp_template.data import InMemoryDataModule
from mlp_template.runs.config import ConfigError, validate
from mlp_template.tasks import TASKS, metric_names


def settle(cfg: DictConfig, task: str) -> None:
    """Give a null ``optimized_metric`` and ``optimized_direction`` the values of ``task``, and check that the
    metric is one a run of ``task`` reports."""
    if (cfg.optimized_metric is None) != (cfg.optimized_direction is None):
        raise ConfigError(f"optimized_metric={cfg.optimized_metric} optimized_direction={cfg.optimized_direction}: "
                          "give both, or neither (null: the task's own)")
    if cfg.optimized_metric is None:
        cfg.optimized_metric, cfg.optimized_direction = TASKS[task].optimized
    if cfg.optimized_metric not in (names := metric_names(task)):
        metric, direction = TASKS[task].optimized
        raise ConfigError(f"optimized_metric={cfg.optimized_metric}: a {task} run reports {', '.join(names)}; "
                          f"e.g. optimized_metric={metric} optimized_direction={direction}")


def task_objective(config: DictConfig) -> tuple[str, str]:
    """``(optimized_metric, optimized_direction)`` of the task a multirun's data holds, read once; refused in one
    line when the jobs could differ in task (a data key is swept) or every job would refuse the data."""
    if swept := [key for key in swept_keys(config) if key == "data" or key.startswith("data.")]:
        raise ConfigError(f"{swept[0]} is swept and optimized_metric is null (the task's own, which the data decides):"
                          " give both, e.g. optimized_metric=val/loss optimized_direction=minimize")
    validate(config, resume=False)
    data: InMemoryDataModule = instantiate(config.data)
    data.read()
    return TASKS[data.task].optimized


def swept_keys(config: DictConfig) -> list[str]:
    """The keys a multirun varies: its sweep overrides (``lr=0.01,0.1``, ``choice(...)``) and an Optuna search's
    ``params``."""
    overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return [o.key_or_group for o in overrides if o.is_sweep_override()] + list(params)
