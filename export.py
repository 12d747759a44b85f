"""Export the network for serving: ``python export.py ckpt_path=PATH [format=onnx]``. See
src/mlp_template/serving/export.py."""

import hydra
from omegaconf import DictConfig

from mlp_template.errors import one_line_errors
from mlp_template.serving.export import export


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        export(cfg.ckpt_path, cfg.format, cfg.output)


if __name__ == "__main__":
    main()
