"""The weights, the network's memory, layer by layer: how backpropagation blames them, how far each gradient-descent
step moves them, what they hold; and the graph of the layers they connect.

Per-step quantities stay on the device (no host sync per step) and are read once per epoch; the pictures
(histograms, graph) are drawn once per epoch or once per run.
"""

import warnings

import lightning as L
import torch
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torch import Tensor
from torch.optim import Optimizer

from mlp_template.panels import Panel, add_histograms, log_scalars, tensorboards


def layer_weights(pl_module: L.LightningModule) -> dict[str, Tensor]:
    """Each layer's weights by layer name (``hidden1``, ..., ``output``): the seed's numbers on the connections.

    Those are a layer's parameters with two or more dimensions (a Linear's weight matrix); biases and
    normalisation scales are left out. A layer holding several weight matrices gets one entry each. A fork with
    another network names its layers here.
    """
    weights = {}
    for layer_name, layer in pl_module.model.layers.named_children():  # model.py: MLP.layers, input to output
        matrices = [(name, p) for name, p in layer.named_parameters() if p.ndim >= 2 and p.requires_grad]
        for name, p in matrices:
            weights[layer_name if len(matrices) == 1 else f"{layer_name}.{name}"] = p
    return weights


class SampledSteps(Panel):
    """A panel that measures the first optimizer step of every epoch and every ``every_n_steps``-th after it."""

    def __init__(self, every_n_steps: int = 10) -> None:
        self.every_n_steps, self.steps = every_n_steps, 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.steps = 0

    def due(self) -> bool:
        """Whether this optimizer step is measured; called once per step, from ``on_before_optimizer_step`` (with
        gradient accumulation, not every batch steps)."""
        due = self.steps % self.every_n_steps == 0
        self.steps += 1
        return due


class GradientNorms(SampledSteps):
    """Backpropagation's blame per layer: the norm of each layer's weight gradient, as ``grad_norm/<layer>``.

    Taken just before ``optimizer.step()`` (before any gradient clipping) on the sampled steps, the same as
    ``UpdateRatio``'s; the epoch's value is the mean over those steps.
    """

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.names, self.weights = zip(*layer_weights(pl_module).items(), strict=True)
        self.norms: list[Tensor] = []  # one per layer and measured step, on the device

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Optimizer) -> None:
        if self.due():
            grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in self.weights]
            self.norms.extend(torch._foreach_norm(grads))  # one call for all layers (as clip_grad_norm_ does)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.norms:
            means = torch.stack(self.norms).view(-1, len(self.names)).mean(dim=0).tolist()  # the epoch's one sync
            log_scalars(trainer, {f"grad_norm/{name}": m for name, m in zip(self.names, means, strict=True)})
        self.norms.clear()


class UpdateRatio(SampledSteps):
    """Gradient descent's step per layer: ``‖Δw‖ / ‖w‖`` of an optimizer step, averaged over the epoch, as
    ``update_ratio/<layer>``. 1e-3 to 1e-2 is a healthy step; 1e-1 and up, a learning rate that is too high.

    Δw is measured, not assumed: the weights are copied just before ``optimizer.step()`` and compared with what
    they are at the next step's ``on_before_optimizer_step`` (or at the epoch's end), so this is what the optimizer
    really did (SGD, momentum, Adam, weight decay alike); ‖w‖ is after the step. Only optimizer steps move the
    weights, and one hook per step costs less than a second one at the batch's end. That reads the weights about
    six times, as much work as an SGD step itself: it is done on the first step of every epoch and every
    ``every_n_steps``-th after it, and the epoch's value is the mean over those steps.
    """

    def __init__(self, every_n_steps: int = 10) -> None:
        super().__init__(every_n_steps)
        self.measuring = False  # the weights before a measured step are in self.before

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.names, weights = zip(*layer_weights(pl_module).items(), strict=True)
        self.weights = [w.detach() for w in weights]  # the same numbers, outside autograd: no graph is built
        self.before = [w.clone() for w in self.weights]  # allocated once, refilled at every measured step
        self.deltas_then_weights = [*self.before, *self.weights]
        self.norms: list[Tensor] = []  # per measured step: ‖Δw‖ of each layer, then ‖w‖ of each layer

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Optimizer) -> None:
        self.measure()  # the previous step's, if it was measured: no step has moved the weights since
        self.measuring = self.due()
        if self.measuring:
            torch._foreach_copy_(self.before, self.weights)

    def measure(self) -> None:
        if self.measuring:
            torch._foreach_sub_(self.before, self.weights)  # before - after = -Δw, in place: no allocation
            self.norms.extend(torch._foreach_norm(self.deltas_then_weights))
            self.measuring = False

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.measure()  # the epoch's last step, if measured
        if self.norms:
            update, weight = torch.stack(self.norms).view(-1, 2, len(self.names)).unbind(dim=1)  # (measured, layers)
            ratios = (update / weight.clamp_min(torch.finfo().tiny)).mean(dim=0).tolist()
            log_scalars(trainer, {f"update_ratio/{name}": r for name, r in zip(self.names, ratios, strict=True)})
        self.norms.clear()


class WeightHistograms(Panel):
    """What the memory holds, per epoch and layer: histograms of the weights (``weights/<layer>``) and of the
    gradients of the epoch's last step (``grads/<layer>``), and the weights' norm (``weight_norm/<layer>``).

    Taken right after the epoch's last step: Lightning clears the gradients before validation.
    """

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.params = layer_weights(pl_module)

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: STEP_OUTPUT,
        batch: tuple[Tensor, Tensor],
        batch_idx: int,
    ) -> None:
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return
        weights = {name: p.detach() for name, p in self.params.items()}  # the same numbers, outside autograd
        norms = torch.stack(torch._foreach_norm(list(weights.values()))).tolist()
        log_scalars(trainer, {f"weight_norm/{name}": n for name, n in zip(weights, norms, strict=True)})
        writers = tensorboards(trainer)
        if not writers:  # e.g. logger=csv: histograms are TensorBoard's alone
            return
        # Counted now, before the next step moves the weights.
        tensors = {f"weights/{name}": w for name, w in weights.items()}
        tensors |= {f"grads/{name}": p.grad for name, p in self.params.items() if p.grad is not None}
        for writer in writers:
            add_histograms(writer, tensors, trainer.current_epoch)


class ModelGraph(Panel):
    """The network as TensorBoard's GRAPHS tab draws it: traced once, in eval mode, before the first epoch.

    Traced on the module's ``example_input_array`` (Lightning's convention, also used by its model summary), so
    it needs no batch and the trace is not counted in any epoch's time.
    """

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        example = pl_module.example_input_array
        if not isinstance(example, Tensor):
            raise TypeError("the graph panel traces the module's example_input_array, a tensor: set it, or "
                            "~callbacks.graph")
        for writer in tensorboards(trainer):
            with warnings.catch_warnings():  # add_graph traces with torch.jit, which torch now calls deprecated
                warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")
                writer.add_graph(pl_module.model, example.to(pl_module.device))  # the network alone
