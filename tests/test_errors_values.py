"""Bad values: one line that names what is wrong. A value Hydra cannot parse gets the quoted form to type; split
sizes that cannot work say why (not "too few rows"); a loss already NaN at step 1 blames the data, not the lr.

``CASES`` is the table docs/errors.md shows (tests/test_errors_docs.py checks each line is there).
"""

import shlex
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate

from mlp_template.command_line import quoting_advice
from mlp_template.module import Learner
from mlp_template.panels.divergence import DivergenceError, DivergenceGuard
from mlp_template.training import plain
from tests.conftest import ROOT, compose_config
from train import main

QUOTING = {  # what reached the program (the shell's quotes gone): the line it ends with
    "data.path=my houses (v2).csv": "error: data.path=my houses (v2).csv: Hydra reads a value with spaces, brackets or "
                                    "letters beyond ASCII only in quotes; type: \"data.path='my houses (v2).csv'\"",
    "data.path=données.csv": "error: data.path=données.csv: Hydra reads a value with spaces, brackets or letters "
                             "beyond ASCII only in quotes; type: \"data.path='données.csv'\"",
    "prefix=zé": "error: prefix=zé: Hydra reads a value with spaces, brackets or letters beyond ASCII only in quotes; "
                 "type: \"prefix='zé'\"",
}
HOUSES = "size,rooms,price\n" + "".join(f"{40 + i},{1 + i % 5},{90 + 2.5 * i + 7 * (i % 5)}\n" for i in range(150))
SPLITS = {  # split sizes for houses.csv (150 rows, a regression): the line train.py ends with
    "data.val_size=0.5 data.test_size=0.6": "error: data.path=houses.csv: data.val_size=0.5 and data.test_size=0.6 "
                                            "add up to 1.1, leaving no rows to train on; as fractions of the data "
                                            "they must add up to less than 1, e.g. 0.15 each",
    "data.val_size=1": "error: data.path=houses.csv: data.val_size=1 means 1 row (a whole number counts rows; a "
                       "fraction of them is below 1): the validation split needs 2 at least",
    "data.test_size=0.001": "error: data.path=houses.csv: data.test_size=0.001 of 150 rows is none: the test split "
                            "would be empty; give a larger fraction",
    "data.val_size=100 data.test_size=50": "error: data.path=houses.csv: data.val_size=100 and data.test_size=50 take "
                                           "150 of the 150 rows, leaving none to train on; give smaller sizes",
}
DATA_NOT_LR = ("That is the loss of the untrained network, before any gradient-descent step, so not the learning "
               "rate: the data probably holds NaN, inf, or values beyond float32's range (3.4e38)")
CASES = {**QUOTING, **SPLITS, "a loss already NaN at step 1": DATA_NOT_LR}
DOCUMENTED = list(CASES.values())


@pytest.mark.parametrize("arg", QUOTING)
def test_a_value_hydra_cannot_parse_gets_the_quoted_form_to_type(arg: str) -> None:
    line = QUOTING[arg]
    assert f"error: {quoting_advice(['-m', 'lr=0.1,0.01', arg])}" == line  # options and good values pass through
    (typed,) = shlex.split(line.split("type: ")[1])  # what the shell hands over when the advice is typed
    (override,) = OverridesParser.create().parse_overrides([typed])
    assert override.value() == arg.split("=", 1)[1]  # Hydra reads the value the user meant


@pytest.mark.parametrize("arg", ["data.path='my houses (v2).csv'", "model.hidden_sizes=[64,32]", "~callbacks.panels",
                                 "model.hidden_sizes=[64,32"])  # the last: a list, not a text; Hydra's message says
def test_values_hydra_parses_or_quoting_cannot_fix_get_no_advice(arg: str) -> None:
    assert quoting_advice([arg]) is None


def test_generate_py_gives_the_advice_and_exits_1_before_any_work(tmp_path: Path) -> None:
    command = [sys.executable, ROOT / "generate.py", "ckpt_path=last", "prefix=zé"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (1, QUOTING["prefix=zé"] + "\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sizes", SPLITS)
def test_split_sizes_that_cannot_work_say_why(tmp_path: Path, monkeypatch, sizes: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("houses.csv").write_text(HOUSES)
    cfg = compose_config(tmp_path / "run", "data=csv", "data.path=houses.csv", "data.target=price", *sizes.split())
    with pytest.raises(SystemExit) as stop:
        main(cfg)
    assert stop.value.code == SPLITS[sizes]
    assert not (tmp_path / "run").exists()


def test_a_loss_already_nan_at_step_1_blames_the_data_not_the_lr(tmp_path: Path) -> None:
    """Inputs beyond float32's range (a table value of 1e39, say) make the untrained network's loss NaN."""
    cfg = compose_config(tmp_path)
    data = instantiate(cfg.data)
    data.read()
    x, y = data.examples["train"]
    data.examples["train"] = (torch.full_like(x, torch.inf), y)
    module = Learner(data.signature(), plain(cfg.model), plain(cfg.optimizer))
    trainer = L.Trainer(max_epochs=1, logger=False, callbacks=[DivergenceGuard()], enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    with pytest.raises(DivergenceError) as error:
        trainer.fit(module, datamodule=data)
    assert str(error.value).startswith("loss diverged at step 1 (epoch 0): nan, with lr=0.1. " + DATA_NOT_LR + ".")
    assert "try lr=" not in str(error.value)
