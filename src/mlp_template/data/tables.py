"""Numbers (and categories) -> a class or a number: the rows of a table, from a CSV file or scikit-learn's diabetes.

The data modules: read the table (csv_file.py), decide each column's kind (columns.py), deal with gaps, split, fit
the encoding on the training rows (encoding.py), and say each decision in one line. The target decides the task:
text, or whole numbers with few distinct values, are classes; other numbers are a regression target, standardised
for training (metrics and predictions are reported in its own units). docs/tables.md has the details.
"""

from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from mlp_template.data import DataError, Split, frequency_baseline, split_sizes, split_three_ways
from mlp_template.data.columns import as_numbers, convert, decide_kinds, listing
from mlp_template.data.csv_file import check_finite, check_values, is_number, is_numeric, read_csv
from mlp_template.data.datamodule import InMemoryDataModule, say
from mlp_template.data.encoding import categories_line, encode_rows, fit_encoding, said

MAX_CLASSES = 20  # a target of whole numbers with at most this many distinct values holds classes
MISSING = ("fill", "drop", "refuse")  # data.missing: what a gap in an input column does


class TableDataModule(InMemoryDataModule):
    """The rows of a table, split once with ``split_seed``; subclasses implement ``frame`` (the table) and set
    ``source`` (how error messages name it)."""

    task = None  # decided by the target when the table is read (``task`` given: as given)
    source: str

    def __init__(
        self, target: str, task: str | None, val_size: float, test_size: float, split_seed: int,
        missing: str = "fill", drop: list[str] = (), categorical: list[str] = (), min_frequency: int = 5,
        **kwargs: float,
    ) -> None:
        super().__init__(**kwargs)
        self.target, self.task_given = str(target), task  # a column named by a number (2021) is still its name
        self.val_size, self.test_size, self.split_seed = val_size, test_size, split_seed
        self.missing, self.min_frequency = missing, min_frequency
        self.drop, self.categorical = [str(c) for c in drop], [str(c) for c in categorical]
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
        self.check_columns(frame)
        kinds, formats, lines = decide_kinds(frame, self.target, self.drop, self.categorical, self.source)
        for line in lines:
            say(line)
        if not kinds:
            raise DataError(f"{self.source}: no input column is left (each is said above); data.target={self.target} "
                            "needs other columns to be predicted from")
        target = self.target_values(frame[self.target])
        if missing_target := int(target.isna().sum()):
            say(f"{missing_target} rows have no {self.target} (the target): left out")
            frame, target = frame[target.notna()], target[target.notna()]  # a copy only then: a big table is big
        inputs = self.gaps(convert(frame, kinds, self.source, formats), frame, kinds)
        target = target[inputs.index] if len(inputs) < len(target) else target
        self.task, why = choose_task(target, self.task_given, self.source)
        say(f"task: {self.task} ({why})")
        least = 2 if self.task == "regression" else 1  # R² compares a split's values with their mean: two at least
        counts = split_sizes(len(inputs), self.val_size, self.test_size, least, self.source, "rows")
        positions = split_three_ways(len(inputs), *counts, self.split_seed)
        self.rows = {name: torch.from_numpy(inputs.index.to_numpy()[rows.numpy()]) for name, rows in positions.items()}
        train = inputs.iloc[positions["train"].numpy()]
        classes = sorted(class_names(target).unique(), key=class_order)
        self.encoding = fit_encoding(train, kinds, formats, self.min_frequency) | fit_target(
            target.iloc[positions["train"].numpy()], self.target, self.task, classes)
        if line := categories_line(self.encoding, train):
            say(line)
        x, _ = encode_rows(inputs, self.encoding)
        x.sub_(torch.tensor(self.encoding["input_mean"])).div_(torch.tensor(self.encoding["input_std"]))  # in place
        y = encode_targets(target, self.encoding)
        return {name: (x[rows], y[rows]) for name, rows in positions.items()}

    def check_columns(self, frame: pd.DataFrame) -> None:
        if self.target not in frame.columns:
            raise DataError(f"{self.source}: data.target={self.target} is not a column; the columns are: "
                            f"{listing(list(map(str, frame.columns)))}")
        if len(frame.columns) < 2:
            raise DataError(f"{self.source}: only the target column {self.target}; a table needs feature columns too")
        if self.missing not in MISSING:
            raise DataError(f"data.missing={self.missing}: must be one of {', '.join(MISSING)}")

    def target_values(self, target: pd.Series) -> pd.Series:
        """The target column; text that is numbers (``1,234``) read as numbers, unless it is given as classes."""
        if self.task_given != "classification" and not is_numeric(target) and (numbers := as_numbers(target)) \
                is not None:
            say(f"the target {self.target} read as numbers (written as text: thousands separators, a currency or "
                "percent sign)")
            target = numbers.rename(self.target)
        check_finite(target.to_frame(), self.source)
        return target

    def gaps(self, inputs: pd.DataFrame, frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
        """The input rows, with their gaps as data.missing says: kept (filled when encoded), rows dropped, or
        refused; each said in one line. ``frame``: the same rows as read (a date's gap is one, not three)."""
        empty = [column for column in frame.columns if column != self.target and frame[column].isna().all()]
        if self.missing == "refuse":
            if empty:
                raise DataError(f"{self.source}: column {empty[0]} is entirely empty; data.drop=[{empty[0]}] leaves "
                                "it out (data.missing=fill leaves such columns out)")
            check_values(frame, self.source, list(kinds))
        gaps = {column: int(n) for column, n in frame[list(kinds)].isna().sum().items() if n}
        if not gaps:
            return inputs
        if self.missing == "drop":
            kept = inputs[frame[list(kinds)].notna().all(axis=1)]
            say(f"data.missing=drop: {len(inputs) - len(kept)} rows with a gap left out, {len(kept)} kept; "
                + said(gaps, "gaps"))
            if kept.empty:
                raise DataError(f"{self.source}: every row has a gap; data.missing=fill fills them instead")
            return kept
        say(said(gaps, "gaps filled (data.missing=fill: a number gets the training median and a was-missing input, "
                       "a category the category 'missing')"))
        return inputs


class CsvDataModule(TableDataModule):
    """Your own table: a CSV file with a header row, one column of which is the target."""

    def __init__(self, path: str, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.source = f"data.path={path}"

    def frame(self) -> pd.DataFrame:
        frame, notes = read_csv(self.path, "data.path")
        for line in notes:
            say(line)
        return frame


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
        return "classification", (f"the target {target.name} holds {values} different whole numbers: classes; "
                                  "data.task=regression treats them as numbers")
    return "regression", (f"the target {target.name} holds {values} different numbers; "
                          "data.task=classification treats them as classes")


def fit_target(target: pd.Series, name: str, task: str, classes: list[str]) -> dict:
    """The target's part of the encoding: its ``classes`` (those of every split, so no validation row has a class the
    output layer lacks), or the training rows' ``target_mean``/``target_std``."""
    if task == "classification":
        return {"target": name, "classes": classes}
    return {"target": name, "target_mean": float(target.mean()), "target_std": float(target.std(ddof=0)) or 1.0}


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
