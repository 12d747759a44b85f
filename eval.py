"""Test a checkpoint on its run's test split: ``python eval.py ckpt_path=PATH``. See
src/mlp_template/serving/evaluation.py."""

import sys

from mlp_template.command_line import start

if __name__ == "__main__":
    start(sys.argv[1:])  # first: Ctrl-C is one line from here on; so is a value Hydra cannot read

import hydra
from omegaconf import DictConfig

from mlp_template.errors import one_line_errors, quiet_warnings_nobody_can_act_on
from mlp_template.serving.evaluation import evaluate


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> dict[str, float]:
    with one_line_errors():
        return evaluate(cfg.ckpt_path)


if __name__ == "__main__":
    quiet_warnings_nobody_can_act_on()
    main()
