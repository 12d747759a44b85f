"""Pixels -> a class: images decoded once into floats in [0, 1], normalised with the dataset's pixel mean and std."""

from pathlib import Path

import torch
from torch import Tensor

from mlp_template.data import (
    DataError,
    DatasetNotFoundError,
    Split,
    split_count,
    split_off,
    split_sizes,
    split_three_ways,
)
from mlp_template.data.datamodule import InMemoryDataModule, say
from mlp_template.data.image_files import class_folders, read_images


class ImageDataModule(InMemoryDataModule):
    """Images (N, C, H, W) and their classes. Subclasses set ``input_shape`` and ``output_size`` (the number of
    classes) and implement ``images`` (raw pixels in [0, 1])."""

    def __init__(self, mean: float, std: float, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.mean, self.std = mean, std

    def images(self) -> dict[str, Split]:
        """Raw ``{"train"|"val"|"test": (pixels in [0, 1], labels)}``."""
        raise NotImplementedError

    def load(self) -> dict[str, Split]:
        # Pixels scaled to mean 0 and std 1 over the training set, so the first weights start in a sane range.
        return {name: ((x - self.mean) / self.std, y) for name, (x, y) in self.images().items()}

    def preprocessing(self) -> dict:
        return {"input_mean": self.mean, "input_std": self.std}


class DigitsDataModule(ImageDataModule):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images): ships with the package, no download."""

    input_shape = (1, 8, 8)
    output_size = 10  # classes

    def __init__(self, val_size: float, test_size: float, split_seed: int, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.val_size, self.test_size, self.split_seed = val_size, test_size, split_seed

    def images(self) -> dict[str, Split]:
        from sklearn.datasets import load_digits  # imported here: only this dataset needs scikit-learn

        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8) in [0, 1]
        y = torch.tensor(digits.target, dtype=torch.long)
        val_count, test_count = split_sizes(len(x), self.val_size, self.test_size, 1, "data=digits", "images")
        rest, test = split_off(x, y, test_count, self.split_seed)
        train, val = split_off(*rest, val_count, self.split_seed)
        return {"train": train, "val": val, "test": test}


class ImageFolderDataModule(ImageDataModule):
    """Your own images, one sub-folder per class under ``path`` (torchvision's ``ImageFolder`` layout): PNG, JPEG
    and the rest, of any size, decoded once at ``image_size`` x ``image_size`` pixels, grey (``channels=1``) or
    colour (3). The folder names are the class names; the pixels are normalised with the training images' mean
    and std."""

    def __init__(self, path: str, image_size: int, channels: int, val_size: float, test_size: float,
                 split_seed: int, **kwargs: float) -> None:
        super().__init__(mean=0.0, std=1.0, **kwargs)  # mean and std: the training images', once they are read
        self.path, self.image_size, self.channels = path, image_size, channels
        self.val_size, self.test_size, self.split_seed = val_size, test_size, split_seed
        self.classes: list[str] = []

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.channels, self.image_size, self.image_size)

    @property
    def output_size(self) -> int:
        return len(self.classes)

    def preprocessing(self) -> dict:
        return {**super().preprocessing(), "classes": self.classes}

    def images(self) -> dict[str, Split]:
        where = f"data.path={self.path}"
        self.classes, samples = class_folders(Path(self.path), where)
        if len(self.classes) < 2:
            raise DataError(f"{where}: one class folder ({self.classes[0]}); a classifier needs two at least, "
                            "one sub-folder of images per class")
        x = read_images([path for path, _ in samples], self.input_shape, where)  # (N, C, H, W) in [0, 1]
        counts = split_sizes(len(samples), self.val_size, self.test_size, 1, where, "images")
        y = torch.tensor([label for _, label in samples])
        splits = {name: (x[rows], y[rows]) for name, rows in split_three_ways(len(x), *counts, self.split_seed).items()}
        self.mean, self.std = float(splits["train"][0].mean()), float(splits["train"][0].std())
        say(f"{where}: {len(x):,} images of {len(self.classes)} classes ({', '.join(self.classes[:10])}"
            f"{f', ... and {len(self.classes) - 10} more' if len(self.classes) > 10 else ''}), read at "
            f"{self.image_size}x{self.image_size} pixels, {'grey' if self.channels == 1 else 'colour'}")
        return splits


class TorchvisionDataModule(ImageDataModule):
    """MNIST or FashionMNIST read by torchvision from its IDX files under ``root``; val is split off train."""

    input_shape = (1, 28, 28)
    output_size = 10  # classes
    FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

    def __init__(
        self, dataset: str, root: str, download: bool, val_size: float, split_seed: int, **kwargs: float
    ) -> None:
        super().__init__(**kwargs)
        self.dataset, self.root, self.download = dataset, Path(root), download
        self.val_size, self.split_seed = val_size, split_seed

    def prepare_data(self) -> None:
        for train in (True, False):  # with download=true, fetches the files once per node before any setup
            self.decode(train)

    def decode(self, train: bool) -> Split:
        """Decode one official split to ``(uint8 images (N, 28, 28), labels)`` through torchvision."""
        from torchvision import datasets  # imported here: only these datasets need torchvision

        try:
            ds = getattr(datasets, self.dataset)(self.root, train=train, download=self.download)
        except RuntimeError as e:  # torchvision's "Dataset not found" when the files are absent
            raw = self.root / self.dataset / "raw"
            raise DatasetNotFoundError(
                f"{self.dataset} files not found in {raw}: put {', '.join(self.FILES)} there "
                f"(gunzipped IDX files), or run with data.download=true (needs a network) [{e}]"
            ) from e
        return ds.data, ds.targets

    def images(self) -> dict[str, Split]:
        (x_train, y_train), (x_test, y_test) = self.decode(train=True), self.decode(train=False)
        train, val = split_off(unit_range(x_train), y_train, split_count(self.val_size, len(x_train)), self.split_seed)
        return {"train": train, "val": val, "test": (unit_range(x_test), y_test)}


def unit_range(images: Tensor) -> Tensor:
    """uint8 pixels (N, 28, 28) -> floats in [0, 1], (N, 1, 28, 28)."""
    return images.unsqueeze(1).float() / 255.0
