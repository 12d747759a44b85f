"""One training run, from a composed config to a tested checkpoint: data, network, training loop, logs."""

import json

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mlp_template.data.datamodule import InMemoryDataModule
from mlp_template.errors import UserError
from mlp_template.files import output_folder
from mlp_template.hardware import compute_threads, skip_futile_gpu_probe
from mlp_template.learning_rate import find_lr
from mlp_template.module import Learner
from mlp_template.objective import settle
from mlp_template.panels import Panel
from mlp_template.panels.divergence import DivergenceError, record_divergence
from mlp_template.results import final_test
from mlp_template.runs.checkpoints import AtomicCheckpointIO
from mlp_template.runs.config import validate
from mlp_template.runs.folders import (
    build_logger,
    discard_refused_run,
    own_folder_warnings_quiet,
    record_resumed_config,
    resumed_config,
)
from mlp_template.runs.run import Run, resumed_run
from mlp_template.sweep import refuse_local_ddp_in_multirun


def plain(node: DictConfig | None) -> dict | None:
    """A resolved config group as plain containers: what a checkpoint may hold and still load weights-only."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def train(cfg: DictConfig) -> dict[str, float]:
    """Train on ``cfg.data``, test the best checkpoint, and return the final metrics (``{"lr": ...}`` with find_lr).

    With ``ckpt_path`` set, training resumes from that checkpoint, in its run's folder
    (src/mlp_template/runs/folders.py).
    """
    skip_futile_gpu_probe()
    # 1. the examples, read and checked with every config value before any work; a resume gets its run's config
    cfg, datamodule, run = checked_run(cfg)
    if run is not None and (metrics := finished(run, cfg)):
        return metrics
    L.seed_everything(cfg.seed, workers=True)  # same seed, same initial weights, same shuffles, same curves
    module = Learner(  # 2. the network, its loss and its optimizer
        data=datamodule.signature(),  # sizes, task and preprocessing come from the data, never typed twice
        model=plain(cfg.model),
        optimizer=plain(cfg.optimizer),
        scheduler=plain(cfg.scheduler),
    )
    torch.set_num_threads(compute_threads(cfg.get("threads"), module, cfg.batch_size))
    with own_folder_warnings_quiet(resuming=run is not None):
        trainer = build_trainer(cfg, module.hparams.data, run)  # 3. the loop, its logger and callbacks
        if cfg.find_lr:  # the learning-rate range test instead of training: python train.py find_lr=true
            return find_lr(trainer, module, datamodule)
        # 4. train; weights_only: loading a checkpoint never runs code from it (tensors and plain values only).
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=run.path if run else None, weights_only=True)
        except DivergenceError as e:  # a result too: HPARAMS and the sweep summary list it, with its status
            record_divergence(trainer, cfg, e)
            raise
    return final_test(trainer, module, datamodule, cfg)


def checked_run(cfg: DictConfig) -> tuple[DictConfig, InMemoryDataModule, Run | None]:
    """The config this run uses, every value checked; its data, read and checked; and the run it resumes, its
    checkpoint read once (None: a new run).

    A resume (``ckpt_path=...``) takes its run's saved config plus this command line's keys. A refused config or
    data file leaves no folder behind and the resumed run's record untouched.
    """
    try:
        run = resumed_run(cfg)  # a missing, unsafe or truncated checkpoint is named before anything else
        used = resumed_config(cfg, run)
        validate(used)  # one line per mistake
        output_folder(used.output_dir, "output_dir")  # where the logs and checkpoints go: a folder, writable
        if run is not None:
            run.check_resumable()
            run.network(used.model)  # the checkpoint's weights fit this config's network, layer by layer
        datamodule: InMemoryDataModule = instantiate(used.data)
        datamodule.read()  # a bad file or value is named here, before the network is built
        settle(used, datamodule.task)  # a null optimized_metric: the task's own, known now (objective.py)
        # The caller's config names the same metric: train.py returns it to a sweeper (a resume's used is a copy).
        cfg.optimized_metric, cfg.optimized_direction = used.optimized_metric, used.optimized_direction
        if run is not None:
            run.check_data(datamodule.signature(), same_run=used is not cfg)
    except UserError:
        discard_refused_run(cfg.output_dir)
        raise
    if used is not cfg:  # a resume in a run folder: its saved config, now checked, is what runs
        record_resumed_config(used)
    return used, datamodule, run


def finished(run: Run, cfg: DictConfig) -> dict[str, float] | None:
    """A resumed run with no epoch left to train and its metrics written (``metrics.json``): say so, and return
    them as they are; None when it has training or its final test left."""
    file, epochs = run.folder / "metrics.json" if run.folder else None, cfg.trainer.get("max_epochs", cfg.epochs)
    if run.epochs_done < epochs or file is None or not file.is_file():
        return None
    print(f"nothing left to train: the run has trained its epochs={epochs} ({run.path}); its metrics stay as they "
          f"were ({file}). To train it longer: python train.py ckpt_path={run.path} epochs={epochs * 2}")
    return json.loads(file.read_text())


def build_trainer(cfg: DictConfig, data: dict, run: Run | None) -> L.Trainer:
    """Lightning's loop with this run's logger (continuing a resumed run's curves) and callbacks (``callbacks``)."""
    logger = build_logger(cfg, run.epochs_done if run else None)  # a resume logs from its first epoch on
    trainer: L.Trainer = instantiate(cfg.trainer, logger=logger, callbacks=list(callbacks(cfg, data).values()),
                                     plugins=[AtomicCheckpointIO()])
    refuse_local_ddp_in_multirun(trainer)
    return trainer


def callbacks(cfg: DictConfig, data: dict) -> dict[str, L.Callback]:
    """The run's callbacks by their config names: the panels that apply to ``data`` (a data module's signature),
    and none switched off with ``~callbacks.NAME`` or ``NAME: null``."""
    built = {name: instantiate(node) for name, node in (cfg.get("callbacks") or {}).items() if node is not None}
    return {name: callback for name, callback in built.items()
            if not isinstance(callback, Panel) or callback.applies_to(data)}
