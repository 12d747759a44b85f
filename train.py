"""Train the network: ``python train.py lr=0.01 epochs=3``. The training step lives in src/mlp_template/module.py."""

import sys

from mlp_template.command_line import start

if __name__ == "__main__":
    start(sys.argv[1:], resumable=True)  # first: Ctrl-C is one line from here on; so is a value Hydra cannot read

import gc
import math
import os

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mlp_template.errors import UserError, quiet_warnings_nobody_can_act_on
from mlp_template.training import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Train once and return ``optimized_metric``: the number a sweeper (``-m hparams_search=optuna``) optimises.

    With ``find_lr=true`` it runs the learning-rate range test instead, trains nothing and returns None.
    """
    try:
        metrics = train(cfg)  # checks every config value first, and settles a null optimized_metric (objective.py)
    except UserError as e:  # the user's to fix: one line, no traceback (HYDRA_FULL_ERROR=1 shows it)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        # One job of a sweep (say, a diverging lr): report it and let the sweep go on to the next.
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            print(f"error: {e}", file=sys.stderr)
            return math.nan
        sys.exit(f"error: {e}")
    return metrics.get(cfg.optimized_metric, math.nan)  # nan: a resumed run with no epoch left only tested


if __name__ == "__main__":
    # The ~0.5M objects the imports created live as long as the process; frozen, full garbage collections skip
    # them, which saves over 15 % of a default run's wall time (docs/speed.md: `time python train.py`).
    gc.freeze()
    quiet_warnings_nobody_can_act_on()
    main()
