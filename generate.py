"""Words from a next-token network: ``python generate.py ckpt_path=last num=20 prefix=ma``. See
src/mlp_template/serving/generation.py."""

import sys

from mlp_template.command_line import start

if __name__ == "__main__":
    start(sys.argv[1:])  # first: Ctrl-C is one line from here on; so is a value Hydra cannot read

import hydra
from omegaconf import DictConfig

from mlp_template.errors import one_line_errors
from mlp_template.serving.generation import generate


@hydra.main(version_base="1.3", config_path="conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        generate(cfg.ckpt_path, cfg.num, cfg.prefix, cfg.temperature, cfg.seed, cfg.max_length)


if __name__ == "__main__":
    main()
