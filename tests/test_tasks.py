"""The seed's three outputs through the same loop: a number (diabetes), the user's own table (CSV files written here
from two bundled scikit-learn datasets), and the next character (the census's names)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra.utils import instantiate
from sklearn.datasets import load_breast_cancer, load_diabetes
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mlp_template.errors import UserError
from mlp_template.module import Learner
from mlp_template.panels.confusion import draw_confusion
from mlp_template.runs.config import ConfigError
from mlp_template.serving.export import export
from mlp_template.serving.generation import generate
from mlp_template.serving.prediction import predict
from mlp_template.tasks import Regression
from mlp_template.training import train
from tests.conftest import ROOT, compose_config, read_scalars

QUIET = ("~callbacks.progress_bar", "+trainer.enable_progress_bar=false", "+trainer.enable_model_summary=false")


def events(run_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(run_dir), size_guidance={"images": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def run_config(run_dir: Path, *overrides: str):
    """The config as a run saves it (``.hydra/config.yaml``), for what reads a run back (predict, export)."""
    from omegaconf import OmegaConf

    cfg = compose_config(run_dir, *QUIET, *overrides)
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    return cfg


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two CSV files as a user would bring them: breast cancer with its target as text labels, and diabetes with
    ``sex`` as text (a category column) and the target renamed."""
    folder = tmp_path_factory.mktemp("tables")
    cancer = load_breast_cancer(as_frame=True).frame
    cancer["target"] = cancer["target"].map({0: "malignant", 1: "benign"})
    cancer.rename(columns={"target": "diagnosis"}).to_csv(folder / "cancer.csv", index=False)
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    diabetes["sex"] = diabetes["sex"].map({1.0: "female", 2.0: "male"})
    diabetes.rename(columns={"target": "progression"}).to_csv(folder / "diabetes.csv", index=False)
    return {"cancer": folder / "cancer.csv", "diabetes": folder / "diabetes.csv"}


def best(run_dir: Path) -> Path:
    """The run's best checkpoint: the one its test/* metrics are of."""
    (path,) = (run_dir / "checkpoints").glob("epoch*.ckpt")
    return path


def module_outputs(run_dir: Path, split: str) -> tuple[torch.Tensor, Learner, object]:
    """The best checkpoint's module's outputs on one split of its own data module (read through the run's config)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    datamodule = instantiate(cfg.data)
    datamodule.read()
    module = Learner.load_from_checkpoint(best(run_dir), weights_only=True).eval()
    with torch.no_grad():
        return module(datamodule.examples[split][0]), module, datamodule


def test_diabetes_regression_reaches_the_preset_r2_in_the_targets_units(tmp_path: Path, capsys) -> None:
    metrics = train(run_config(tmp_path, "data=diabetes"))  # the preset as shipped: python train.py data=diabetes
    assert metrics["test/r2"] >= 0.40  # a linear model gets about 0.45 on this data
    # In the target's units (disease progression, 25 to 346), not in standardised ones (where the MAE is below 1).
    assert 20 < metrics["test/mae"] < 80 and 20 < metrics["val/mae"] < 80
    assert metrics["val/loss"] < metrics["baseline/val/loss"]  # beats always answering the training mean
    printed = capsys.readouterr().out
    assert "task: regression (data.task=regression)" in printed and f"test/r2 {metrics['test/r2']:.4f}" in printed
    assert f"always the training mean (ignores the inputs): test/mae {metrics['always/test/mae']:.4f}" in printed
    assert metrics["always/test/r2"] <= 0.0 < metrics["test/r2"]  # the mean of the training rows, not of the test's
    scalars = read_scalars(tmp_path)
    epochs = len(scalars["val/loss"])  # early stopping: once val/loss has not improved for 10 epochs
    assert 10 < epochs < 300
    for tag in ("train/loss", "val/loss", "val/mae", "val/r2"):
        assert [step for step, _ in scalars[tag]] == list(range(epochs)), tag
    tested = {"val/loss", "val/mae", "val/r2", "test/loss", "test/mae", "test/r2"}
    assert set(read_scalars(tmp_path / "tested")) == tested
    assert "val/acc" not in scalars
    images = events(tmp_path).Tags()["images"]
    assert images == ["predicted_vs_true"]  # no image or class panels on a table of numbers
    assert len(events(tmp_path).Images("predicted_vs_true")) == epochs
    assert json.loads((tmp_path / "metrics.json").read_text())["test/r2"] == metrics["test/r2"]


def test_csv_with_text_labels_is_classification_and_predict_gives_the_modules_classes(
    tmp_path: Path, tables: dict[str, Path], capsys
) -> None:
    run_dir = tmp_path / "run"
    metrics = train(run_config(run_dir, "data=csv", f"data.path={tables['cancer']}", "data.target=diagnosis"))
    assert metrics["test/acc"] >= 0.93 and metrics["test/balanced_acc"] >= 0.9  # the mean of each class's recall
    assert metrics["always/test/acc"] < 0.7 and metrics["always/test/balanced_acc"] == 0.5  # 63 % are benign
    printed = capsys.readouterr().out
    assert "task: classification (the target diagnosis holds text: 2 classes)" in printed
    assert ("always the most frequent class (ignores the inputs): test/acc "
            f"{metrics['always/test/acc']:.4f}  test/balanced_acc 0.5000") in printed
    assert events(run_dir).Tags()["images"] == ["confusion_matrix"]  # classes, but no images to show
    empty = [[0, 0], [0, 0]]
    named = draw_confusion(empty, ("benign", "malignant")).size  # the picture has room for the labels' names
    assert named != draw_confusion(empty, ("0", "1")).size
    assert all((image.width, image.height) == named for image in events(run_dir).Images("confusion_matrix"))
    # predict.py on the file's rows (the target column is there, and ignored) = the module on the same rows.
    out = predict(str(best(run_dir)), str(tables["cancer"]), str(tmp_path / "p.csv"))
    predicted = pd.read_csv(out)
    # Every input column as it was (the true diagnosis too), then the answers.
    assert list(predicted.columns) == [*pd.read_csv(tables["cancer"]).columns, "predicted_diagnosis", "prob_benign",
                                       "prob_malignant"]
    logits, _, datamodule = module_outputs(run_dir, "test")
    rows = datamodule.rows["test"].numpy()
    probabilities = logits.softmax(dim=1).numpy()
    np.testing.assert_allclose(predicted[["prob_benign", "prob_malignant"]].to_numpy()[rows], probabilities, atol=2e-6)
    truth = pd.read_csv(tables["cancer"])["diagnosis"].to_numpy()
    assert (predicted["predicted_diagnosis"].to_numpy()[rows] == truth[rows]).mean() == pytest.approx(
        metrics["test/acc"])


def test_csv_with_a_category_column_is_regression_and_predict_and_export_answer_in_the_targets_units(
    tmp_path: Path, tables: dict[str, Path]
) -> None:
    run_dir = tmp_path / "run"
    metrics = train(run_config(run_dir, "data=csv", f"data.path={tables['diabetes']}", "data.target=progression"))
    assert metrics["test/r2"] >= 0.35
    outputs, module, datamodule = module_outputs(run_dir, "test")
    assert module.hparams.data["categories"] == {"sex": ["female", "male"]}  # one input each, from training rows
    assert module.hparams.data["input_shape"] == [12]  # 9 numeric columns + 2 for sex + its "other" (unseen values)
    out = predict(str(best(run_dir)), str(tables["diabetes"]), str(tmp_path / "p.csv"))
    predicted = pd.read_csv(out)["predicted_progression"].to_numpy()
    rows = datamodule.rows["test"].numpy()
    in_units = outputs.squeeze(1) * module.hparams.data["target_std"] + module.hparams.data["target_mean"]
    np.testing.assert_allclose(predicted[rows], in_units.numpy(), rtol=1e-5)
    truth = pd.read_csv(tables["diabetes"])["progression"].to_numpy()
    assert np.abs(predicted[rows] - truth[rows]).mean() == pytest.approx(metrics["test/mae"], rel=1e-4)
    # The exported model holds the preprocessing: raw encoded rows in, the progression out (not a standardised
    # number): here the first rows of the file, numeric columns as they are, then sex as three 0/1 inputs.
    file = export(str(best(run_dir)), "torch_export", str(tmp_path / "m.pt2"))
    table = pd.read_csv(tables["diabetes"]).head(5)
    numeric = table.drop(columns=["sex", "progression"]).to_numpy(dtype="float32")
    sex = np.stack([table["sex"] == value for value in ("female", "male", "other")], axis=1).astype("float32")
    served = torch.export.load(file).module()(torch.from_numpy(np.concatenate([numeric, sex], axis=1)))
    np.testing.assert_allclose(served.detach().numpy(), predicted[:5], rtol=1e-5)
    assert json.loads(file.with_suffix(".inputs.json").read_text())["numeric"][0] == "age"


@pytest.fixture(scope="module")
def names_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    run_dir = tmp_path_factory.mktemp("names")
    return run_dir, train(run_config(run_dir, "data=names", "epochs=2"))


def test_names_beats_the_character_frequency_baseline_and_writes_words_per_epoch(names_run) -> None:
    run_dir, metrics = names_run
    assert metrics["val/loss"] <= metrics["baseline/val/loss"] - 0.5  # nats per character
    assert metrics["val/perplexity"] == pytest.approx(np.exp(metrics["val/loss"]), rel=1e-4)
    scalars = read_scalars(run_dir)
    assert [step for step, _ in scalars["val/perplexity"]] == [0, 1]
    assert "update_ratio/input" in scalars  # the embedding is the input layer's weights, watched like the others
    samples = events(run_dir).Tensors("sampled_words/text_summary")  # add_text's tag
    assert [event.step for event in samples] == [0, 1, 2]  # step 0: the untrained network (panels/samples.py)
    words = [event.tensor_proto.string_val[0].decode().splitlines()[-1] for event in samples]  # each table's newest
    assert len(set(words)) == 3 and all(word.count("`") == 16 for word in words)  # 8 words each, new ones


def test_generate_is_reproducible_continues_a_prefix_and_names_unknown_characters(names_run, capsys) -> None:
    run_dir, _ = names_run
    checkpoint = str(run_dir / "checkpoints" / "last.ckpt")
    first = generate(checkpoint, num=20, prefix="", temperature=1.0, seed=0, max_length=30)
    assert len(first) == 20 and first == generate(checkpoint, 20, "", 1.0, 0, 30)  # the same 20, again
    assert first != generate(checkpoint, 20, "", 1.0, 1, 30)  # another seed, other words
    assert all(word.startswith("ma") for word in generate(checkpoint, 5, "Ma", 0.5, 0, 30))
    assert all(len(word) <= 6 for word in generate(checkpoint, 10, "", 2.0, 0, 6))
    for bad, message in (({"num": 0}, "num=0: must be an integer >= 1"),
                         ({"temperature": 0}, "temperature=0: must be a number > 0"),
                         ({"prefix": "m" * 30}, "prefix=mmmmmmmmmmmmmmmmmmmmmmmmmmmmmm: as long as max_length=30")):
        with pytest.raises(ConfigError, match=message):
            generate(checkpoint, **({"num": 3, "prefix": "", "temperature": 1.0, "seed": 0, "max_length": 30} | bad))
    capsys.readouterr()
    result = subprocess.run([sys.executable, "generate.py", f"ckpt_path={checkpoint}", "prefix=m4x"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: prefix=m4x: '4' never occurs in the training words; they hold: "
                                     "abcdefghijklmnopqrstuvwxyz")


def test_a_resumed_names_run_is_the_never_stopped_one(tmp_path: Path) -> None:
    """Bit for bit, on a task with an embedding, dropout and Adam: what test_resume.py checks for the digits."""
    run = ("data=names", "optimizer=adam", "lr=0.01", "model.dropout=0.3", "batch_size=256",
           "++trainer.limit_train_batches=10")
    train(run_config(tmp_path / "reference", *run, "epochs=3"))
    train(run_config(tmp_path / "resumed", *run, "epochs=1"))
    train(run_config(tmp_path / "resumed", *run, "epochs=3", f"ckpt_path={tmp_path / 'resumed/checkpoints/last.ckpt'}"))
    reference, resumed = read_scalars(tmp_path / "reference"), read_scalars(tmp_path / "resumed")
    for tag in ("train/loss", "val/loss", "val/perplexity"):
        assert resumed[tag] == reference[tag] and len(reference[tag]) == 3, tag
    a, b = (torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
            for name in ("reference", "resumed"))
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_predict_and_generate_refuse_the_other_tasks_checkpoints(names_run, tmp_path: Path) -> None:
    from mlp_template.errors import UserError

    run_dir, _ = names_run
    with pytest.raises(UserError, match=r"a next-token network writes words: python generate\.py ckpt_path="):
        predict(str(run_dir / "checkpoints" / "last.ckpt"), str(tmp_path / "x.csv"), None)
    digits = tmp_path / "digits"
    train(run_config(digits, "debug=fast"))
    with pytest.raises(UserError, match="a classification network, which writes no words"):
        generate(str(digits / "checkpoints" / "last.ckpt"), 3, "", 1.0, 0, 30)


@pytest.mark.parametrize(("data", "sizes", "message"), [
    ("data=names", ("data.val_size=0.6", "data.test_size=0.4"),
     r"^data.corpus=first_names: data.val_size=0.6 and data.test_size=0.4 add up to 1, leaving no words to train on; "
     "as fractions of the data they must add up to less than 1, e.g. 0.15 each$"),
    ("data=digits", ("data.val_size=1000", "data.test_size=797"),
     "^data=digits: data.val_size=1000 and data.test_size=797 take 1797 of the 1797 images, leaving none to train on"),
])
def test_splits_that_leave_one_empty_are_refused_in_one_line(tmp_path: Path, data: str, sizes: tuple, message: str):
    with pytest.raises(UserError, match=message):
        train(compose_config(tmp_path / "run", data, *sizes))
    assert not (tmp_path / "run").exists()


def test_regression_metrics_are_computed_in_float32_from_half_precision_outputs() -> None:
    task = Regression({"target_mean": 150.0, "target_std": 77.0})
    outputs, y = torch.randn(64, 1).bfloat16(), torch.randn(64).bfloat16()
    predicted, true = task.judged(outputs, y)
    assert predicted.dtype == true.dtype == torch.float32  # bf16 keeps 8 bits of mantissa: R² would be off
    assert torch.allclose(predicted, outputs.squeeze(1).float() * 77 + 150)


@pytest.mark.parametrize("data", ["data=digits", "data=diabetes", "data=names"])
def test_a_bf16_true_run_trains_and_reports_float32_metrics(tmp_path: Path, data: str) -> None:
    """trainer.precision=bf16-true converts the network to bfloat16: the example the model summary runs is converted
    with it, and the metrics are computed in float32."""
    metrics = train(compose_config(tmp_path, data, "debug=fast", "trainer.precision=bf16-true"))  # with the summary
    assert all(np.isfinite(value) for value in metrics.values()) and metrics["val/loss"] > 0
