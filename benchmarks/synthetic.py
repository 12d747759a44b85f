"""Made-up data in real formats: MNIST's IDX files for machines without MNIST, and a price list as a CSV table.

Each class gets a random 28x28 pattern of bright 4x4 blocks on black (about MNIST's share of ink); an image is its
class's pattern plus dim pixel noise, written in the IDX format (magic number, big-endian dimensions, raw uint8
bytes) that torchvision's ``MNIST`` reads. One label in ten is replaced by a random one: no network can be sure of
every image, so, as on real MNIST, the logits stay moderate. (Data a network learns with certainty drives softmax
probabilities below float32's normal range, and CPU arithmetic on such denormal numbers is many times slower: the
benchmark would time that instead of the training loop.)
"""

from pathlib import Path

import numpy as np
import pandas as pd

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def write_idx(path: Path, array: np.ndarray) -> None:
    """uint8 ``array`` as an IDX file: 0, 0, type 0x08 (uint8), number of dimensions, each dimension, the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, train_size: int = 60_000, test_size: int = 10_000, seed: int = 0) -> Path:
    """Write ``root/MNIST/raw/*-ubyte`` and return ``root`` (what ``data.root`` should be)."""
    rng = np.random.default_rng(seed)
    prototypes = np.kron(rng.random((10, 7, 7)) < 0.15, np.ones((4, 4))) * 215  # (10, 28, 28), one per class
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, size in (("train", train_size), ("t10k", test_size)):
        classes = rng.integers(0, 10, size, dtype=np.uint8)
        images = prototypes[classes] + rng.integers(0, 40, (size, 28, 28))  # <= 254: fits uint8
        mislabeled = rng.random(size) < 0.1
        labels = np.where(mislabeled, rng.integers(0, 10, size), classes)
        images_file, labels_file = FILES[split]
        write_idx(raw / images_file, images)
        write_idx(raw / labels_file, labels)
    return root


def has_mnist(root: Path) -> bool:
    """Whether ``root`` holds the four gunzipped MNIST IDX files where torchvision looks for them."""
    return all((root / "MNIST" / "raw" / name).is_file() for pair in FILES.values() for name in pair)


def write_table(path: Path, rows: int = 50_000, seed: int = 0) -> Path:
    """A price list like the diamonds one (about 54,000 rows): six numbers and three categories -> price, a
    learnable function of them plus noise, as a CSV file with a header row; returns ``path``."""
    rng = np.random.default_rng(seed)
    carat = rng.gamma(2.0, 0.4, rows)
    table = pd.DataFrame({
        "carat": carat.round(2), "depth": rng.normal(61.7, 1.4, rows).round(1),
        "table": rng.normal(57, 2.2, rows).round(),
        "x": (6.4 * carat ** (1 / 3)).round(2), "y": (6.4 * carat ** (1 / 3) + rng.normal(0, 0.05, rows)).round(2),
        "z": (3.9 * carat ** (1 / 3)).round(2),
        "cut": rng.choice(["Fair", "Good", "Very Good", "Premium", "Ideal"], rows),
        "color": rng.choice(list("DEFGHIJ"), rows),
        "clarity": rng.choice(["I1", "SI2", "SI1", "VS2", "VS1", "IF"], rows)})
    grade = table["color"].map(dict(zip("DEFGHIJ", np.linspace(1.3, 0.7, 7), strict=True)))
    table["price"] = (4000 * carat ** 1.6 * grade * rng.lognormal(0, 0.15, rows)).round()
    table.to_csv(path, index=False)
    return path
