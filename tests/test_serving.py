"""A trained checkpoint, used: evaluated with its run's config, run on new inputs, exported for serving."""

import csv
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image
from sklearn.datasets import load_diabetes, load_digits

from mlp_template.errors import UserError
from mlp_template.module import Learner
from mlp_template.serving.evaluation import evaluate
from mlp_template.serving.export import export
from mlp_template.serving.generation import generate
from mlp_template.serving.prediction import predict
from mlp_template.training import train
from tests.conftest import compose_config, read_scalars


def best_checkpoint(run_dir: Path) -> Path:
    return next((run_dir / "checkpoints").glob("epoch*.ckpt"))


def checkpoint_logits(checkpoint: Path, pixels: torch.Tensor) -> torch.Tensor:
    """The oracle: the Lightning module restored from the checkpoint, on inputs normalised like the run's data."""
    module = Learner.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=True).eval()
    with torch.no_grad():
        return module((pixels - 0.3053) / 0.3760)  # conf/data/digits.yaml: mean, std


def test_eval_reports_what_training_reported_for_that_checkpoint(
    trained_run: tuple[Path, dict], recwarn: pytest.WarningsRecorder
) -> None:
    run_dir, trained = trained_run
    metrics = evaluate(str(best_checkpoint(run_dir)))  # the run's config: 300 test images, a [32, 16] network
    # Lightning asks for the training callbacks whose state the checkpoint holds: a test does not need them.
    assert not [str(w.message) for w in recwarn if "callbacks used to create the checkpoint" in str(w.message)]
    assert metrics == {"test/loss": trained["test/loss"], "test/acc": trained["test/acc"]}
    logged = read_scalars(run_dir / "eval" / best_checkpoint(run_dir).stem)
    assert logged["test/acc"] == [(0, pytest.approx(trained["test/acc"]))]
    evaluate(str(best_checkpoint(run_dir)))  # again: the earlier point is replaced, not doubled
    assert len(read_scalars(run_dir / "eval" / best_checkpoint(run_dir).stem)["test/acc"]) == 1


def test_eval_needs_the_run_folder_of_the_checkpoint(tmp_path: Path, trained_run: tuple[Path, dict]) -> None:
    loose = shutil.copy(best_checkpoint(trained_run[0]), tmp_path / "sent_by_someone.ckpt")
    with pytest.raises(UserError, match=r"sent_by_someone.ckpt: not in a run folder \(<run>/checkpoints/"):
        evaluate(str(loose))


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """20 of scikit-learn's digits as pixels in [0, 1], and their labels."""
    data = load_digits()
    return (data.images[:20] / 16.0).astype(np.float32), data.target[:20]


def read_predictions(path: Path) -> tuple[list[str], list[int], np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    probs = np.array([[float(v) for k, v in row.items() if k.startswith("prob_")] for row in rows])
    return [row["input"] for row in rows], [int(row["predicted_class"]) for row in rows], probs


def test_predictions_from_npy_csv_and_images_agree_with_the_checkpoint(tmp_path: Path, trained_run, digits) -> None:
    pixels, labels = digits
    ckpt = str(best_checkpoint(trained_run[0]))
    np.save(tmp_path / "rows.npy", pixels.reshape(20, 64))
    np.savetxt(tmp_path / "rows.csv", pixels.reshape(20, 64), delimiter=",", comments="",
               header=",".join(f"pixel{i}" for i in range(64)))
    (tmp_path / "images").mkdir()
    for i, image in enumerate(pixels[:5]):  # 32x32 PNGs, 4x the digits' size: shrunk back by area averaging
        Image.fromarray((np.kron(image, np.ones((4, 4))) * 255).round().astype(np.uint8)).save(
            tmp_path / "images" / f"digit{i:02d}.png")
    for inputs in ("rows.npy", "rows.csv", "images"):
        output = None if inputs == "images" else str(tmp_path / "out.csv")
        written = predict(ckpt, str(tmp_path / inputs), output)
        assert output or written == trained_run[0] / "predictions" / "images.csv"  # by default, in the run's folder
        names, classes, probs = read_predictions(written)
        n = len(names)
        seen = pixels[:n] if inputs != "images" else np.round(pixels[:n] * 255) / 255  # a PNG holds 8-bit pixels
        expected = checkpoint_logits(Path(ckpt), torch.from_numpy(seen).unsqueeze(1)).softmax(dim=1).numpy()
        assert classes == expected.argmax(axis=1).tolist(), inputs
        np.testing.assert_allclose(probs, expected, rtol=0, atol=2e-6)  # the CSV holds 6 decimals
        assert names == (["0", "1"] if inputs != "images" else ["digit00.png", "digit01.png"]) + names[2:]
    assert np.mean(np.array(classes) == labels[:5]) >= 0.6  # a trained network: it mostly reads them right


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: np.save(d / "x.npy", np.ones((3, 65))), r"x.npy: holds rows of shape \(65,\); the network takes 64"),
    (lambda d: np.save(d / "x.npy", np.full((3, 64), 16.0)), r"x.npy: values from 16 to 16; pixels must be in \["),
    (lambda d: (d / "x.npy").write_bytes(pickle.dumps([1, 2])), r"x.npy: not a numeric .npy array"),
    (lambda d: np.save(d / "x.npy", np.array([{"a": 1}], dtype=object)), r"x.npy: not a numeric .npy array"),
    (lambda d: (d / "x.csv").write_text("1,2\n3,oops\n"), r"x.csv: not a table of numbers"),
    (lambda d: (d / "x.txt").write_text("1,2"), r"x.txt: must be an image, a folder of images, an .npy file"),
    (lambda d: (d / "x").mkdir(), r"x: no images \(.jpg, .*nor class folders of them"),
    (lambda d: None, r"nothing: no such file or folder"),
])
def test_bad_inputs_are_named_in_one_line(tmp_path: Path, trained_run, make, message: str) -> None:
    make(tmp_path)
    name = next((p.name for p in tmp_path.iterdir()), "nothing")
    with pytest.raises(UserError, match=message):
        predict(str(best_checkpoint(trained_run[0])), str(tmp_path / name), str(tmp_path / "out.csv"))
    assert not (tmp_path / "out.csv").exists()


def test_torch_export_gives_the_checkpoints_outputs(tmp_path: Path, trained_run, digits) -> None:
    ckpt = best_checkpoint(trained_run[0])
    path = export(str(ckpt), "torch_export", None)
    assert path == trained_run[0] / "exported" / f"{ckpt.stem}.pt2"
    served = torch.export.load(path).module()  # nothing of this project needed to run it
    pixels = torch.from_numpy(digits[0]).unsqueeze(1)
    for batch in (pixels[:1], pixels[:7]):  # any batch size
        assert torch.equal(served(batch), checkpoint_logits(ckpt, batch))  # the same operations: bit for bit


def test_onnx_export_gives_the_checkpoints_outputs(tmp_path: Path, trained_run, digits) -> None:
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    pytest.importorskip("onnxscript", reason="the onnx extra is not installed")
    ckpt = best_checkpoint(trained_run[0])
    path = export(str(ckpt), "onnx", str(tmp_path / "model.onnx"))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pixels = torch.from_numpy(digits[0]).unsqueeze(1)
    for batch in (pixels[:1], pixels[:7]):
        (logits,) = session.run(["outputs"], {"inputs": batch.numpy()})
        # onnxruntime's kernels sum in another order than torch's: float32 rounding, ~1e-7 on logits of ~10.
        np.testing.assert_allclose(logits, checkpoint_logits(ckpt, batch).numpy(), rtol=0, atol=1e-5)


def test_export_names_an_unknown_format(trained_run) -> None:
    with pytest.raises(UserError, match="format=tflite: must be one of torch_export, onnx"):
        export(str(best_checkpoint(trained_run[0])), "tflite", None)


def test_ckpt_path_best_is_the_checkpoint_the_newest_run_tested(tmp_path: Path, trained_run, digits,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir, trained = trained_run
    moved = shutil.copytree(run_dir, tmp_path / "logs" / "runs" / "moved_here")  # where it trained is recorded
    monkeypatch.chdir(tmp_path)
    tested = best_checkpoint(moved)  # the one whose metrics training printed
    assert evaluate("best") == {"test/loss": trained["test/loss"], "test/acc": trained["test/acc"]}
    np.save(tmp_path / "rows.npy", digits[0].reshape(20, 64))
    assert predict("best", str(tmp_path / "rows.npy"), None) == moved / "predictions" / "rows.csv"
    assert export("best", "torch_export", None) == moved / "exported" / f"{tested.stem}.pt2"
    named = re.escape(f"logs/runs/moved_here/checkpoints/{tested.name}")
    with pytest.raises(UserError, match=f"^ckpt_path={named}: a classification network"):
        generate("best", 1, "", 1.0, 0, 5)


@pytest.mark.parametrize(("value", "shown"), [(np.nan, "nan"), (1e39, "1e+39"), (-np.inf, "-inf")])
def test_an_input_that_is_not_a_finite_float32_is_refused_naming_row_and_column(tmp_path: Path, trained_run,
                                                                                  value: float, shown: str) -> None:
    rows = np.full((3, 64), 0.5)  # float64: 1e39 is a number there, and infinite as the network's float32
    rows[1, 5] = value
    np.save(tmp_path / "x.npy", rows)
    with pytest.raises(UserError, match=rf"x.npy: row 1, column 6: {re.escape(shown)} is not a finite float32 number"):
        predict(str(best_checkpoint(trained_run[0])), str(tmp_path / "x.npy"), str(tmp_path / "out.csv"))
    assert not (tmp_path / "out.csv").exists()


def test_a_table_value_beyond_float32_is_refused_by_predict_and_eval(tmp_path: Path) -> None:
    table = load_diabetes(as_frame=True, scaled=False).frame
    table.to_csv(tmp_path / "table.csv", index=False)
    run_dir = tmp_path / "run"
    cfg = compose_config(run_dir, "data=csv", f"data.path={tmp_path / 'table.csv'}", "data.target=target", "epochs=1",
                         "~callbacks.progress_bar", "+trainer.enable_progress_bar=false")
    (run_dir / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    train(cfg)
    table.head(3).assign(bmi=[30.0, 1e39, 25.0]).to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(UserError, match=r"new.csv: column bmi, row 2: 1e\+39 is no number the network can hold"):
        predict(str(run_dir / "checkpoints" / "last.ckpt"), str(tmp_path / "new.csv"), str(tmp_path / "out.csv"))
    assert not (tmp_path / "out.csv").exists()
    datamodule = instantiate(cfg.data)
    datamodule.read()
    test_row = int(datamodule.rows["test"][0])  # a test row: the preprocessing fitted on training rows stays the same
    table.loc[test_row, "s1"] = 1e39
    table.to_csv(tmp_path / "table.csv", index=False)
    with pytest.raises(UserError, match=rf"table.csv(?=.*row {test_row + 1}\b)(?=.*s1)"):
        evaluate(str(run_dir / "checkpoints" / "last.ckpt"))


def test_a_checkpoint_whose_weights_diverged_is_not_served(tmp_path: Path, trained_run) -> None:
    copy = shutil.copytree(trained_run[0], tmp_path / "run", ignore=shutil.ignore_patterns("exported", "eval"))
    checkpoint = torch.load(best_checkpoint(copy), weights_only=True)
    checkpoint["state_dict"]["model.layers.output.bias"][3] = float("inf")  # what a diverged run's last save holds
    torch.save(checkpoint, best_checkpoint(copy))
    with pytest.raises(UserError, match=r"its weights layers.output.bias hold NaN or infinity \(saved after the "
                                        r"run diverged\): the network would answer nan"):
        export(str(best_checkpoint(copy)), "torch_export", None)
    assert not (copy / "exported").exists()
