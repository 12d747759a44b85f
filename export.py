"""Export the network for serving: ``python export.py ckpt_path=PATH [format=onnx]``. See
src/mlp_template/serving/export.py."""

import sys

from mlp_template.command_line import start

if __name__ == "__main__":
    start(sys.argv[1:])  # first: Ctrl-C is one line from here on; so is a value Hydra cannot read

import hydra
from omegaconf import DictConfig

from mlp_template.errors import one_line_errors
from mlp_template.files import output_file
from mlp_template.serving.export import FORMATS, export


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        if cfg.output:  # a folder, or in no folder: one line, before any work
            output_file(cfg.output, "output", f"model{FORMATS.get(cfg.format, '.pt2')}")
        export(cfg.ckpt_path, cfg.format, cfg.output)


if __name__ == "__main__":
    main()
