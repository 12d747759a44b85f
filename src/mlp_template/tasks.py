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
    always = "always the most frequent class"  # the end line's baseline (always_scores)

    def __init__(self, data: dict) -> None:
        self.classes = data["output_size"]
        self.names = data.get("classes") or [str(c) for c in range(self.classes)]  # a table's labels, else numbers
        self.balanced = "classes" in data  # a table's classes, often imbalanced: balanced accuracy too

    def loss(self, outputs: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(outputs, y)

    def metrics(self) -> dict[str, "Metric"]:
        """Accuracy; for a table's classes also balanced accuracy, the mean of each class's recall (a network that
        always answers the majority of 97 % scores 0.97 accuracy, but 0.5 balanced accuracy on two classes)."""
        from torchmetrics.classification import MulticlassAccuracy  # here: serving runs without torchmetrics

        balanced = {"balanced_acc": MulticlassAccuracy(self.classes, average="macro")} if self.balanced else {}
        return {"acc": MulticlassAccuracy(self.classes, average="micro"), **balanced}

    def always_scores(self, train: Tensor, test: Tensor) -> dict[str, float]:
        """What always answering the training rows' most frequent class scores on the test rows."""
        majority = int(train.bincount().argmax())
        present = test.unique()
        scores = {"always/test/acc": float((test == majority).float().mean())}
        if self.balanced:  # the majority class's recall is 1, every other class's 0
            scores["always/test/balanced_acc"] = float(bool((present == majority).any())) / len(present)
        return scores

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
    always = "always the training mean"

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

    def always_scores(self, train: Tensor, test: Tensor) -> dict[str, float]:
        """What always answering the training rows' mean scores on the test rows, in the target's units."""
        truth, guess = self.in_units(test.float()), float(self.in_units(train.float()).mean())
        spread = float(((truth - truth.mean()) ** 2).sum()) or 1.0
        return {"always/test/mae": float((truth - guess).abs().mean()),
                "always/test/r2": 1 - float(((truth - guess) ** 2).sum()) / spread}


class NextToken(Classification):
    """Logits, one per token of the vocabulary -> the next token: cross-entropy (nats per token); perplexity,
    exp(cross-entropy): as unsure as a fair choice among that many tokens."""

    metric_names = ("perplexity",)
    optimized = ("val/loss", "minimize")

    def metrics(self) -> dict[str, "Metric"]:
        from torchmetrics.text import Perplexity

        return {"perplexity": Perplexity()}

    def always_scores(self, train: Tensor, test: Tensor) -> dict[str, float]:
        return {}  # the frequency baseline (baseline/val/loss) is the one to beat

    def judged(self, outputs: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return outputs.unsqueeze(1), y.unsqueeze(1)  # Perplexity scores sequences: each example is one of length 1


TASKS = {"classification": Classification, "regression": Regression, "next_token": NextToken}


def metric_names(task: str) -> list[str]:
    """Every final metric a run of ``task`` reports."""
    names = TASKS[task].metric_names
    return ["train/loss", "val/loss", "test/loss", *(f"{split}/{name}" for split in ("val", "test") for name in names)]
