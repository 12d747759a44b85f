"""Bad config values: one line naming the key, the value and what is allowed, before any data is read."""

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from mlp_template.errors import UserError, one_line_errors
from mlp_template.runs.config import ConfigError, validate
from mlp_template.training import train
from tests.conftest import compose_config, required
from tests.test_config import OPTIONS

# (overrides, the start of the error): one case per rule in src/mlp_template/runs/config.py
BAD = [
    (["lr=0"], "lr=0: must be a number > 0"),
    (["lr=-0.1"], "lr=-0.1: must be a number > 0"),
    (["lr=fast"], "lr=fast: must be a number > 0"),
    (["epochs=0"], "epochs=0: must be an integer >= 1"),
    (["epochs=2.5"], "epochs=2.5: must be an integer >= 1"),
    (["batch_size=0"], "batch_size=0: must be an integer >= 1"),
    (["seed=-1"], "seed=-1: must be an integer in [0, 4294967295]"),
    (["threads=0"], "threads=0: must be an integer >= 1, or null (by the network size)"),
    (["model.hidden_sizes=[64,0]"], "model.hidden_sizes=[64, 0]: must be a list of integers >= 1"),
    (["model.hidden_sizes=64"], "model.hidden_sizes=64: must be a list of integers >= 1"),
    (["model.activation=relux"], "model.activation=relux: must be one of relu, leaky_relu, gelu, silu, tanh, sigmoid"),
    (["model.dropout=1.0"], "model.dropout=1.0: must be a number in [0, 1)"),
    (["model.dropout=-0.1"], "model.dropout=-0.1: must be a number in [0, 1)"),
    (["model.batch_norm=maybe"], "model.batch_norm=maybe: must be true or false"),
    (["optimizer.lr=0"], "optimizer.lr=0: must be a number > 0"),
    (["optimizer.momentum=-0.9"], "optimizer.momentum=-0.9: must be a number >= 0"),
    (["optimizer.weight_decay=-1"], "optimizer.weight_decay=-1: must be a number >= 0"),
    (["optimizer=adam", "optimizer.betas=[0.9,1.0]"], "optimizer.betas=[0.9, 1.0]: must be two numbers in [0, 1)"),
    (["optimizer._target_=torch.optim.Nadamm"], "optimizer._target_=torch.optim.Nadamm: must be a torch.optim"),
    (["optimizer._target_=torch.nn.Linear"], "optimizer._target_=torch.nn.Linear: must be a torch.optim"),
    (["scheduler=cosine", "scheduler.T_max=0"], "scheduler.T_max=0: must be an integer >= 1"),
    (["scheduler=cosine", "scheduler.eta_min=-1"], "scheduler.eta_min=-1: must be a number >= 0"),
    (["scheduler=step", "scheduler.step_size=0"], "scheduler.step_size=0: must be an integer >= 1"),
    (["scheduler=step", "scheduler.gamma=0"], "scheduler.gamma=0: must be a number > 0"),
    (["scheduler=step", "scheduler._target_=torch.optim.SGD"], "scheduler._target_=torch.optim.SGD: must be a torch"),
    (["data.batch_size=-2"], "data.batch_size=-2: must be an integer >= 1"),
    (["data.seed=1.5"], "data.seed=1.5: must be an integer in [0, 4294967295]"),
    (["data.shuffle=sometimes"], "data.shuffle=sometimes: must be true or false"),
    (["data.mean=dark"], "data.mean=dark: must be a number"),
    (["data.std=0"], "data.std=0: must be a number > 0"),
    (["data.val_size=0"], "data.val_size=0: must be a number of examples (an integer >= 1) or a fraction in (0, 1)"),
    (["data.test_size=-5"], "data.test_size=-5: must be a number of examples"),
    (["data=csv", "data.target=y"], "data.path=???: required, must be a CSV file with a header row"),
    (["data=csv", "data.path=t.csv"], "data.target=???: required, must be the name of the column to predict"),
    (["data=csv", "data.path=' '", "data.target=y"], "data.path= : must be a CSV file with a header row"),
    (["data=csv", "data.path=t.csv", "data.target=y", "data.task=ranking"],
     "data.task=ranking: must be classification, regression, or null"),
    (["data=names", "data.context=0"], "data.context=0: must be an integer >= 1"),
    (["data=names", "data.corpus=cities"], "data.corpus=cities: must be first_names or surnames"),
    (["data=words", "data.path=w.txt", "data.lower=maybe"], "data.lower=maybe: must be true or false"),
    (["data=words"], "data.path=???: required, must be a CSV file with a header row (data=csv), a text file with a"),
    (["data=images", "data.path=d", "data.image_size=0"], "data.image_size=0: must be an integer >= 1"),
    (["data=images", "data.path=d", "data.channels=2"], "data.channels=2: must be 1 (grey) or 3 (colour)"),
    (["model.embedding_dim=0"], "model.embedding_dim=0: must be an integer >= 1"),
    (["data.split_seed=-3"], "data.split_seed=-3: must be an integer in [0, 4294967295]"),
    (["data=mnist", "data.dataset=CIFAR10"], "data.dataset=CIFAR10: must be MNIST or FashionMNIST"),
    (["data=mnist", "data.download=yes"], "data.download=yes: must be true or false"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0: must be an integer >= 1"),
    (["trainer.accelerator=tpu"], "trainer.accelerator=tpu: must be auto, cpu, gpu, cuda or mps"),
    (["trainer.devices=0"], "trainer.devices=0: must be auto, an integer >= 1"),
    (["trainer.precision=8"], "trainer.precision=8: must be one of 32-true, 64-true, 16-mixed"),
    (["++trainer.limit_train_batches=1.5"], "trainer.limit_train_batches=1.5: must be a number of batches, or a"),
    (["++trainer.limit_val_batches=-1"], "trainer.limit_val_batches=-1: must be a number of batches"),
    (["++trainer.limit_test_batches=all"], "trainer.limit_test_batches=all: must be a number of batches"),
    (["trainer.num_sanity_val_steps=-2"], "trainer.num_sanity_val_steps=-2: must be an integer >= -1"),
    (["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps=0: must be an integer >= 1"),
    (["logger._target_=lightning.pytorch.loggers.Nope"], "logger._target_=lightning.pytorch.loggers.Nope: must be"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD, ids=[" ".join(o) for o, _ in BAD])
def test_each_bad_value_is_named_with_what_is_allowed(tmp_path: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate(compose_config(tmp_path, *overrides))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is there: trainer=gpu is valid")
def test_a_gpu_asked_for_on_a_machine_without_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trainer.accelerator=gpu: no GPU is visible here .* use trainer=cpu"):
        validate(compose_config(tmp_path, "trainer=gpu"))


def test_data_root_must_be_a_folder(tmp_path: Path, idx_root: Path) -> None:
    missing, file = tmp_path / "nowhere", tmp_path / "file.txt"
    file.write_text("not a folder")
    with pytest.raises(ConfigError, match=rf"data.root={missing}: no such folder; .*MNIST/raw/.*data.download=true"):
        validate(compose_config(tmp_path, "data=mnist", f"data.root={missing}"))
    with pytest.raises(ConfigError, match=rf"data.root={file}: is a file, must be the folder holding FashionMNIST"):
        validate(compose_config(tmp_path, "data=fashion_mnist", f"data.root={file}"))
    validate(compose_config(tmp_path, "data=mnist", f"data.root={missing}", "data.download=true"))  # it will fetch
    validate(compose_config(tmp_path, "data=mnist", f"data.root={idx_root}"))


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_every_shipped_option_is_valid(tmp_path: Path, group: str, option: str) -> None:
    if group in ("objective", "preset"):  # picked by the data options, as a global package
        group = f"{'+' * (group == 'preset')}{group}@_global_"  # a preset is added: digits has none
    given = [f"data.{key}=x" for key in required(compose_config(tmp_path, f"{group}={option}").data)]  # data.path=...
    cfg = compose_config(tmp_path, f"{group}={option}", *given)
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():  # trainer=gpu, ddp_gpu on this machine
        with pytest.raises(UserError, match=r"trainer.accelerator=gpu: no GPU is visible here .*use trainer=cpu"):
            validate(cfg, data_files=False)
        return
    validate(cfg, data_files=False)  # data.root=data, MNIST's default, is not in a fresh clone


def test_one_line_errors_keep_the_traceback_with_hydra_full_error(monkeypatch) -> None:
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(UserError, match="lr=0"), one_line_errors():
        raise UserError("lr=0: must be a number > 0")
    monkeypatch.delenv("HYDRA_FULL_ERROR")
    with pytest.raises(SystemExit) as stop, one_line_errors():
        raise UserError("lr=0: must be a number > 0")
    assert stop.value.code == "error: lr=0: must be a number > 0"  # printed to stderr, exit code 1
    with pytest.raises(SystemExit) as stop, one_line_errors():
        _ = OmegaConf.create({"ckpt_path": "???"}).ckpt_path  # python eval.py, without ckpt_path=...
    assert stop.value.code == "error: ckpt_path=...: required, give it on the command line"


def test_values_are_checked_before_any_data_is_read(tmp_path: Path) -> None:
    # MNIST's files are missing too, but lr is checked first: no data was read, nothing was trained or written.
    with pytest.raises(ConfigError, match=r"^lr=-1: must be a number > 0"):
        train(compose_config(tmp_path, "lr=-1", "data=mnist", f"data.root={tmp_path / 'empty'}"))
    assert list(tmp_path.iterdir()) == []
