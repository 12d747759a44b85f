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
from torch import Tensor, nn

from mlp_template.errors import UserError
from mlp_template.runs.run import Run, served_run
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


def load_predictor(run: Run) -> Predictor:
    """The run's checkpoint: its network behind its run's preprocessing."""
    return Predictor(run.network(run.config.model), run.data).eval()


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
        rows = read_csv_rows(path)
    else:
        raise UserError(f"{where}: must be a folder of images, an .npy file or a .csv file" if path.exists()
                        else f"{where}: no such file or folder")
    size = int(np.prod(image_shape))
    if rows.ndim < 2 or rows[0].size != size:
        raise UserError(f"{where}: holds rows of shape {rows.shape[1:]}; the network takes {size} pixel values "
                        f"per row (an image {'x'.join(map(str, image_shape))}), in [0, 1]")
    names = [str(i) for i in range(len(rows))]
    refuse_non_finite(torch.as_tensor(rows).reshape(len(rows), -1), torch.float32, where, names)
    pixels = torch.as_tensor(rows, dtype=torch.float32).reshape(len(rows), *image_shape)
    if pixels.min() < 0 or pixels.max() > 1:
        raise UserError(f"{where}: values from {pixels.min():.3g} to {pixels.max():.3g}; pixels must be in [0, 1] "
                        "(divide by 255, or by 16 for scikit-learn's digits)")
    return names, pixels


def refuse_non_finite(x: Tensor, dtype: torch.dtype, where: str, rows: list[str],
                      columns: list[str] | None = None) -> None:
    """Refuse inputs (examples, values) that are NaN or infinite once cast to the network's ``dtype`` (1e39 is a
    float64, but inf as a float32), in one line naming the first one's row and column (counted from 1 if unnamed)."""
    if not x.is_floating_point():
        return  # whole numbers: finite in any float type the network uses
    bad = ~torch.isfinite(x.to(dtype).flatten(1))
    if not bad.any():
        return
    row, column = bad.nonzero()[0].tolist()
    name = columns[column] if columns and column < len(columns) else str(column + 1)
    largest = torch.finfo(dtype).max
    raise UserError(f"{where}: row {rows[row]}, column {name}: {x.flatten(1)[row, column].item():g} is not a finite "
                    f"{str(dtype).removeprefix('torch.')} number (those lie within ±{largest:.3g}); the network would "
                    "answer nan: fix or leave out that value")


def read_image(path: Path, image_shape: tuple[int, ...]) -> Tensor:
    """One image as grey pixels in [0, 1] at the run's size; shrinking averages areas, as the digits were made."""
    from PIL import Image  # imported here: only a folder of images needs it

    channels, height, width = image_shape
    with Image.open(path) as image:
        grey = image.convert("L").resize((width, height), Image.Resampling.BOX)
    return torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255.0).reshape(channels, height, width)


def read_csv_rows(path: Path) -> np.ndarray:
    """Numbers separated by commas, one example per row; a header line is skipped."""
    with open(path) as f:
        first = f.readline().split(",")
    try:
        [float(cell) for cell in first]
        header = 0
    except ValueError:
        header = 1
    try:
        return np.loadtxt(path, delimiter=",", skiprows=header, ndmin=2, dtype=np.float32)
    except ValueError as e:
        raise UserError(f"inputs={path}: not a table of numbers ({e})") from e


def predict(ckpt_path: str, inputs: str, output: str | None) -> Path:
    """Write ``output`` (default ``<run>/predictions/<inputs name>.csv``): for each input, the predicted class and
    the probability of each class, or the predicted number."""
    run = served_run(ckpt_path)
    data = run.data
    if data["task"] == "next_token":
        raise UserError(f"ckpt_path={run.path}: a next-token network writes words: python generate.py "
                        f"ckpt_path={ckpt_path}")
    predictor = load_predictor(run)
    if "numeric" in data:  # a table's network: rows with the training table's columns
        from mlp_template.data.tables import read_rows  # imported here: only tables need pandas

        x = read_rows(Path(inputs), data)
        names = [str(row) for row in range(1, len(x) + 1)]  # rows counted from 1 under the header
        refuse_non_finite(x, torch.float32, f"inputs={inputs}", names, data["numeric"])
    else:
        names, x = read_inputs(Path(inputs), tuple(data["input_shape"]))
    with torch.no_grad():
        outputs = torch.cat([predictor(batch) for batch in x.split(1024)])  # the forward pass only
    out = Path(output) if output else run.folder / "predictions" / f"{Path(inputs).resolve().stem}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    header, rows = predictor.task.table(outputs, f"predicted_{data.get('target', 'class')}")
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["input", *header])
        writer.writerows([name, *row] for name, row in zip(names, rows, strict=True))
    print(f"{len(names)} predictions: {out.resolve()}")
    return out
