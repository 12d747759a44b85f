"""A run's folder: a new one per run, the same one when a run resumes, and the config the run saved there.

Hydra computes its run folder (``hydra.run.dir`` in conf/train.yaml) before the run starts, through the resolvers
registered here on import (train.py imports the package before ``@hydra.main`` reads the config).
"""

import csv
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class, instantiate
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from mlp_template.errors import UserError
from mlp_template.runs.checkpoints import replace_atomically
from mlp_template.runs.run import Run, newest_last

CLAIMED: dict[str, str] = {}  # new folders this process created, by requested name: Hydra may resolve twice


def run_dir(ckpt_path: str | None, runs: str, stamp: str) -> str:
    """``hydra.run.dir``: the folder of the run that wrote ``ckpt_path``, else a new folder ``runs/stamp``."""
    checkpoint = newest_last(Path(runs)) if ckpt_path == "last" else Path(ckpt_path) if ckpt_path else None
    if checkpoint is not None and checkpoint.parent.name == "checkpoints":
        return str(checkpoint.parent.parent)  # a resume continues the run's folder, curves and checkpoints
    return new_folder(Path(runs) / stamp)  # a bad ckpt_path is reported by the run, in one line


def new_folder(path: Path) -> str:
    """Create ``path``, or ``path_1``, ``path_2``... if another run took it: two runs never share a folder."""
    if str(path) not in CLAIMED:
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ["", *(f"_{n}" for n in range(1, 1000))]:
            try:
                (folder := path.with_name(path.name + suffix)).mkdir()  # atomic: only one process succeeds
            except FileExistsError:
                continue
            CLAIMED[str(path)] = str(folder)
            break
    return CLAIMED[str(path)]


def discard_refused_run(output_dir: str) -> None:
    """Remove what Hydra wrote for a run refused before any work: the folder this process created for it, or, for
    a resume, only this attempt's record (``.hydra/resumed_*``), leaving the run it named as it was."""
    if Path(output_dir).resolve() in {Path(folder).resolve() for folder in CLAIMED.values()}:
        shutil.rmtree(output_dir, ignore_errors=True)
    elif HydraConfig.initialized() and (subdir := HydraConfig.get().output_subdir or "").startswith(".hydra/resumed_"):
        shutil.rmtree(Path(output_dir) / subdir, ignore_errors=True)


def record_dir(output_dir: str, stamp: str) -> str:
    """``hydra.output_subdir``: ``.hydra``, or for a resume a subfolder that keeps the run's own config intact."""
    return f".hydra/resumed_{stamp}" if (Path(output_dir) / ".hydra" / "config.yaml").is_file() else ".hydra"


def run_choices(run: Path) -> dict[str, str | None]:
    """The option a run took in each config group (``optimizer: sgd``), from Hydra's record of it."""
    file = run / ".hydra" / "hydra.yaml"
    return dict(OmegaConf.load(file).hydra.runtime.choices) if file.is_file() else {}


# The data keys a resume may change: where the files are and how the examples are batched, not which examples are
# in which split (a moved or other file is compared with the checkpoint's data once read: run.py).
HOW_DATA_IS_READ = ("batch_size", "seed", "shuffle", "root", "download", "path")


def resumed_config(cfg: DictConfig, run: Run | None) -> DictConfig:
    """For ``python train.py ckpt_path=...``: the config ``run`` saved, with the keys typed on this command line.

    A resume continues the run as it was configured (not with today's defaults); ``epochs=40`` trains it longer.
    Config groups (``optimizer=adam``) cannot change mid-run: the checkpoint holds that optimizer's state; nor can
    the data and its splits (``data.split_seed``): the validation and test examples would move into training.
    """
    if run is None or run.config is None or not HydraConfig.initialized():
        return cfg  # a new run, a checkpoint from outside a run folder, or a caller without a command line
    saved = run.config
    groups = set(HydraConfig.get().runtime.choices)
    used = run_choices(run.folder)
    for override in OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task)):
        key = override.key_or_group
        if key in groups:
            if used.get(key) != override.value():  # the run's own choice, typed again, is fine
                raise UserError(f"{override.input_line}: a resumed run keeps its config groups ({key}="
                                f"{used.get(key)}); change values, or start a new run")
            continue
        if key.startswith("data.") and key.removeprefix("data.") not in HOW_DATA_IS_READ:
            if OmegaConf.select(saved, key) != OmegaConf.select(cfg, key):  # the run's own value, typed again, is fine
                raise UserError(f"{override.input_line}: a resumed run keeps its data and splits ({key}="
                                f"{OmegaConf.select(saved, key)}); start a new run for other data")
            continue
        if override.is_delete():
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(saved, parent) if parent else saved
            if isinstance(node, DictConfig):
                node.pop(leaf, None)
        else:
            OmegaConf.update(saved, key, OmegaConf.select(cfg, key), merge=False, force_add=True)
    OmegaConf.set_struct(saved, True)  # typos fail, as in a composed config
    return saved


def record_resumed_config(cfg: DictConfig) -> None:
    """Once the config ``resumed_config`` made passed its checks: save what runs, as the run's config for the next
    resume or eval, and as the record of this resume (Hydra's holds today's defaults composed with this command
    line)."""
    text = OmegaConf.to_yaml(cfg).encode()
    for folder in filter(None, (".hydra", HydraConfig.get().output_subdir)):
        replace_atomically(Path(cfg.output_dir) / folder / "config.yaml", lambda file: file.write(text))


@contextmanager
def own_folder_warnings_quiet(resuming: bool) -> Iterator[None]:
    """While a resumed run sets up and trains, quiet what Lightning warns of when it writes into the folder it
    continues, as it does on purpose: that the checkpoint folder is not empty, and that CSVLogger empties
    ``metrics.csv`` (``build_logger`` writes the earlier rows back). A new run gets a new folder, so there the same
    warnings still point at a real clash; and the filters end with the block, not with the process."""
    with warnings.catch_warnings():
        if resuming:
            warnings.filterwarnings("ignore", r"Checkpoint directory .* exists and is not empty")
            warnings.filterwarnings("ignore", r"Experiment logs directory .* exists and is not empty")
        yield


def build_logger(cfg: DictConfig, first_epoch: int | None) -> Logger:
    """The run's logger; a resumed run appends to the curves already in its folder from ``first_epoch`` on.

    Points already there from ``first_epoch`` on (a resume from an older checkpoint, a crash after the last save)
    are dropped, so each epoch keeps one point: TensorBoard hides them (``purge_step``), and Lightning's CSVLogger,
    which starts ``metrics.csv`` afresh, gets the earlier rows back. ``None``: a new run.
    """
    logger_class = get_class(cfg.logger._target_)
    if first_epoch is not None and issubclass(logger_class, TensorBoardLogger):
        return instantiate(cfg.logger, purge_step=first_epoch)
    logger = instantiate(cfg.logger)
    if first_epoch is not None and issubclass(logger_class, CSVLogger):
        rows = read_rows(Path(logger.log_dir) / "metrics.csv", first_epoch)
        for row in rows:  # logger.experiment (created here) has emptied metrics.csv
            logger.experiment.log_metrics(row, step=int(row.pop("step")))
        logger.save()
    return logger


def read_rows(file: Path, before_step: int) -> list[dict[str, float]]:
    """The rows of a metrics.csv logged before ``before_step``, their empty cells left out."""
    if not file.is_file():
        return []
    with open(file, newline="") as f:
        rows = [{key: float(value) for key, value in row.items() if value} for row in csv.DictReader(f)]
    return [row for row in rows if row.get("step", 0) < before_step]


OmegaConf.register_new_resolver("run_dir", run_dir, use_cache=True, replace=True)
OmegaConf.register_new_resolver("record_dir", record_dir, use_cache=True, replace=True)
