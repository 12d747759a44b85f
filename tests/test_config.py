"""Config -> code: every option of every group composes and builds, YAML keys are constructor arguments."""

import inspect

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from mlp_template.data.datamodule import InMemoryDataModule
from mlp_template.data.images import ImageDataModule
from mlp_template.model import MLP
from mlp_template.module import Learner
from mlp_template.training import plain
from tests.conftest import DIGITS, ROOT, compose_config, own_data

GROUPS = {group.name: sorted(p.stem for p in group.glob("*.yaml")) for group in (ROOT / "conf").iterdir()
          if group.is_dir()}
OPTIONS = [(group, option) for group, options in GROUPS.items() for option in options]


def test_the_promised_options_exist() -> None:
    for group, options in {"optimizer": ["adam", "adamw", "sgd"],
                           "scheduler": ["cosine", "none", "step"],
                           "trainer": ["cpu", "ddp", "ddp_gpu", "default", "gpu"],
                           "logger": ["csv", "tensorboard"], "debug": ["fast", "overfit"],
                           "hparams_search": ["optuna"]}.items():
        assert set(options) <= set(GROUPS[group]), group


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_every_option_composes_and_builds(tmp_path, group: str, option: str) -> None:
    if group == "hparams_search":
        pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")  # the optuna extra
    overrides = [f"{group}@_global_={option}" if group == "objective" else f"{group}={option}"]
    if group == "preset":  # a data option's: added to the default data
        overrides = [f"+{group}@_global_={option}"]
    own = own_data(tmp_path, compose_config(tmp_path, *overrides).data)  # data.path=...: a small real file
    cfg = compose_config(tmp_path, *overrides, *own)
    data = instantiate(cfg.data)
    assert isinstance(data, InMemoryDataModule)
    if own or not isinstance(data, ImageDataModule):  # sizes known once read; MNIST's files are not in a clone
        data.read()
    module = Learner(data.signature(), plain(cfg.model), plain(cfg.optimizer), plain(cfg.scheduler))
    optimizers = module.configure_optimizers()
    optimizer = optimizers["optimizer"] if isinstance(optimizers, dict) else optimizers
    assert optimizer.param_groups[0]["lr"] == cfg.lr
    assert type(optimizer).__name__ == cfg.optimizer._target_.rsplit(".", 1)[-1]
    assert [type(instantiate(c)).__name__ for c in cfg.callbacks.values()]  # each callback builds
    assert type(instantiate(cfg.logger)).__name__ == cfg.logger._target_.rsplit(".", 1)[-1]
    if cfg.trainer.accelerator != "gpu":  # no GPU here; its config is still checked for keys below
        assert instantiate(cfg.trainer).max_epochs == cfg.epochs


def test_lr_on_the_command_line_is_the_optimizers_lr(tmp_path) -> None:
    for optimizer in GROUPS["optimizer"]:
        cfg = compose_config(tmp_path, f"optimizer={optimizer}", "lr=0.0123")
        module = Learner(DIGITS, plain(cfg.model), plain(cfg.optimizer))
        assert module.configure_optimizers().param_groups[0]["lr"] == 0.0123


def keys(node) -> set[str]:
    return {k for k in OmegaConf.to_container(node) if k not in ("_target_", "defaults")}


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_yaml_keys_are_the_constructors_arguments(tmp_path, group: str, option: str) -> None:
    if group in ("experiment", "debug", "hparams_search", "hydra", "objective", "preset"):  # global presets
        return
    cfg = compose_config(tmp_path, f"{group}={option}")
    nodes = cfg[group].values() if group == "callbacks" else [cfg[group]]
    for node in nodes:
        if node is None:  # scheduler=none
            continue
        target = MLP if group == "model" else get_class(node._target_)
        parameters = set(inspect.signature(target).parameters)
        for cls in getattr(target, "__mro__", [])[1:]:  # subclasses pass **kwargs on to their base
            if "kwargs" in parameters and "__init__" in vars(cls):
                parameters |= set(inspect.signature(cls).parameters)
        assert keys(node) <= parameters, f"{group}/{option}: {keys(node) - parameters}"


def test_typos_fail_with_hydras_error(tmp_path) -> None:
    with pytest.raises(ConfigCompositionException, match="lr_typo"):
        compose_config(tmp_path, "lr_typo=0.1")
    with pytest.raises(ConfigCompositionException, match="hiden_sizes"):
        compose_config(tmp_path, "model.hiden_sizes=[8]")


def test_a_preset_switches_a_panel_off_with_null_and_panels_apply_only_to_their_data(tmp_path) -> None:
    from mlp_template.training import build_trainer

    def panels(*overrides: str, data: dict = DIGITS) -> set[str]:
        cfg = compose_config(tmp_path, *overrides)
        return {type(callback).__name__ for callback in build_trainer(cfg, data, None).callbacks}

    everything = panels()
    assert {"MisclassifiedImages", "ConfusionMatrix", "GradientNorms"} <= everything
    assert "PredictedVsTrue" not in everything and "SampledWords" not in everything  # numbers, next tokens only
    assert "MisclassifiedImages" not in panels("callbacks.misclassified=null")  # what experiment/*.yaml can write
    table = {**DIGITS, "task": "regression", "input_shape": [10], "output_size": 1}
    assert {"PredictedVsTrue", "GradientNorms"} <= panels(data=table)
    assert not {"MisclassifiedImages", "ConfusionMatrix"} & panels(data=table)
