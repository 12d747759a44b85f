"""Numbers (and categories) -> a class or a number: the rows of a table, from a CSV file or scikit-learn's diabetes.

Every column but the target is a feature: numeric columns are standardised, text columns become one-hot
categories, both with what the training split holds. The target decides the task: text, or whole numbers with
few distinct values, are classes; other numbers are a regression target, standardised for training (metrics and
predictions are reported in its own units). csv_file.py reads a CSV and refuses what cannot be used.
"""

from pathlib import Path

import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from mlp_template.data import DataError, InMemoryDataModule, Split, frequency_baseline, split_sizes, split_three_ways
from mlp_template.data.csv_file import check_values, is_number, is_numeric, read_csv

MAX_CLASSES = 20  # a target of whole numbers with at most this many distinct values holds classes


class TableDataModule(InMemoryDataModule):
    """The rows of a table, split once with ``split_seed``; subclasses implement ``frame`` (the table) and set
    ``source`` (how error messages name it)."""

    task = None  # decided by the target when the table is read (``task`` given: as given)
    source: str

    def __init__(
        self, target: str, task: str | None, val_size: float, test_size: float, split_seed: int, **kwargs: float
    ) -> None:
        super().__init__(**kwargs)
        self.target, self.task_given = str(target), task  # a column named by a number (2021) is still its name
        self.val_size, self.test_size, self.split_seed = val_size, test_size, split_seed
        self.encoding: dict = {}  # fitted on the training rows: preprocessing()
        self.rows: dict[str, Tensor] = {}  # which rows of the table (from 0) went into each split

    def frame(self) -> pd.DataFrame:
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (len(self.encoding["input_mean"]),)  # a number per numeric column, one per category of the others

    @property
    def output_size(self) -> int:
        return len(self.encoding["classes"]) if self.task == "classification" else 1

    def preprocessing(self) -> dict:
        return self.encoding

    def baseline(self) -> float:
        """Always the training rows' mean (regression: mean squared error in standardised units) or their class
        frequencies (classification: cross-entropy), scored on the validation rows."""
        train, val = self.examples["train"][1], self.examples["val"][1]
        if self.task == "regression":
            return float(((val - train.mean()) ** 2).mean())
        return frequency_baseline(train, val, self.output_size)

    def load(self) -> dict[str, Split]:
        frame = self.frame()
        if self.target not in frame.columns:
            raise DataError(f"{self.source}: data.target={self.target} is not a column; the columns are: "
                            f"{', '.join(map(str, frame.columns))}")
        if len(frame.columns) < 2:
            raise DataError(f"{self.source}: only the target column {self.target}; a table needs feature columns too")
        check_values(frame, self.source)
        self.task, why = choose_task(frame[self.target], self.task_given, self.source)
        say(f"task: {self.task} ({why})")
        least = 2 if self.task == "regression" else 1  # R² compares a split's values with their mean: two at least
        counts = split_sizes(len(frame), self.val_size, self.test_size, least, self.source, "rows")
        self.rows = split_three_ways(len(frame), *counts, self.split_seed)
        classes = sorted(class_names(frame[self.target]).unique(), key=class_order)
        self.encoding = fit_encoding(frame.iloc[self.rows["train"].numpy()], self.target, self.task, classes)
        features = encode_features(frame, self.encoding, self.source, unseen_categories="zeros")
        x = (features - torch.tensor(self.encoding["input_mean"])) / torch.tensor(self.encoding["input_std"])
        y = encode_targets(frame[self.target], self.encoding)
        return {name: (x[rows], y[rows]) for name, rows in self.rows.items()}


class CsvDataModule(TableDataModule):
    """Your own table: a CSV file with a header row, one column of which is the target."""

    def __init__(self, path: str, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.source = f"data.path={path}"

    def frame(self) -> pd.DataFrame:
        return read_csv(self.path, "data.path")


class DiabetesDataModule(TableDataModule):
    """scikit-learn's bundled diabetes data: 442 patients, 10 measurements each (age, sex, body-mass index, blood
    pressure, six blood serum values), and the progression of their disease a year later: a number to predict."""

    source = "data=diabetes"
    target_label = "disease progression after a year (score)"  # what "target" is: the panels' title (scatter.py)

    def frame(self) -> pd.DataFrame:
        from sklearn.datasets import load_diabetes  # imported here: only this dataset needs scikit-learn

        return load_diabetes(as_frame=True, scaled=False).frame  # in the original units; "target" is the last column


def choose_task(target: pd.Series, given: str | None, where: str) -> tuple[str, str]:
    """Classification or regression, and why, in words: ``given``, or what the target's values suggest."""
    values = target.nunique()
    if values < 2:
        raise DataError(f"{where}: the target {target.name} holds one value only ({target.iloc[0]}); "
                        "there is nothing to learn")
    numeric = is_numeric(target)
    if given == "regression" and not numeric:
        raise DataError(f"{where}: data.task=regression, but the target {target.name} holds text "
                        f"({target.iloc[0]}), not numbers")
    if given:
        return given, f"data.task={given}"
    if not numeric:
        return "classification", f"the target {target.name} holds text: {values} classes"
    whole = bool((target == target.round()).all())
    if whole and values <= MAX_CLASSES:
        return "classification", f"the target {target.name} holds {values} different whole numbers: classes"
    return "regression", (f"the target {target.name} holds {values} different numbers; "
                          "data.task=classification treats them as classes")


def fit_encoding(train: pd.DataFrame, target: str, task: str, classes: list[str]) -> dict:
    """What the training rows say about each column, as plain values (the checkpoint keeps them for serving).

    ``numeric``: the columns kept as numbers; ``categories``: each text column's values, one input each;
    ``input_mean``/``input_std``: per input (0 and 1 for a category's input, which is 0 or 1 already); the
    target's ``classes`` (those of every split, so no validation row has a class the output layer lacks), or its
    ``target_mean``/``target_std``.
    """
    features = [column for column in train.columns if column != target]
    numeric = [column for column in features if is_numeric(train[column])]
    categories = {c: sorted(train[c].astype(str).unique()) for c in features if c not in numeric}
    std = train[numeric].std(ddof=0).replace(0, 1)  # a constant column stays as it is, centred
    width = sum(len(values) for values in categories.values())
    encoding = {
        "target": target,
        "numeric": numeric,
        "categories": categories,
        "input_mean": [*map(float, train[numeric].mean()), *[0.0] * width],
        "input_std": [*map(float, std), *[1.0] * width],
    }
    if task == "classification":
        encoding["classes"] = classes
    else:
        encoding["target_mean"] = float(train[target].mean())
        encoding["target_std"] = float(train[target].std(ddof=0)) or 1.0
    return encoding


def encode_features(frame: pd.DataFrame, encoding: dict, where: str, unseen_categories: str = "error") -> Tensor:
    """Rows -> the network's raw inputs (N, features): numeric columns as they are, then each category as a 0/1
    input. A category the training rows never had: all its inputs 0 (``zeros``), or a one-line error (``error``)."""
    parts = [torch.tensor(frame[encoding["numeric"]].to_numpy(dtype="float32"))]
    for column, values in encoding["categories"].items():
        cells = frame[column].astype(str)
        if unseen_categories == "error" and not (known := cells.isin(values)).all():
            row = int((~known).to_numpy().argmax())
            raise DataError(f"{where}: column {column}, row {row + 1}: {cells.iloc[row]} is a category training never "
                            f"saw; known: {', '.join(values)}")
        codes = pd.Categorical(cells, categories=values).codes  # -1: unseen
        parts.append(torch.nn.functional.one_hot(torch.tensor(codes + 1).long(), len(values) + 1)[:, 1:].float())
    return torch.cat(parts, dim=1)


def read_rows(path: Path, encoding: dict) -> Tensor:
    """New rows for predict.py: a CSV with the training table's feature columns (the target may be absent, other
    columns are ignored) -> the network's raw inputs, or a one-line error naming the file, column and row."""
    where = f"inputs={path}"
    frame = read_csv(path, "inputs")
    features = [*encoding["numeric"], *encoding["categories"]]
    if missing := [column for column in features if column not in frame.columns]:
        raise DataError(f"{where}: no column {missing[0]}, which the network takes as an input; it needs: "
                        f"{', '.join(features)}")
    check_values(frame, where, features)
    for column in encoding["numeric"]:
        if not is_numeric(frame[column]):
            row = int(pd.to_numeric(frame[column], errors="coerce").isna().to_numpy().argmax())
            raise DataError(f"{where}: column {column}, row {row + 1}: {frame[column].iloc[row]} is not a number, "
                            "and the network was trained on numbers there")
    return encode_features(frame, encoding, where)


def encode_targets(target: pd.Series, encoding: dict) -> Tensor:
    """Classes -> their index in ``classes``; numbers -> standardised with the training rows' mean and std."""
    if "classes" in encoding:
        return torch.tensor(pd.Categorical(class_names(target), categories=encoding["classes"]).codes).long()
    return torch.tensor(((target - encoding["target_mean"]) / encoding["target_std"]).to_numpy(dtype="float32"))


def class_names(target: pd.Series) -> pd.Series:
    """A target's values as class names: text as it is, whole numbers without a decimal point (1.0 -> "1")."""
    if is_numeric(target):
        return target.astype("int64").astype(str) if bool((target == target.round()).all()) else target.astype(str)
    return target.astype(str)


def class_order(name: str) -> tuple[bool, float, str]:
    """Numbers in numeric order (2 before 10), then text alphabetically."""
    return (not is_number(name), float(name) if is_number(name) else 0.0, name)


@rank_zero_only
def say(line: str) -> None:
    """Print once, not once per DDP process."""
    print(line)
