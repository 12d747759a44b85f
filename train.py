"""Train the network: ``python train.py lr=0.01 epochs=3``. The training step lives in src/mlp_template/module.py."""

import os
import sys

import hydra
from omegaconf import DictConfig

from mlp_template.errors import UserError
from mlp_template.training import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Train once and return ``optimized_metric``: the number a sweeper (``-m hparams_search=optuna``) optimises."""
    try:
        if cfg.optimized_direction not in ("minimize", "maximize"):
            raise UserError(f"optimized_direction={cfg.optimized_direction}: use maximize or minimize")
        metrics = train(cfg)
        if cfg.optimized_metric not in metrics:
            raise UserError(f"optimized_metric={cfg.optimized_metric} is not a metric of this run: {sorted(metrics)}")
    except UserError as e:  # the user's to fix: one line, no traceback (HYDRA_FULL_ERROR=1 shows it)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        sys.exit(f"error: {e}")
    return metrics[cfg.optimized_metric]


if __name__ == "__main__":
    main()
