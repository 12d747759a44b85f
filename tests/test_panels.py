"""The mental model made visible: every panel is written, once per epoch, and shows what really happened."""

import csv
import io
import math

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from mlp_template import panels
from mlp_template.data.images import DigitsDataModule
from mlp_template.module import Learner
from mlp_template.panels import CARD_HEIGHT
from mlp_template.panels.confusion import draw_confusion
from mlp_template.panels.scatter import draw_scatter, nice_ticks
from mlp_template.panels.weights import GradientNorms, UpdateRatio
from mlp_template.training import plain, train
from tests.conftest import compose_config, read_scalars

LAYERS = ("hidden1", "hidden2", "output")


def read_events(run_dir) -> EventAccumulator:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    events.Reload()
    return events


def test_the_default_run_shows_every_panel_once_per_epoch(tmp_path) -> None:
    metrics = train(compose_config(tmp_path))  # the default run, divergence guard on: it must not fire
    assert metrics["test/acc"] >= 0.95
    epochs = list(range(20))
    events, scalars = read_events(tmp_path), read_scalars(tmp_path)
    for layer in LAYERS:
        for tag in (f"grad_norm/{layer}", f"update_ratio/{layer}", f"weight_norm/{layer}"):
            assert [step for step, _ in scalars[tag]] == epochs, tag
        for tag in (f"weights/{layer}", f"grads/{layer}"):
            assert [h.step for h in events.Histograms(tag)] == epochs, tag
        assert all(value > 0 for _, value in scalars[f"grad_norm/{layer}"])  # backprop reached every layer
        ratios = [value for _, value in scalars[f"update_ratio/{layer}"]]
        assert all(1e-5 < r < 0.1 for r in ratios), ratios  # a sane lr moves the weights a little each step
    assert scalars["lr"] == [(epoch, pytest.approx(0.1)) for epoch in epochs]
    for tag in ("misclassified", "confusion_matrix"):
        assert [image.step for image in events.Images(tag)] == epochs, tag
    graph = " ".join(node.name for node in events.Graph().node)  # traced before the first epoch
    assert all(f"[{layer}]" in graph for layer in LAYERS), graph
    # The weight panels show the real weights: the last epoch's norm and histogram are those of last.ckpt.
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for layer in LAYERS:
        weight = state[f"model.layers.{layer}.weight" if layer == "output" else f"model.layers.{layer}.linear.weight"]
        assert scalars[f"weight_norm/{layer}"][-1][1] == pytest.approx(weight.norm().item(), rel=1e-5)
        histogram = events.Histograms(f"weights/{layer}")[-1].histogram_value
        assert histogram.num == weight.numel() and sum(histogram.bucket) == weight.numel()
        assert (histogram.min, histogram.max) == pytest.approx((weight.min().item(), weight.max().item()), rel=1e-5)


def test_misclassified_grid_holds_one_captioned_tile_per_mistake_in_whole_rows(tmp_path) -> None:
    train(compose_config(tmp_path, "debug=fast", "epochs=2", "callbacks.misclassified.max_images=100"))
    events, scalars = read_events(tmp_path), read_scalars(tmp_path)
    for (epoch, accuracy), image in zip(scalars["val/acc"], events.Images("misclassified"), strict=True):
        wrong = round((1 - accuracy) * 64)  # debug=fast: 2 validation batches of 32
        rows = wrong // 8 if wrong > 8 else 1  # no empty slot: fewer tiles rather than a half-empty row
        # Each tile: a 24-pixel caption over the 8x8 digit enlarged to 32 pixels, 2 pixels apart.
        assert (image.step, image.height, image.width) == (epoch, 2 + rows * (24 + 32 + 2), 2 + min(wrong, 8) * 34)


def test_the_first_chart_is_the_loss_of_both_splits_then_the_metric(tmp_path) -> None:
    train(compose_config(tmp_path, "debug=fast", "epochs=2"))
    curves, train_run, validation = (read_scalars(tmp_path / sub) for sub in ("", "train", "validation"))
    # TensorBoard sorts the tag groups by name, digits first, and opens the first two (TIME SERIES and SCALARS).
    tags = sorted({tag for run in (curves, train_run, validation, read_scalars(tmp_path / "tested")) for tag in run})
    assert tags[:2] == ["1_loss", "2_acc"] and not any(tag[0].isdigit() for tag in tags[2:]), tags
    # One chart, one line per sub-run: train and validation loss overlaid, every point at its epoch.
    assert train_run == {"1_loss": curves["train/loss"]} and [step for step, _ in curves["train/loss"]] == [0, 1]
    assert validation == {"1_loss": curves["val/loss"], "2_acc": curves["val/acc"]}
    # The pictures as tall as TIME SERIES shows them: neither shrunk until their text blurs nor enlarged.
    (matrix, *_) = read_events(tmp_path).Images("confusion_matrix")
    assert CARD_HEIGHT - 10 <= matrix.height <= CARD_HEIGHT and matrix.width <= 2 * CARD_HEIGHT


def test_pictures_are_legible_at_the_size_tensorboard_shows_them() -> None:
    two = np.asarray(draw_confusion([[50, 3], [4, 30]], ("benign", "malignant")))
    assert two.shape[0] >= 120  # two classes: big cells, not a thumbnail TensorBoard enlarges into pixels
    names_row = two[20:45, 60:]  # under the title: the column names, written level (a short band of ink)
    assert (names_row < 128).any() and two.shape[0] <= CARD_HEIGHT
    true = np.random.default_rng(0).uniform(25, 346, 60)
    scatter = draw_scatter(true + 40, true, "disease progression after a year (score)")
    assert scatter.height == CARD_HEIGHT
    assert nice_ticks(25, 386) == [0, 100, 200, 300, 400]  # 5-6 round ticks covering every point
    assert 5 <= len(nice_ticks(0.13, 0.97)) <= 6 and nice_ticks(0.13, 0.97)[0] <= 0.13
    corners = np.asarray(scatter)[[0, -1]][:, [0, -1]]
    assert (corners == 255).all()  # nothing drawn to the border: no point cut off


def test_words_are_written_before_training_and_after_every_epoch(tmp_path) -> None:
    train(compose_config(tmp_path, "data=names", "debug=fast", "epochs=2"))
    events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    events.Reload()
    entries = [(e.step, e.tensor_proto.string_val[0].decode()) for e in events.Tensors("sampled_words/text_summary")]
    assert [step for step, _ in entries] == [0, 1, 2]  # step 0: the untrained network, before its first step
    for step, table in entries:  # one table row per line so far: the newest entry holds the whole change
        rows = table.splitlines()[2:]
        assert [row.split("|")[1].strip() for row in rows] == [str(n) for n in range(step + 1)]
        assert all(row.count("`") == 2 * 8 for row in rows)  # 8 words a line


def train_steps(tmp_path, optimizer: str, lr: float, steps: int, every_n_steps: int) -> tuple[dict, list[dict]]:
    """A few optimizer steps on the digits, one epoch, with the gradient and update panels measuring every
    ``every_n_steps``-th: (what they logged, each step's real weights and gradients per layer)."""
    cfg = compose_config(tmp_path, f"optimizer={optimizer}", f"lr={lr}")
    L.seed_everything(0)
    data: DigitsDataModule = instantiate(cfg.data)
    module = Learner(data.signature(), plain(cfg.model), plain(cfg.optimizer))
    record = RecordSteps()
    trainer = L.Trainer(
        max_epochs=1, limit_train_batches=steps, limit_val_batches=0, logger=TensorBoardLogger(tmp_path, "", ""),
        callbacks=[GradientNorms(every_n_steps), UpdateRatio(every_n_steps), record], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
    )
    trainer.fit(module, datamodule=data)
    logged = {tag: values[0][1] for tag, values in read_scalars(tmp_path).items()}
    return logged, record.steps


class RecordSteps(L.Callback):
    """Each layer's weight matrix before and after every step, and its gradient."""

    def __init__(self) -> None:
        self.steps: list[dict] = []

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        weights = {name: layer.weight if name == "output" else layer.linear.weight
                   for name, layer in module.model.layers.named_children() if name != "input"}
        self.live = weights
        self.steps.append({name: {"before": w.detach().clone(), "grad": w.grad.clone()} for name, w in weights.items()})

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        for name, w in self.live.items():
            self.steps[-1][name]["after"] = w.detach().clone()


def test_for_plain_sgd_the_update_is_lr_times_the_gradient(tmp_path) -> None:
    lr = 0.05
    logged, [step] = train_steps(tmp_path, "sgd", lr, steps=1, every_n_steps=10)
    for name, layer in step.items():
        weight_norm = layer["after"].norm().item()
        assert logged[f"grad_norm/{name}"] == pytest.approx(layer["grad"].norm().item(), rel=1e-5)
        # ‖Δw‖ = update_ratio · ‖w‖ must be lr · ‖grad‖: gradient descent, w = w - lr · grad, seen in the panels.
        assert logged[f"update_ratio/{name}"] * weight_norm == pytest.approx(lr * logged[f"grad_norm/{name}"], rel=1e-4)


def ratio(layer: dict) -> float:
    return ((layer["after"] - layer["before"]).norm() / layer["after"].norm()).item()


def test_the_update_ratio_measures_what_any_optimizer_did_on_the_measured_steps(tmp_path) -> None:
    lr = 0.001
    logged, steps = train_steps(tmp_path, "adam", lr, steps=5, every_n_steps=2)
    measured = steps[0::2]  # steps 0, 2 and 4 of the epoch
    for name in LAYERS:
        assert logged[f"update_ratio/{name}"] == pytest.approx(sum(ratio(s[name]) for s in measured) / 3, rel=1e-4)
        mean_grad = sum(s[name]["grad"].norm().item() for s in measured) / 3
        assert logged[f"grad_norm/{name}"] == pytest.approx(mean_grad, rel=1e-5)
        # Adam's first step moves each weight by about lr whatever its gradient: not lr · ‖grad‖ at all.
        first = steps[0][name]
        assert (first["after"] - first["before"]).norm() > 3 * lr * first["grad"].norm()


def test_histograms_count_every_value_and_skip_a_diverged_tensor(tmp_path) -> None:
    values = torch.tensor([0.0, 1.0, 1.0, 3.0])
    with SummaryWriter(tmp_path) as writer:
        panels.add_histograms(writer, {"ok": values, "same": torch.full((5,), 2.0),
                                       "nan": torch.tensor([1.0, math.nan])}, step=0)
    events = read_events(tmp_path)
    assert sorted(events.Tags()["histograms"]) == ["ok", "same"]  # a diverged run's weights get none, no error
    ok, same = (events.Histograms(tag)[0].histogram_value for tag in ("ok", "same"))
    assert (ok.min, ok.max, ok.num, ok.sum, ok.sum_squares) == (0.0, 3.0, 4, 5.0, 11.0)
    assert sum(ok.bucket) == 4 and ok.bucket[0] == 1 and ok.bucket[-1] == 1 and ok.bucket_limit[-1] == 3.0
    assert list(same.bucket) == [5] and list(same.bucket_limit) == [2.0]


@pytest.mark.parametrize("shape", [(1, 1), (241, 241), (118, 274, 3)])
def test_pictures_decode_to_the_same_pixels(tmp_path, shape) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    with SummaryWriter(tmp_path) as writer:
        panels.add_picture(writer, "tag", pixels, step=3)
    (image,) = read_events(tmp_path).Images("tag")
    decoded = np.asarray(Image.open(io.BytesIO(image.encoded_image_string)))
    assert image.step == 3 and (image.height, image.width) == shape[:2]
    rgb = pixels if len(shape) == 3 else np.repeat(pixels[:, :, None], 3, axis=2)  # TensorBoard images are RGB
    assert (decoded == rgb).all()


def test_panels_write_scalars_to_csv_and_each_can_be_switched_off(tmp_path) -> None:
    train(compose_config(tmp_path, "debug=fast", "epochs=2", "logger=csv", "~callbacks.update_ratio"))
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0])
    assert {f"grad_norm/{layer}" for layer in LAYERS} | {"lr"} <= columns
    assert not any(column.startswith("update_ratio/") for column in columns)
    assert sorted({row["step"] for row in rows if row["grad_norm/hidden1"]}) == ["0", "1"]


def test_panels_need_no_logger(tmp_path) -> None:
    cfg = compose_config(tmp_path, "debug=fast")
    L.seed_everything(0)
    data: DigitsDataModule = instantiate(cfg.data)
    module = Learner(data.signature(), plain(cfg.model), plain(cfg.optimizer))
    callbacks = [instantiate(c) for name, c in cfg.callbacks.items() if name != "progress_bar"]
    trainer = instantiate(cfg.trainer, logger=False, callbacks=callbacks, enable_progress_bar=False)
    trainer.fit(module, datamodule=data)
    assert trainer.global_step == 5 and not list(tmp_path.glob("events.out.tfevents.*"))
