"""What the output layer gives, and how it is judged: a class, a number, or the next token.

Each task names its loss (how wrong one batch is, what backpropagation differentiates) and its metrics (how good
the predictions are, in words a person reads: accuracy, error in the target's units, perplexity). The loop, the
network and the panels are the same for all three. Each task also says what a served network answers (the
logits, or a number in the target's units) and how predict.py writes it. A new task is a class here and an entry in
``TASKS``.
"""

from typing import TYPE_CHECKING

import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:  # torchmetrics is imported where metrics are built: serving answers without it
    from torchmetrics import Metric


class Classification:
    """Logits, one per class -> the class: cross-entropy loss; accuracy."""

    metric_names = ("acc",)
    optimized = ("val/acc", "maximize")  # what a sweep ranks runs by (conf/objective)

    def __init__(self, data: dict) -> None:
        self.classes = data["output_size"]
        self.names = data.get("classes") or [str(c) for c in range(self.classes)]  # a table's labels, else numbers

    def loss(self, outputs: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(outputs, y)

    def metrics(self) -> dict[str, "Metric"]:
        from torchmetrics.classification import MulticlassAccuracy

        return {"acc": MulticlassAccuracy(self.classes, average="micro")}

    def judged(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """What the metrics compare: here the logits (argmax is the class) and the true classes."""
        return outputs, y

    def answer(self, outputs: Tensor) -> Tensor:
        """What a served network (predict.py, export.py) gives: the logits; softmax makes them probabilities."""
        return outputs

    def table(self, answers: Tensor, predicted: str) -> tuple[list[str], list[list[str]]]:
        """predict.py's columns and one row per input: the likeliest class, then every class's probability."""
        probabilities = answers.softmax(dim=1)
        rows = [[self.names[best], *(f"{p:.6f}" for p in row)]
                for best, row in zip(probabilities.argmax(dim=1).tolist(), probabilities.tolist(), strict=True)]
        return [predicted, *(f"prob_{name}" for name in self.names)], rows


class Regression:
    """One number out: mean squared error on standardised targets; mean absolute error and R² in the target's
    own units (R² = 1 is perfect, 0 is no better than always answering the mean)."""

    metric_names = ("mae", "r2")
    optimized = ("val/loss", "minimize")

    def __init__(self, data: dict) -> None:
        self.mean, self.std = data["target_mean"], data["target_std"]

    def loss(self, outputs: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(outputs.squeeze(1), y)

    def metrics(self) -> dict[str, "Metric"]:
        from torchmetrics.regression import MeanAbsoluteError, R2Score

        return {"mae": MeanAbsoluteError(), "r2": R2Score()}

    def judged(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Predictions and targets back in the target's units, in float32 (R² sums squares: not in half precision)."""
        return self.in_units(outputs.squeeze(1).float()), self.in_units(y.float())

    def answer(self, outputs: Tensor) -> Tensor:
        """What a served network gives: the number, in the target's units, one per input (batch,)."""
        return self.in_units(outputs.squeeze(1))

    def table(self, answers: Tensor, predicted: str) -> tuple[list[str], list[list[str]]]:
        """predict.py's column and one row per input: the number."""
        return [predicted], [[f"{value:.6g}"] for value in answers.tolist()]

    def in_units(self, standardised: Tensor) -> Tensor:
        return standardised * self.std + self.mean


class NextToken(Classification):
    """Logits, one per token of the vocabulary -> the next token: cross-entropy (nats per token); perplexity,
    exp(cross-entropy): as unsure as a fair choice among that many tokens."""

    metric_names = ("perplexity",)
    optimized = ("val/loss", "minimize")

    def metrics(self) -> dict[str, "Metric"]:
        from torchmetrics.text import Perplexity

        return {"perplexity": Perplexity()}

    def judged(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return outputs.unsqueeze(1), y.unsqueeze(1)  # Perplexity scores sequences: each example is one of length 1


TASKS = {"classification": Classification, "regression": Regression, "next_token": NextToken}


def metric_names(task: str) -> list[str]:
    """Every final metric a run of ``task`` reports."""
    names = TASKS[task].metric_names
    return ["train/loss", "val/loss", "test/loss", *(f"{split}/{name}" for split in ("val", "test") for name in names)]
