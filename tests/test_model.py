"""The network and its training step: shapes, logits, loss at init, the gradient-descent update, overfitting."""

import math

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from mlp_template.data.images import DigitsDataModule
from mlp_template.model import ACTIVATIONS, MLP
from mlp_template.module import Learner
from mlp_template.training import plain, train
from tests.conftest import compose_config


def digits(tmp_path, *overrides: str) -> tuple[DigitsDataModule, Learner]:
    cfg = compose_config(tmp_path, *overrides)
    L.seed_everything(cfg.seed)
    data: DigitsDataModule = instantiate(cfg.data)
    data.setup("fit")
    module = Learner(data.signature(), plain(cfg.model), plain(cfg.optimizer))
    return data, module


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_output_layer_emits_one_logit_per_class(activation: str) -> None:
    net = MLP(input_shape=(1, 8, 8), hidden_sizes=[32, 16], output_size=10, activation=activation, batch_norm=True)
    logits = net(torch.randn(5, 1, 8, 8))
    assert logits.shape == (5, 10)
    # Logits: the last layer is a bare Linear, so outputs take both signs and are no probabilities.
    assert isinstance(net.layers[-1], nn.Linear)
    assert logits.min() < 0 < logits.max()
    assert not torch.allclose(logits.softmax(1).sum(1), logits.sum(1))
    assert [name for name, _ in net.layers.named_children()] == ["input", "hidden1", "hidden2", "output"]


def test_loss_at_init_is_log_of_classes(tmp_path) -> None:
    data, module = digits(tmp_path)
    x, y = data.splits["train"].tensors
    loss = module.loss(module(x), y)
    # Random weights know nothing: every class about equally likely, so cross-entropy ~ log(10) = 2.30.
    assert abs(loss.item() - math.log(10)) < 0.15


class RecordStep(L.Callback):
    """Snapshots every weight and its gradient just before the optimizer step, and the weights after it."""

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        self.before = {n: p.detach().clone() for n, p in module.named_parameters()}
        self.grads = {n: p.grad.detach().clone() for n, p in module.named_parameters()}

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.after = {n: p.detach().clone() for n, p in module.named_parameters()}


def test_one_sgd_step_moves_every_weight_by_minus_lr_times_gradient(tmp_path) -> None:
    lr = 0.05
    data, module = digits(tmp_path, f"lr={lr}", "optimizer=sgd")
    record = RecordStep()
    trainer = L.Trainer(max_steps=1, logger=False, callbacks=[record], enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0, use_distributed_sampler=False)
    trainer.fit(module, datamodule=data)
    assert record.grads and all(g.abs().sum() > 0 for g in record.grads.values())  # backprop reached every layer
    for name, before in record.before.items():
        # The seed's rule, weight = weight - lr * gradient, for every weight of every layer.
        torch.testing.assert_close(record.after[name], before - lr * record.grads[name], rtol=0, atol=1e-7)


def test_two_batches_can_be_overfit(tmp_path) -> None:
    metrics = train(compose_config(tmp_path, "debug=overfit"))
    assert metrics["train/loss"] < 0.05  # memorised: a network and loop that cannot learn would stay near 2.3
