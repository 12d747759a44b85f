"""Train the network: ``python train.py lr=0.01 epochs=3``. The training step lives in src/mlp_template/module.py."""

import math
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mlp_template.errors import UserError
from mlp_template.training import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = train(cfg)
    except UserError as e:  # the user's to fix: one line, no traceback (HYDRA_FULL_ERROR=1 shows it)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if HydraConfig.get().mode == RunMode.MULTIRUN:  # one job of a sweep (say, a diverging lr): on to the next
            print(f"error: {e}", file=sys.stderr)
            return math.nan
        sys.exit(f"error: {e}")
    return metrics.get("val/acc")  # None after find_lr=true, which trains nothing


if __name__ == "__main__":
    main()
