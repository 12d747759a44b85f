"""The HPARAMS tab: one row per run, its knobs beside the metrics of the weights it tested.

Each run writes a sub-run, ``<run>/tested``: its hyperparameters (TensorBoard's record of a trial: a session start
and end) and the tested checkpoint's ``val/*`` and ``test/*`` at that checkpoint's epoch, so in SCALARS they are
the tested point on the curves. No experiment summary is written: TensorBoard then builds the table from every run
it loads and ticks first the hyperparameters whose values differ between them (what a sweep varies); it ticks five.
"""

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from mlp_template.runs.config import POSITIVE_INT, RULES, SEED
from mlp_template.runs.folders import run_choices

TESTED = "tested"  # the sub-run of the tested weights' metrics and the run's hyperparameters
KNOBS = ("data", "lr", "batch_size", "epochs", "optimizer", "model.hidden_sizes")  # shown for every run
NOT_KNOBS = ("ckpt_path", "output_dir", "data.root", "data.path", "hparams_search")  # where, not how
# Knobs that only take whole numbers: shown as text, as the table would print batch_size 32 as 32.000. Every other
# number is a number, whatever a job typed (lr=1 beside lr=0.1, val_size=180 beside 0.1), so each column has one type.
WHOLE = [key for key, rule in RULES.items() if rule in (POSITIVE_INT, SEED)]


def hyperparameters(cfg: DictConfig) -> dict[str, float | str]:
    """The knobs of every run (``KNOBS``) and the keys this run's command line set (``seed=1``, ``model.dropout``).

    Numbers are numbers (filters by range, a log axis), except the knobs that only take whole numbers (``WHOLE``);
    the rest is text.
    """
    keys = list(KNOBS)
    if HydraConfig.initialized():
        keys += [line.split("=")[0].lstrip("+~") for line in HydraConfig.get().overrides.task]
    params = {}
    for key in dict.fromkeys(keys):  # in order, once each
        if key.startswith("hydra") or key in NOT_KNOBS or OmegaConf.select(cfg, key, default=KeyError) is KeyError:
            continue
        value = OmegaConf.select(cfg, key)
        if key == "data":  # the option typed, data=diabetes: short, and the same for every task
            value = data_name(cfg)
        elif isinstance(value, DictConfig):  # a config group: its class, e.g. optimizer=adam -> Adam
            value = value.get("_target_", "").rsplit(".", 1)[-1] or OmegaConf.to_yaml(value).strip()
        elif not isinstance(value, str):
            value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        number = isinstance(value, int | float) and not isinstance(value, bool) and key not in WHOLE
        params[key.removeprefix("model.")] = float(value) if number else str(value)
    return params


def data_name(cfg: DictConfig) -> str:
    """The data option a run took (``digits``, ``diabetes``, ``csv``...), from the run's own record of its command
    (a resume keeps its data whatever today's default); without one, its data module's name."""
    choice = run_choices(Path(cfg.output_dir)).get("data") if cfg.get("output_dir") else None
    if choice is None and HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("data")
    return choice or cfg.data._target_.rsplit(".", 1)[-1].removesuffix("DataModule").lower()


def write_tested(
    run_dir: Path, params: dict[str, float | str], metrics: dict[str, float], epoch: int, status: str = "finished"
) -> None:
    """Write ``<run>/tested``, replacing what an earlier test of the run wrote there (``purge_step=0``); ``status``:
    ``finished``, or ``diverged at epoch N`` (panels/divergence.py), is a column of its own."""
    # torch builds TensorBoard's protos; its experiment summary is left out
    _, start, end = hparams({**params, "status": status}, {})
    with SummaryWriter(run_dir / TESTED, purge_step=0) as writer:
        writer.file_writer.add_summary(start)
        for name, value in metrics.items():
            writer.add_scalar(name, value, epoch)
        writer.file_writer.add_summary(end)
