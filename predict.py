"""Classes for new inputs: ``python predict.py ckpt_path=PATH inputs=PATH``. See
src/mlp_template/serving/prediction.py."""

import hydra
from omegaconf import DictConfig

from mlp_template.errors import one_line_errors
from mlp_template.serving.prediction import predict


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        predict(cfg.ckpt_path, cfg.inputs, cfg.output)


if __name__ == "__main__":
    main()
