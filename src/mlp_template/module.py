"""The training loop's steps: forward pass and loss; autograd and the optimizer do the rest.

Lightning runs the loop (https://lightning.ai/docs/pytorch/stable/common/lightning_module.html): for every batch
it calls ``training_step`` and then backpropagation and one gradient-descent step; one pass over the training
set is an epoch.
"""

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor
from torch.optim import Optimizer
from torchmetrics import MeanMetric

from mlp_template.model import build_network
from mlp_template.tasks import TASKS


class Learner(L.LightningModule):
    """Wraps the MLP with its task's loss and metrics (tasks.py) and its optimizer.

    ``data`` is the data module's ``signature()`` (sizes, task, preprocessing); ``model``, ``optimizer`` and
    ``scheduler`` are the plain dicts of the Hydra config groups of those names. So a checkpoint holds only plain
    containers, loads with ``weights_only=True``, and says everything needed to rebuild the network and serve it.
    """

    def __init__(self, data: dict, model: dict, optimizer: dict, scheduler: dict | None = None) -> None:
        super().__init__()
        # Stored in every checkpoint; not sent to the logger here, the run logs its HPARAMS with final metrics.
        self.save_hyperparameters(logger=False)
        self.task = TASKS[data["task"]](data)
        self.model = build_network(data, model)
        # The epoch's training loss is summed on the device by training_step (a metric update per step costs more
        # than a small network's step) and fed to the metric once an epoch, which reduces it across DDP ranks.
        # Plain attributes, not buffers: DDP overwrites every buffer with rank 0's copy before each forward pass.
        self.train_loss = MeanMetric()
        self.train_loss_sum, self.train_samples = torch.zeros(()), 0
        self.val_loss, self.val_metrics = MeanMetric(), torch.nn.ModuleDict(self.task.metrics())
        self.test_loss, self.test_metrics = MeanMetric(), torch.nn.ModuleDict(self.task.metrics())

    @property
    def example_input_array(self) -> Tensor:
        """One example: Lightning's model summary shows each layer's input and output sizes from it, and the graph
        panel (weights.py: ModelGraph) traces the network on it. Float inputs in the network's own dtype (a
        ``bf16-true`` run converts the network, and the summary does not convert its example)."""
        dtype = getattr(torch, self.hparams.data["input_dtype"])
        dtype = self.dtype if dtype.is_floating_point else dtype
        return torch.zeros(1, *self.hparams.data["input_shape"], dtype=dtype, device=self.device)

    def forward(self, x: Tensor) -> Tensor:
        """Forward pass: inputs -> outputs, (batch, output_size): logits, or the predicted number."""
        return self.model(x)

    def loss(self, outputs: Tensor, y: Tensor) -> Tensor:
        """How wrong the predictions are: the task's loss (cross-entropy, or mean squared error for numbers)."""
        return self.task.loss(outputs, y)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        outputs = self(x)  # 1. forward pass
        loss = self.loss(outputs, y)  # 2. loss
        self.train_loss_sum += loss.detach() * len(y)  # for the epoch's mean, with no sync with a GPU per step
        self.train_samples += len(y)
        # Lightning now runs optimizer.zero_grad(); loss.backward() (3. backpropagation: a gradient for every
        # weight); optimizer.step() (4. gradient descent: weight = weight - lr * gradient, for plain SGD).
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self.evaluate(batch, self.val_loss, self.val_metrics)  # the outputs, for the prediction panels

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate(batch, self.test_loss, self.test_metrics)

    def evaluate(self, batch: tuple[Tensor, Tensor], loss: MeanMetric, metrics: torch.nn.ModuleDict) -> Tensor:
        """Forward pass and loss without learning: how well the weights do on examples they never trained on."""
        x, y = batch
        outputs = self(x)
        loss.update(self.loss(outputs, y), len(y))
        judged = self.task.judged(outputs.detach(), y)
        for metric in metrics.values():
            metric.update(*judged)
        return outputs

    def on_fit_start(self) -> None:
        self.train_loss_sum = self.train_loss_sum.to(self.device)

    def on_train_epoch_end(self) -> None:
        self.train_loss.update(self.train_loss_sum / self.train_samples, self.train_samples)  # one update an epoch
        self.train_loss_sum, self.train_samples = torch.zeros((), device=self.device), 0
        self.log_dict({"train/loss": self.train_loss.compute(), "step": float(self.current_epoch)})
        self.train_loss.reset()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """A checkpoint carries the validation metrics its weights scored (saved right after validation) and, taken
        mid-epoch, the epoch's training loss so far."""
        checkpoint["train_loss_so_far"] = (self.train_loss_sum.cpu(), self.train_samples)
        checkpoint["validation"] = {name: float(value) for name, value in self.trainer.callback_metrics.items()
                                    if name.startswith("val/")}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.train_loss_sum, self.train_samples = checkpoint.get("train_loss_so_far", (torch.zeros(()), 0))

    def on_validation_epoch_end(self) -> None:
        self.log_epoch("val", self.val_loss, self.val_metrics, self.current_epoch)

    def on_test_epoch_end(self) -> None:
        # Not to the logger: training writes the tested weights' metrics at their epoch (panels/hparams.py),
        # eval.py beside the run.
        self.log_epoch("test", self.test_loss, self.test_metrics, self.current_epoch, to_logger=False)

    def log_epoch(
        self, split: str, loss: MeanMetric, metrics: torch.nn.ModuleDict, epoch: int, to_logger: bool = True
    ) -> None:
        """Log the split's loss and metrics (reduced across DDP ranks by torchmetrics), with the epoch as x-axis."""
        values = {f"{split}/loss": loss.compute(), **{f"{split}/{name}": m.compute() for name, m in metrics.items()}}
        for metric in [loss, *metrics.values()]:
            metric.reset()
        # Lightning plots epoch metrics against the optimizer-step count unless a "step" value is logged with them.
        # logger=None, Lightning's default, logs when the trainer has a logger (True would warn when it has none).
        self.log_dict({**values, "step": float(epoch)}, logger=None if to_logger else False)

    def configure_optimizers(self) -> Optimizer | OptimizerLRSchedulerConfig:
        """The optimizer that turns gradients into weight updates, and an optional learning-rate schedule."""
        optimizer = instantiate(self.hparams.optimizer, params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler = instantiate(self.hparams.scheduler, optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
