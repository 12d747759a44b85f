"""A trained network on new inputs: the forward pass alone, with the same preprocessing the run trained with.

Inputs are what the run's data module read before preprocessing: for images, pixels scaled to [0, 1], bright
strokes on a dark background, at the run's image size (8x8 for digits, 28x28 for MNIST); for a table, rows with
the training table's columns. ``Predictor`` puts the run's normalisation in front of the network (and, for a
number, its units behind it), so prediction and the exported model (export.py) preprocess identically.
"""

import csv
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from mlp_template.errors import UserError
from mlp_template.files import utf8_lines
from mlp_template.model import build_network
from mlp_template.runs.checkpoints import read_checkpoint
from mlp_template.runs.config import checkpoint_config
from mlp_template.tasks import TASKS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")


class Predictor(nn.Module):
    """Raw inputs (batch, *input_shape) -> the run's normalisation -> the network -> what its task answers: logits
    (batch, classes), or a number in the target's units (batch,) (tasks.py: ``answer``)."""

    def __init__(self, network: nn.Module, data: dict) -> None:
        super().__init__()
        self.network = network.eval()  # eval: no dropout, batch norm with its running statistics
        self.data = data  # the run's data signature: task, shapes, preprocessing
        self.task = TASKS[data["task"]](data)
        self.normalised = data.get("input_mean") is not None  # token ids are looked up as they are
        if self.normalised:
            self.register_buffer("input_mean", torch.tensor(data["input_mean"], dtype=torch.float32))
            self.register_buffer("input_std", torch.tensor(data["input_std"], dtype=torch.float32))

    def forward(self, inputs: Tensor) -> Tensor:
        x = (inputs - self.input_mean) / self.input_std if self.normalised else inputs
        return self.task.answer(self.network(x))


def load_network(checkpoint: dict, model: DictConfig) -> nn.Module:
    """The network a checkpoint holds, rebuilt for the data it describes with its run's ``model`` config, in eval
    mode."""
    network = build_network(checkpoint["hyper_parameters"]["data"], OmegaConf.to_container(model))
    weights = checkpoint["state_dict"]  # the MLP's are under "model."
    network.load_state_dict({name[6:]: tensor for name, tensor in weights.items() if name.startswith("model.")})
    return network.eval()


def load_predictor(ckpt_path: str) -> tuple[Predictor, DictConfig]:
    """The checkpoint's network behind its run's preprocessing, and the run's config."""
    cfg = checkpoint_config(ckpt_path, data_files=False)
    checkpoint = read_checkpoint(Path(cfg.ckpt_path))
    network = load_network(checkpoint, cfg.model)
    return Predictor(network, checkpoint["hyper_parameters"]["data"]).eval(), cfg


def read_inputs(path: Path, image_shape: tuple[int, ...]) -> tuple[list[str], Tensor]:
    """``(names, pixels)`` from a folder of images, or an .npy / .csv with one example per row."""
    where = f"inputs={path}"
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"{where}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return [p.name for p in files], torch.stack([read_image(p, image_shape) for p in files])
    if path.suffix == ".npy":
        try:
            rows = np.load(path, allow_pickle=False)  # no pickle: an .npy cannot run code either
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"{where}: not a numeric .npy array ({e})") from e
    elif path.suffix == ".csv":
        rows = read_csv_rows(path, image_shape)
    else:
        raise UserError(f"{where}: must be a folder of images, an .npy file or a .csv file" if path.exists()
                        else f"{where}: no such file or folder")
    size = int(np.prod(image_shape))
    if rows.ndim < 2 or rows[0].size != size:
        raise UserError(f"{where}: holds rows of shape {rows.shape[1:]}; the network takes {size} pixel values "
                        f"per row (an image {'x'.join(map(str, image_shape))}), in [0, 1]")
    pixels = torch.as_tensor(rows, dtype=torch.float32).reshape(len(rows), *image_shape)
    if pixels.min() < 0 or pixels.max() > 1:
        raise UserError(f"{where}: values from {pixels.min():.3g} to {pixels.max():.3g}; pixels must be in [0, 1] "
                        "(divide by 255, or by 16 for scikit-learn's digits)")
    return [str(i) for i in range(len(rows))], pixels


def read_image(path: Path, image_shape: tuple[int, ...]) -> Tensor:
    """One image as grey pixels in [0, 1] at the run's size; shrinking averages areas, as the digits were made."""
    from PIL import Image  # imported here: only a folder of images needs it

    channels, height, width = image_shape
    try:
        with Image.open(path) as image:
            grey = image.convert("L").resize((width, height), Image.Resampling.BOX)
    except OSError as e:  # PIL's UnidentifiedImageError included: not an image, or a truncated one
        raise UserError(f"inputs={path.parent}: {path.name} is not an image PIL can read ({e})") from e
    return torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255.0).reshape(channels, height, width)


def read_csv_rows(path: Path, image_shape: tuple[int, ...]) -> np.ndarray:
    """Numbers separated by commas, one example per row; a header line is skipped."""
    lines = [line for line in utf8_lines(path, "inputs") if line.strip()]
    header = 0 if lines and all(is_number(cell) for cell in lines[0].split(",")) else 1
    rows = [line.split(",") for line in lines[header:]]
    if not rows:
        raise UserError(f"inputs={path}: no rows of numbers; it needs one example per row")
    for number, cells in enumerate(rows, 1):  # counted from 1 under the header
        text = next((cell for cell in cells if not is_number(cell)), None)
        if text is not None:  # a table's columns given to an image network, say
            raise UserError(f"inputs={path}: not a table of numbers: row {number} holds {text.strip()!r}; this "
                            f"network takes images, {int(np.prod(image_shape))} pixel values per row, in [0, 1]")
        if len(cells) != len(rows[0]):
            raise UserError(f"inputs={path}: row {number} holds {len(cells)} value(s), row 1 {len(rows[0])}; each "
                            "row is one image, all of one size")
    return np.array(rows, dtype=np.float32)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def predict(ckpt_path: str, inputs: str, output: str | None) -> Path:
    """Write ``output`` (default ``<run>/predictions/<inputs name>.csv``): for each input, the predicted class and
    the probability of each class, or the predicted number."""
    predictor, cfg = load_predictor(ckpt_path)
    data = predictor.data
    if data["task"] == "next_token":
        raise UserError(f"ckpt_path={cfg.ckpt_path}: a next-token network writes words: python generate.py "
                        f"ckpt_path={ckpt_path}")
    if "numeric" in data:  # a table's network: rows with the training table's columns
        from mlp_template.data.tables import read_rows  # imported here: only tables need pandas

        x = read_rows(Path(inputs), data)
        names = [str(row) for row in range(1, len(x) + 1)]  # rows counted from 1 under the header
    else:
        names, x = read_inputs(Path(inputs), tuple(data["input_shape"]))
    with torch.no_grad():
        outputs = torch.cat([predictor(batch) for batch in x.split(1024)])  # the forward pass only
    out = Path(output) if output else Path(cfg.output_dir) / "predictions" / f"{Path(inputs).resolve().stem}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    header, rows = predictor.task.table(outputs, f"predicted_{data.get('target', 'class')}")
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["input", *header])
        writer.writerows([name, *row] for name, row in zip(names, rows, strict=True))
    print(f"{len(names)} predictions: {out.resolve()}")
    return out
