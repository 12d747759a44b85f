"""The training loop's steps for a classifier: forward pass and loss; autograd and the optimizer do the rest.

Lightning runs the loop (https://lightning.ai/docs/pytorch/stable/common/lightning_module.html): for every batch
it calls ``training_step`` and then backpropagation and one gradient-descent step; one pass over the training
set is an epoch.
"""

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from mlp_template.model import MLP


class Classifier(L.LightningModule):
    """Wraps the MLP with its loss, its metrics and its optimizer.

    ``model``, ``optimizer`` and ``scheduler`` are the plain dicts of the Hydra config groups of those names, so
    a checkpoint holds only plain containers and loads with ``weights_only=True``.
    """

    def __init__(
        self, input_size: int, num_classes: int, model: dict, optimizer: dict, scheduler: dict | None = None
    ) -> None:
        super().__init__()
        # Stored in every checkpoint; not sent to the logger here, the run logs its HPARAMS with final metrics.
        self.save_hyperparameters(logger=False)
        self.model = MLP(input_size=input_size, output_size=num_classes, **model)
        self.train_loss = MeanMetric()  # fed once an epoch from the running sum that training_step keeps
        self.train_loss_sum, self.train_samples = torch.zeros(()), 0  # reset, on the device, every epoch
        self.val_loss, self.val_acc = MeanMetric(), MulticlassAccuracy(num_classes, average="micro")
        self.test_loss, self.test_acc = MeanMetric(), MulticlassAccuracy(num_classes, average="micro")

    def forward(self, x: Tensor) -> Tensor:
        """Forward pass: images -> logits, (batch, num_classes)."""
        return self.model(x)

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        """How wrong the predictions are: cross-entropy of the logits against the true classes."""
        return F.cross_entropy(logits, y)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        logits = self(x)  # 1. forward pass
        loss = self.loss(logits, y)  # 2. loss
        # Summed on the device for the epoch's mean (on_train_epoch_end): a metric update per step would cost more
        # than a small network's step, and on a GPU its NaN check would wait for every step to finish.
        self.train_loss_sum += loss.detach() * len(y)
        self.train_samples += len(y)
        # Lightning now runs optimizer.zero_grad(); loss.backward() (3. backpropagation: a gradient for every
        # weight); optimizer.step() (4. gradient descent: weight = weight - lr * gradient, for plain SGD).
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate(batch, self.val_loss, self.val_acc)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate(batch, self.test_loss, self.test_acc)

    def evaluate(self, batch: tuple[Tensor, Tensor], loss: MeanMetric, acc: MulticlassAccuracy) -> None:
        """Forward pass and loss without learning: how well the weights do on examples they never trained on."""
        x, y = batch
        logits = self(x)
        loss.update(self.loss(logits, y), len(y))
        acc.update(logits.argmax(dim=1), y)

    def on_train_epoch_start(self) -> None:
        self.train_loss_sum, self.train_samples = torch.zeros((), device=self.device), 0

    def on_train_epoch_end(self) -> None:
        self.train_loss.update(self.train_loss_sum / self.train_samples, self.train_samples)  # one update an epoch
        self.log_epoch({"train/loss": self.train_loss})

    def on_validation_epoch_end(self) -> None:
        self.log_epoch({"val/loss": self.val_loss, "val/acc": self.val_acc})

    def on_test_epoch_end(self) -> None:
        self.log_epoch({"test/loss": self.test_loss, "test/acc": self.test_acc})

    def log_epoch(self, metrics: dict[str, MeanMetric | MulticlassAccuracy]) -> None:
        """Log each metric's epoch value (reduced across DDP ranks by torchmetrics) with the epoch as x-axis."""
        values = {name: metric.compute() for name, metric in metrics.items()}
        for metric in metrics.values():
            metric.reset()
        # Lightning plots epoch metrics against the optimizer-step count unless a "step" value is logged with them.
        self.log_dict({**values, "step": float(self.current_epoch)})

    def configure_optimizers(self) -> Optimizer | OptimizerLRSchedulerConfig:
        """The optimizer that turns gradients into weight updates, and an optional learning-rate schedule."""
        optimizer = instantiate(self.hparams.optimizer, params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler = instantiate(self.hparams.scheduler, optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
