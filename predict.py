"""Classes for new inputs: ``python predict.py ckpt_path=PATH inputs=PATH``. See
src/mlp_template/serving/prediction.py."""

import sys

from mlp_template.command_line import start

if __name__ == "__main__":
    start(sys.argv[1:])  # first: Ctrl-C is one line from here on; so is a value Hydra cannot read

import hydra
from omegaconf import DictConfig

from mlp_template.errors import one_line_errors
from mlp_template.files import input_file, output_file
from mlp_template.serving.prediction import predict

KIND = "a folder of images, an .npy or a .csv file"


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        input_file(cfg.inputs, "inputs", KIND, "it needs one example per row", folder=True)  # one line, before any work
        if cfg.output:
            output_file(cfg.output, "output", "predictions.csv")
        predict(cfg.ckpt_path, cfg.inputs, cfg.output)


if __name__ == "__main__":
    main()
