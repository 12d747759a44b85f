"""Image files -> the network's input: pixels in [0, 1], (channels, height, width), at the run's size and colour.

Training (``data=images``, data/images.py) and predict.py read files with the same functions, so a served image is
seen exactly as the training images were. The layout is torchvision's ``ImageFolder`` (one sub-folder per class),
read with its loader. No Lightning here: serving needs only this.
"""

from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mlp_template.errors import UserError

SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # ImageFolder's IMG_EXTENSIONS


def read_image(path: Path, shape: tuple[int, ...], where: str) -> Tensor:
    """One image file as pixels in [0, 1], ``shape`` (channels, height, width): grey (1) or RGB (3), resized to
    the run's size; shrinking averages areas (Pillow's BOX filter), as scikit-learn's 8x8 digits were made."""
    from PIL import Image, UnidentifiedImageError  # imported here, as torchvision: only image files need them
    from torchvision.datasets.folder import default_loader

    channels, height, width = shape
    try:
        image = default_loader(str(path))  # ImageFolder's loader: any mode Pillow reads, as RGB
    except OSError as e:  # Pillow's UnidentifiedImageError, a truncated file
        why = "in no format Pillow knows" if isinstance(e, UnidentifiedImageError) else str(e)
        raise UserError(f"{where}: {path} is not an image Pillow can read ({why})") from e
    image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.BOX)
    pixels = np.asarray(image, dtype=np.float32).reshape(height, width, channels) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()  # (H, W, C) -> (C, H, W)


def read_images(files: list[Path], shape: tuple[int, ...], where: str) -> Tensor:
    """Image files as one tensor (N, *shape), decoded once; ``where`` names the folder in errors."""
    return torch.stack([read_image(path, shape, where) for path in files])


def class_folders(root: Path, where: str) -> tuple[list[str], list[tuple[Path, int]]]:
    """``(class names, [(image file, class index)])`` of a folder of class sub-folders (``ImageFolder``'s layout and
    order); refused in one line if it has no class folders or a class folder holds no image."""
    from torchvision.datasets import ImageFolder

    if not root.is_dir():
        raise UserError(f"{where}: {'a file' if root.exists() else 'no such folder'}; give a folder with one "
                        "sub-folder of images per class, named after the class (my_images/cat/1.png, ...)")
    try:
        folder = ImageFolder(str(root), allow_empty=True)
    except FileNotFoundError as e:  # no sub-folder at all
        raise UserError(f"{where}: holds no class folders; put each class's images in a sub-folder named after "
                        "the class (my_images/cat/1.png, my_images/dog/1.png, ...)") from e
    counts = Counter(label for _, label in folder.samples)
    if empty := [name for i, name in enumerate(folder.classes) if not counts[i]]:
        raise UserError(f"{where}: the class folder {empty[0]} holds no image ({', '.join(SUFFIXES)})"
                        + (f"; {len(empty) - 1} more are empty too" if len(empty) > 1 else ""))
    return folder.classes, [(Path(path), label) for path, label in folder.samples]


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, by name."""
    return sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in SUFFIXES)
