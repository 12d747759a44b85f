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
        # One example's shape: Lightning's model summary shows each layer's input and output sizes from it, and
        # the graph panel (weights.py: ModelGraph) traces the network on it.
        self.example_input_array = torch.zeros(1, input_size)
        # The epoch's training loss is summed on the device by training_step (a metric update per step costs more
        # than a small network's step) and fed to the metric once an epoch, which reduces it across DDP ranks.
        # Plain attributes, not buffers: DDP overwrites every buffer with rank 0's copy before each forward pass.
        self.train_loss = MeanMetric()
        self.train_loss_sum, self.train_samples = torch.zeros(()), 0
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
        self.train_loss_sum += loss.detach() * len(y)  # for the epoch's mean, with no sync with a GPU per step
        self.train_samples += len(y)
        # Lightning now runs optimizer.zero_grad(); loss.backward() (3. backpropagation: a gradient for every
        # weight); optimizer.step() (4. gradient descent: weight = weight - lr * gradient, for plain SGD).
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self.evaluate(batch, self.val_loss, self.val_acc)  # the logits, for the prediction panels

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate(batch, self.test_loss, self.test_acc)

    def evaluate(self, batch: tuple[Tensor, Tensor], loss: MeanMetric, acc: MulticlassAccuracy) -> Tensor:
        """Forward pass and loss without learning: how well the weights do on examples they never trained on."""
        x, y = batch
        logits = self(x)
        loss.update(self.loss(logits, y), len(y))
        acc.update(logits.argmax(dim=1), y)
        return logits

    def on_fit_start(self) -> None:
        self.train_loss_sum = self.train_loss_sum.to(self.device)

    def on_train_epoch_end(self) -> None:
        self.train_loss.update(self.train_loss_sum / self.train_samples, self.train_samples)  # one update an epoch
        self.train_loss_sum, self.train_samples = torch.zeros((), device=self.device), 0
        self.log_epoch({"train/loss": self.train_loss})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """A checkpoint taken mid-epoch carries the epoch's training loss so far."""
        checkpoint["train_loss_so_far"] = (self.train_loss_sum.cpu(), self.train_samples)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.train_loss_sum, self.train_samples = checkpoint.get("train_loss_so_far", (torch.zeros(()), 0))

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
