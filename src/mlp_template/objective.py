"""What sweeps compare runs by: ``optimized_metric``, best in ``optimized_direction``.

Each data option picks them (conf/objective/). ``data=csv`` leaves both null, the task's own, since its target
decides the task once the file is read: a run settles them after reading its data (``settle``); a multirun, in the
process that launches its jobs, by reading the data once (``multirun_objective``), so its summary and an Optuna
study rank by the same metric the jobs return.
"""

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mlp_template.data.datamodule import InMemoryDataModule
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


# What decides a run's task, and so the metric that ranks it: jobs differing in one of these can differ in task.
TASK_KEYS = ("data", "data.task", "data.target", "data.path")


def multirun_objective(config: DictConfig) -> tuple[str, str]:
    """``(optimized_metric, optimized_direction)`` a multirun ranks its jobs by (and an Optuna study optimises):
    the config's, or when null the task its data holds, read once. Refused in one line when the jobs could differ
    in task (a ``TASK_KEYS`` key is swept) and the command line does not give both, or every job would refuse the
    data."""
    overrides = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    typed = {o.key_or_group for o in overrides if not o.is_sweep_override()}
    swept = [o.key_or_group for o in overrides if o.is_sweep_override()] + list(
        OmegaConf.select(config, "hydra.sweeper.params") or {})  # an Optuna search's space
    given = {"optimized_metric", "optimized_direction"} <= typed
    if (task_keys := [key for key in swept if key in TASK_KEYS]) and not given:
        raise ConfigError(f"{task_keys[0]} is swept: its jobs can differ in task, and so in the metric that ranks "
                          "them; give both, e.g. optimized_metric=val/loss optimized_direction=minimize")
    if config.optimized_metric is not None:
        return config.optimized_metric, config.optimized_direction
    validate(config)
    data: InMemoryDataModule = instantiate(config.data)
    data.read()
    return TASKS[data.task].optimized
