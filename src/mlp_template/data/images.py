"""Pixels -> a class: images decoded once into floats in [0, 1], normalised with the dataset's pixel mean and std."""

from pathlib import Path

import torch
from torch import Tensor

from mlp_template.data import DatasetNotFoundError, Split, split_count, split_off, split_sizes
from mlp_template.data.datamodule import InMemoryDataModule


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
