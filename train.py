"""Train the network: ``python train.py lr=0.01 epochs=3``. The training step lives in src/mlp_template/module.py."""

import os
import sys

import hydra
from omegaconf import DictConfig

from mlp_template.errors import UserError
from mlp_template.training import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
    try:
        metrics = train(cfg)
    except UserError as e:  # the user's to fix: one line, no traceback (HYDRA_FULL_ERROR=1 shows it)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        sys.exit(f"error: {e}")
    return metrics.get("val/acc", float("nan"))  # nan: a resumed run that had no epoch left only tested


if __name__ == "__main__":
    main()
