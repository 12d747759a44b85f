"""A trained network on new inputs: the forward pass alone, with the same preprocessing the run trained with.

Inputs are what the run's data module read before preprocessing: image files, read at the run's size and colour
as ``data=images`` reads them (data/image_files.py), or rows of pixels in [0, 1] at that size (8x8 for digits,
28x28 for MNIST; bright strokes on a dark background); for a table, rows with the training table's columns.
``Predictor`` puts the run's normalisation in front of the network (and, for a number, its units behind it), so
prediction and the exported model (export.py) preprocess identically.
"""

import csv
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from mlp_template.data.image_files import SUFFIXES, class_folders, image_files, read_images
from mlp_template.errors import UserError
from mlp_template.files import utf8_lines
from mlp_template.runs.run import Run, served_run
from mlp_template.tasks import TASKS


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


def read_inputs(path: Path, image_shape: tuple[int, ...]) -> tuple[list[str], Tensor, list[str] | None]:
    """``(names, pixels, true classes or None)`` from an image file, a folder of images, a folder of class folders
    (their names are the true classes), or an .npy / .csv with one example per row."""
    where = f"inputs={path}"
    if path.is_dir() or path.suffix.lower() in SUFFIXES:
        return read_image_inputs(path, image_shape, where)
    if path.suffix == ".npy":
        try:
            rows = np.load(path, allow_pickle=False)  # no pickle: an .npy cannot run code either
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"{where}: not a numeric .npy array ({e})") from e
    elif path.suffix == ".csv":
        rows = read_csv_rows(path, image_shape)
    else:
        raise UserError(f"{where}: must be an image, a folder of images, an .npy file or a .csv file" if path.exists()
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
    return names, pixels, None


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


def read_image_inputs(
    path: Path, image_shape: tuple[int, ...], where: str
) -> tuple[list[str], Tensor, list[str] | None]:
    """One image file, the images in a folder, or a folder of class folders (``class/file`` names, true classes),
    each read as the run's training images were: its size, grey or colour (data/image_files.py)."""
    if not path.exists():
        raise UserError(f"{where}: no such file or folder")
    if path.is_file():
        return [path.name], read_images([path], image_shape, where), None
    if files := image_files(path):
        return [file.name for file in files], read_images(files, image_shape, where), None
    if not any(sub.is_dir() for sub in path.iterdir()):
        raise UserError(f"{where}: no images ({', '.join(SUFFIXES)}) in this folder, nor class folders of them")
    classes, samples = class_folders(path, where)
    files, labels = [file for file, _ in samples], [classes[label] for _, label in samples]
    return [file.relative_to(path).as_posix() for file in files], read_images(files, image_shape, where), labels


def read_csv_rows(path: Path, image_shape: tuple[int, ...]) -> np.ndarray:
    """Numbers separated by commas, one example per row; a header line is skipped."""
    from mlp_template.data.csv_file import is_number  # imported here: only a CSV's rows need it (and pandas)

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


def predict(ckpt_path: str, inputs: str, output: str | None) -> Path:
    """Write ``output`` (default ``<run>/predictions/<inputs name>.csv``): for each input, the predicted class and
    the probability of each class, or the predicted number."""
    run = served_run(ckpt_path)
    data = run.data
    if data["task"] == "next_token":
        raise UserError(f"ckpt_path={run.path}: a next-token network writes words: python generate.py "
                        f"ckpt_path={ckpt_path}")
    predictor = load_predictor(run)
    table = None
    if "kinds" in data:  # a table's network: rows with the training table's columns
        from mlp_template.data.encoding import read_rows  # imported here: only tables need pandas

        table, x, lines = read_rows(Path(inputs), data)
        for line in lines:
            print(line)
        names, truth = [str(row) for row in range(1, len(x) + 1)], None  # rows counted from 1 under the header
    else:
        names, x, truth = read_inputs(Path(inputs), tuple(data["input_shape"]))
        if truth and (unknown := sorted(set(truth) - set(predictor.task.names))):
            raise UserError(f"inputs={inputs}: the class folder {unknown[0]} is no class of this network; its classes: "
                            f"{', '.join(predictor.task.names)}")
    with torch.no_grad():
        outputs = torch.cat([predictor(batch) for batch in x.split(1024)])  # the forward pass only
    out = Path(output) if output else run.folder / "predictions" / f"{Path(inputs).resolve().stem}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    header, rows = predictor.task.table(outputs, f"predicted_{data.get('target', 'class')}")
    if table is not None:  # every input column as read (the target's true value too, where given), then the answers
        table.assign(**dict(zip(header, zip(*rows, strict=True), strict=True))).to_csv(out, index=False)
    else:
        with open(out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["input", *header])
            writer.writerows([name, *row] for name, row in zip(names, rows, strict=True))
    print(f"{len(names)} predictions: {out.resolve()}")
    if truth:  # a folder of class folders: how many the network gets right
        right = sum(row[0] == true for row, true in zip(rows, truth, strict=True))
        print(f"accuracy {right / len(truth):.4f} ({right} of {len(truth)} images in their class folders)")
    return out
