"""The trained network for serving without this project: preprocessing + network, as ``torch.export`` or ONNX.

``.pt2`` (``torch.export``): load with ``torch.export.load(path).module()`` and call it on a batch of raw inputs
(batch, *input_shape): pixels in [0, 1]; a table's encoded row (its numeric columns as they are, then a 0/1 input
per category, in the order ``<file>.inputs.json`` lists); or token ids (int64). It returns logits (batch, classes
or tokens; ``softmax`` gives probabilities), or for a number the prediction in the target's units (batch,).
``.onnx`` (the ``onnx`` extra): input ``inputs``, output ``outputs``, the same shapes, for onnxruntime and others.
TorchScript is deprecated by PyTorch in favour of ``torch.export``, so it is not offered.
"""

import json
import logging
import warnings
from pathlib import Path

import torch
from torch.export import Dim

from mlp_template.errors import UserError
from mlp_template.runs.run import served_run
from mlp_template.serving.prediction import load_predictor

FORMATS = {"torch_export": ".pt2", "onnx": ".onnx"}


def export(ckpt_path: str, file_format: str, output: str | None) -> Path:
    """Export ``ckpt_path`` to ``output`` (default ``<run>/exported/<checkpoint name><suffix>``); return the file."""
    if file_format not in FORMATS:
        raise UserError(f"format={file_format}: must be one of {', '.join(FORMATS)}")
    run = served_run(ckpt_path)
    predictor = load_predictor(run)
    path = Path(output) if output else run.folder / "exported" / f"{run.path.stem}{FORMATS[file_format]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = predictor.data
    example = torch.zeros(2, *data["input_shape"], dtype=getattr(torch, data["input_dtype"]))
    batch = {"inputs": {0: Dim("batch")}}  # any batch size
    if file_format == "torch_export":
        torch.export.save(torch.export.export(predictor, (example,), dynamic_shapes=batch), path)
    else:
        onnx_export(predictor, example, batch, path)
    # What the inputs and outputs mean: the shapes, and a table's columns and categories or a vocabulary.
    described = {key: value for key, value in data.items() if key not in ("input_mean", "input_std")}
    path.with_suffix(".inputs.json").write_text(json.dumps(described, indent=1))
    print(f"exported {run.path} -> {path.resolve()}")
    return path


def onnx_export(predictor: torch.nn.Module, example: torch.Tensor, batch: dict, path: Path) -> None:
    """ONNX through torch.export (``dynamo=True``), which needs the onnx and onnxscript packages."""
    try:
        import onnxscript  # noqa: F401  (what torch.onnx needs; checked here to say how to get it)
    except ImportError as e:
        raise UserError('format=onnx: needs the onnx extra: pip install -e ".[onnx]"') from e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.onnx's notes on its own internals, nothing to act on
        for name in ("onnxscript", "onnx_ir"):  # their optimiser narrates each pass at INFO level
            logging.getLogger(name).setLevel(logging.WARNING)
        torch.onnx.export(predictor, (example,), path, dynamo=True, verbose=False, input_names=["inputs"],
                          output_names=["outputs"], dynamic_shapes=batch, external_data=False)  # one file
