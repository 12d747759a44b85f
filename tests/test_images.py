"""data=images: your own images, one sub-folder per class, of any size, grey or colour: a short run classifies
them, predict.py names each new file and its class, and a bad folder gets one line."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from mlp_template.serving.prediction import predict
from mlp_template.training import train
from tests.conftest import compose_config
from tests.test_tasks import run_config
from train import main

CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
NEW = 100  # the last digits, kept out of the training folder: new images for predict.py


def save_png(pixels: np.ndarray, path: Path, index: int) -> None:
    """An 8x8 digit in [0, 16] as an RGB PNG, tinted, at 16x16 or 24x24 pixels (every other one): two sizes."""
    scale = 2 if index % 2 else 3
    grey = np.kron(pixels / 16.0, np.ones((scale, scale)))
    tint = np.array([1.0, 0.6 + 0.4 * (index % 3) / 2, 0.5 + 0.5 * (index % 5) / 4])  # strokes of several colours
    Image.fromarray((grey[..., None] * tint * 255).round().astype(np.uint8), "RGB").save(path)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scikit-learn's digits as a user's folders: ``train`` with a sub-folder per class (its name, in words),
    ``new`` holding loose PNGs, and ``labelled`` the same new PNGs in class folders."""
    root = tmp_path_factory.mktemp("images")
    digits = load_digits()
    for i, (pixels, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folders = [root / "train" / CLASSES[label]] if i < len(digits.images) - NEW else \
            [root / "new", root / "labelled" / CLASSES[label]]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            save_png(pixels, folder / f"digit{i:04d}.png", i)
    return {name: root / name for name in ("train", "new", "labelled")}


@pytest.fixture(scope="module")
def images_run(tmp_path_factory: pytest.TempPathFactory, folders: dict[str, Path]) -> tuple[Path, dict[str, float]]:
    run_dir = tmp_path_factory.mktemp("images_run")
    return run_dir, train(run_config(run_dir, "data=images", f"data.path={folders['train']}", "data.image_size=8",
                                     "optimizer=adam", "lr=0.01", "batch_size=128", "epochs=3"))


def read_predictions(path: Path) -> dict[str, str]:
    with open(path, newline="") as f:
        return {row["input"]: row["predicted_class"] for row in csv.DictReader(f)}


def test_own_images_are_classified_and_predict_names_each_file_and_its_class(
    tmp_path: Path, images_run, folders: dict[str, Path], capsys
) -> None:
    run_dir, metrics = images_run
    assert metrics["test/acc"] >= 0.90
    checkpoint = str(run_dir / "checkpoints" / "last.ckpt")
    data = torch.load(checkpoint, weights_only=True)["hyper_parameters"]["data"]
    assert data["classes"] == sorted(CLASSES) and data["input_shape"] == [1, 8, 8]  # the folders' names, grey
    labels = load_digits().target[-NEW:]
    predicted = read_predictions(predict(checkpoint, str(folders["new"]), str(tmp_path / "new.csv")))
    assert sorted(predicted) == sorted(p.name for p in folders["new"].iterdir())  # each file, by its name
    right = [predicted[f"digit{1797 - NEW + i:04d}.png"] == CLASSES[label] for i, label in enumerate(labels)]
    assert np.mean(right) >= 0.85
    capsys.readouterr()
    labelled = read_predictions(predict(checkpoint, str(folders["labelled"]), str(tmp_path / "labelled.csv")))
    assert labelled == {f"{CLASSES[label]}/digit{1797 - NEW + i:04d}.png": predicted[f"digit{1797 - NEW + i:04d}.png"]
                        for i, label in enumerate(labels)}
    assert f"accuracy {np.mean(right):.4f} ({sum(right)} of {NEW} images in their class folders)" in \
        capsys.readouterr().out
    one = next(folders["new"].iterdir())
    assert read_predictions(predict(checkpoint, str(one), str(tmp_path / "one.csv"))) == {one.name: predicted[one.name]}


def test_colour_is_kept_with_three_channels(tmp_path: Path, folders: dict[str, Path]) -> None:
    run_dir = tmp_path / "run"
    train(run_config(run_dir, "data=images", f"data.path={folders['train']}", "data.image_size=12", "data.channels=3",
                     "debug=fast"))
    data = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]["data"]
    assert data["input_shape"] == [3, 12, 12]
    one = next(folders["new"].iterdir())
    assert list(read_predictions(predict(str(run_dir / "checkpoints" / "last.ckpt"), str(one), None))) == [one.name]


def test_the_training_pixels_are_the_files_at_the_run_size(tmp_path: Path, folders: dict[str, Path]) -> None:
    from hydra.utils import instantiate

    data = instantiate(compose_config(tmp_path, "data=images", f"data.path={folders['train']}", "data.image_size=8",
                                      "data.channels=3").data)
    data.read()
    x, _ = data.examples["train"]
    pixels = x * data.std + data.mean  # back to [0, 1]
    assert x.shape[1:] == (3, 8, 8) and pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    assert (pixels[:, 0] - pixels[:, 2]).abs().max() > 0.1  # red and blue differ: the tint is kept


def write_bad(root: Path, case: str) -> None:
    """A folder of images as it should not be."""
    if case == "no folder":
        return
    for name in ("cat", "dog") if case != "one class" else ("cat",):
        (root / name).mkdir(parents=True)
        if not (case == "an empty class folder" and name == "dog"):
            Image.new("RGB", (5, 7), (200, 10, 10)).save(root / name / "a.png")
    if case == "an unreadable image":
        (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")


BAD = {  # the error after "error: data.path=<folder>: "
    "no folder": "no such folder; give a folder with one sub-folder of images per class",
    "one class": "one class folder (cat); a classifier needs two at least",
    "an empty class folder": "the class folder dog holds no image (.jpg, .jpeg, .png",
    "an unreadable image": "{root}/dog/broken.png is not an image Pillow can read",
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_image_folder_gets_one_line_before_any_work(tmp_path: Path, case: str) -> None:
    root = tmp_path / "my_images"
    write_bad(root, case)
    with pytest.raises(SystemExit) as stop:
        main(compose_config(tmp_path / "run", "data=images", f"data.path={root}"))
    message = str(stop.value.code)
    assert message.startswith(f"error: data.path={root}: {BAD[case].format(root=root)}")
    assert "\n" not in message and not (tmp_path / "run").exists()
