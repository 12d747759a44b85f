"""Every config value checked in one place, before any data is read or any step taken: one line per mistake.

Each rule names a key, what it must be, and a check; the error reads ``key=value: must be ...``. A key a config
does not have (``scheduler.gamma`` without a scheduler) is skipped. Unknown keys and unknown group options
(``optimizer=rmsprop``) never get here: Hydra refuses them while composing, listing what exists.
"""

import math
from collections.abc import Callable
from pathlib import Path

from hydra.utils import get_class
from omegaconf import Container, DictConfig, OmegaConf

from mlp_template.errors import UserError
from mlp_template.model import ACTIVATIONS


class ConfigError(UserError):
    """A config value outside what its key allows."""


def integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fraction(value: object) -> bool:
    """A limit_*_batches value: a number of batches, or a fraction of them."""
    return (integer(value) and value >= 0) or (number(value) and 0 <= value <= 1)


def text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


POSITIVE_INT = (lambda v: integer(v) and v >= 1, "an integer >= 1")
POSITIVE = (lambda v: number(v) and v > 0, "a number > 0")
NON_NEGATIVE = (lambda v: number(v) and v >= 0, "a number >= 0")
UNIT = (lambda v: number(v) and 0 <= v < 1, "a number in [0, 1)")
BOOLEAN = (lambda v: isinstance(v, bool), "true or false")
SEED = (lambda v: integer(v) and 0 <= v < 2**32, "an integer in [0, 4294967295]")
PRECISIONS = ("32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "32", "64", 32, 64)

RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "lr": (POSITIVE[0], "a number > 0: the size of each gradient-descent step, e.g. lr=0.01"),
    "epochs": POSITIVE_INT,
    "batch_size": POSITIVE_INT,
    "seed": SEED,
    "find_lr": BOOLEAN,
    "threads": (lambda v: v is None or (integer(v) and v >= 1), "an integer >= 1, or null (by the network size)"),
    "optimized_metric": (lambda v: v is None or (isinstance(v, str) and v.split("/")[0] in ("train", "val", "test")),
                         "a metric the run reports, e.g. val/acc, val/loss, val/r2, test/acc, or null (the task's)"),
    "optimized_direction": (lambda v: v in (None, "maximize", "minimize"), "maximize, minimize, or null (the task's)"),
    "model.hidden_sizes": (lambda v: isinstance(v, list) and all(integer(n) and n >= 1 for n in v),
                           "a list of integers >= 1, one per hidden layer, e.g. [128,64]"),
    "model.activation": (lambda v: v in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
    "model.dropout": UNIT,
    "model.batch_norm": BOOLEAN,
    "model.embedding_dim": POSITIVE_INT,
    "optimizer.lr": POSITIVE,
    "optimizer.momentum": NON_NEGATIVE,
    "optimizer.weight_decay": NON_NEGATIVE,
    "optimizer.betas": (lambda v: isinstance(v, list) and len(v) == 2 and all(UNIT[0](b) for b in v),
                        "two numbers in [0, 1), e.g. [0.9,0.999]"),
    "scheduler.T_max": POSITIVE_INT,
    "scheduler.eta_min": NON_NEGATIVE,
    "scheduler.step_size": POSITIVE_INT,
    "scheduler.gamma": POSITIVE,
    "data.batch_size": POSITIVE_INT,
    "data.seed": SEED,
    "data.shuffle": BOOLEAN,
    "data.mean": (number, "a number"),
    "data.std": POSITIVE,
    "data.val_size": (lambda v: (integer(v) and v >= 1) or (number(v) and 0 < v < 1),
                      "a number of examples (an integer >= 1) or a fraction in (0, 1)"),
    "data.test_size": (lambda v: (integer(v) and v >= 1) or (number(v) and 0 < v < 1),
                       "a number of examples (an integer >= 1) or a fraction in (0, 1)"),
    "data.path": (text, "a CSV file with a header row (data=csv), a text file with a word per line (data=words), or "
                        "a folder with a sub-folder of images per class (data=images)"),
    "data.target": (lambda v: text(v) or integer(v), "the name of the column to predict, e.g. data.target=price"),
    "data.task": (lambda v: v in (None, "classification", "regression"),
                  "classification, regression, or null (chosen from the target's values)"),
    "data.context": POSITIVE_INT,
    "data.lower": BOOLEAN,
    "data.image_size": (POSITIVE_INT[0], "an integer >= 1: every image is resized to that many pixels square"),
    "data.channels": (lambda v: v in (1, 3), "1 (grey) or 3 (colour)"),
    "data.corpus": (lambda v: v in ("first_names", "surnames"), "first_names or surnames"),
    "data.split_seed": SEED,
    "data.dataset": (lambda v: v in ("MNIST", "FashionMNIST"), "MNIST or FashionMNIST"),
    "data.download": BOOLEAN,
    "trainer.max_epochs": POSITIVE_INT,
    "trainer.accelerator": (lambda v: v in ("auto", "cpu", "gpu", "cuda", "mps"), "auto, cpu, gpu, cuda or mps"),
    "trainer.devices": (lambda v: v == "auto" or (integer(v) and v >= 1) or isinstance(v, list),
                        "auto, an integer >= 1, or a list of device indices"),
    "trainer.precision": (lambda v: v in PRECISIONS, f"one of {', '.join(map(str, PRECISIONS[:8]))}"),
    "trainer.limit_train_batches": (fraction, "a number of batches, or a fraction in [0, 1]"),
    "trainer.limit_val_batches": (fraction, "a number of batches, or a fraction in [0, 1]"),
    "trainer.limit_test_batches": (fraction, "a number of batches, or a fraction in [0, 1]"),
    "trainer.num_sanity_val_steps": (lambda v: integer(v) and v >= -1, "an integer >= -1 (-1: all)"),
    "trainer.log_every_n_steps": POSITIVE_INT,
}

# The classes a config group's _target_ must name (optimizer._target_=torch.optim.RMSprop is fine), by name: the
# logger's is Lightning's, imported only when a config with a logger is checked (not by serving).
TARGETS: dict[str, tuple[str, str]] = {
    "optimizer": ("torch.optim.Optimizer", "a torch.optim optimizer class, e.g. torch.optim.SGD"),
    "scheduler": ("torch.optim.lr_scheduler.LRScheduler",
                  "a torch.optim.lr_scheduler class, e.g. torch.optim.lr_scheduler.StepLR"),
    "logger": ("lightning.pytorch.loggers.Logger",
               "a Lightning logger class, e.g. lightning.pytorch.loggers.TensorBoardLogger"),
}


def validate(cfg: DictConfig, data_files: bool = True) -> None:
    """Check every value of ``cfg``; raise a one-line ``ConfigError`` naming the first bad key. ``data_files``: the
    dataset's files will be read (not for a sweep's launcher). The checkpoint ``ckpt_path`` names is checked when it
    is read (runs/run.py)."""
    for key, (check, allowed) in RULES.items():
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if isinstance(node, DictConfig) and OmegaConf.is_missing(node, leaf):  # ??? in the yaml: give it
            raise ConfigError(f"{key}=???: required, must be {allowed}")
        value = OmegaConf.select(cfg, key, default=KeyError)
        if value is KeyError:
            continue
        value = OmegaConf.to_container(value, resolve=True) if isinstance(value, Container) else value
        if not check(value):
            raise ConfigError(f"{key}={value}: must be {allowed}")
    for group, (base, allowed) in TARGETS.items():
        target = OmegaConf.select(cfg, f"{group}._target_")
        if target is not None and not is_subclass(target, base):
            raise ConfigError(f"{group}._target_={target}: must be {allowed}")
    if OmegaConf.select(cfg, "trainer.accelerator") in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"trainer.accelerator={cfg.trainer.accelerator}: no GPU is visible here "
                              "(torch.cuda.is_available() is False); use trainer=cpu")
    if data_files:
        check_data_root(cfg)


def is_subclass(target: str, base: str) -> bool:
    try:
        return issubclass(get_class(target), get_class(base))
    except Exception:  # not importable, or not a class: Hydra raises one of several types
        return False


def check_data_root(cfg: DictConfig) -> None:
    """A dataset read from files needs ``data.root`` to be a folder (or creatable, with ``data.download=true``)."""
    root = OmegaConf.select(cfg, "data.root")
    if root is None:
        return  # the bundled digits need no files
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"data.root={root}: is a file, must be the folder holding {cfg.data.dataset}/raw/")
    if not path.exists() and not cfg.data.get("download", False):
        from mlp_template.data.images import TorchvisionDataModule  # here: serving never reads data files

        raise ConfigError(f"data.root={root}: no such folder; point it at the folder holding {cfg.data.dataset}/raw/"
                          f" ({', '.join(TorchvisionDataModule.FILES)}), or add data.download=true (needs a network)")
