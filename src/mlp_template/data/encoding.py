"""A table's rows -> the network's input layer: numbers as they are (a gap: the training median, and a was-missing
input), each category a 0/1 input (rare or unseen ones: one "other" input). What is fitted on the training rows is
kept as plain values (lists, numbers) in the checkpoint, so predict.py encodes new rows the same way, without
Lightning.
"""

from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from mlp_template.data import DataError
from mlp_template.data.columns import convert, listing
from mlp_template.data.csv_file import read_csv

MISSING = "missing"  # a category's gap is a category of its own
OTHER = "other"  # each category column's last input: values seen in fewer than min_frequency training rows, or never


def fit_encoding(train: pd.DataFrame, kinds: dict[str, str], date_formats: dict[str, str], min_frequency: int) -> dict:
    """What the training rows (converted: columns.convert) say about each input column, as plain values.

    ``numeric``: the number columns (a date's three); ``medians``: what fills their gaps; ``flags``: those with gaps
    in training, each with a was-missing input; ``categories``: each category column's kept values (one input
    each, then ``other``); ``inputs``: every input's name; ``input_mean``/``input_std``: per input (0 and 1 for a
    0/1 input); ``date_formats``: each date column's format, found in the training file, in which new rows are read
    (a new guess would read a file of 03/02/2017s month first after training on 25/12/2016s).
    """
    numeric = [column for column in train.columns if column not in kinds or kinds[column] != "category"]
    medians = train[numeric].median().fillna(0.0)  # a column empty in training: 0, and it stays constant
    flags = [column for column in numeric if train[column].isna().any()]
    categories = {}
    for column in (c for c, k in kinds.items() if k == "category"):
        counts = train[column].fillna(MISSING).value_counts()
        categories[column] = sorted(map(str, counts.index[counts >= min_frequency]))
    filled = train[numeric].fillna(medians)
    width = len(flags) + sum(len(values) + 1 for values in categories.values())
    return {  # input_mean first: the key a changed data file is named by (runs/config.py)
        "input_mean": [*map(float, filled.mean()), *[0.0] * width],
        "input_std": [*map(float, filled.std(ddof=0).replace(0, 1).fillna(1)), *[1.0] * width],
        "kinds": kinds,
        **({"date_formats": date_formats} if date_formats else {}),  # none without dates: older checkpoints match
        "numeric": numeric,
        "medians": [float(medians[column]) for column in numeric],
        "flags": flags,
        "categories": categories,
        "min_frequency": min_frequency,
        "inputs": [*numeric, *(f"{column} (missing)" for column in flags),
                   *(f"{column}={value}" for column, values in categories.items() for value in [*values, OTHER])],
    }


def encode_rows(rows: pd.DataFrame, encoding: dict) -> tuple[Tensor, dict[str, dict[str, int]]]:
    """Converted rows -> the network's raw inputs (N, inputs): numbers with gaps filled, was-missing flags, then each
    category column's 0/1 inputs; and per column, how many cells were ``filled`` and how many went to ``other``."""
    numbers = rows[encoding["numeric"]]
    medians = dict(zip(encoding["numeric"], encoding["medians"], strict=True))
    parts = [torch.tensor(numbers.fillna(medians).to_numpy(dtype="float32")),
             torch.tensor(rows[encoding["flags"]].isna().to_numpy(dtype="float32"))]
    counts = {"filled": {c: n for c, n in numbers.isna().sum().items() if n}, "other": {}}
    for column, values in encoding["categories"].items():
        codes = pd.Index(values).get_indexer(rows[column].fillna(MISSING)).astype("int64")
        codes[codes < 0] = len(values)  # -1, a rare or unseen value: the column's last input, other
        if other := int((codes == len(values)).sum()):
            counts["other"][column] = other
        inputs = torch.zeros(len(codes), len(values) + 1)  # float32 at once: one_hot's int64 is twice the memory
        inputs[torch.arange(len(codes)), torch.from_numpy(codes)] = 1.0
        parts.append(inputs)
    return torch.cat(parts, dim=1), counts


def said(counts: dict[str, int], what: str) -> str:
    """``what``: column count, column count … and N more (a printed line under 300 characters)."""
    return f"{what}: {listing([f'{column} {n}' for column, n in counts.items()])}"


def categories_line(encoding: dict, train: pd.DataFrame) -> str | None:
    """Which categories each category column keeps, and how many values went to "other"."""
    if not encoding["categories"]:
        return None
    parts = [f"{column} {len(values)}" + (f" (+ other: {rest} rarer values)" if (
        rest := train[column].fillna(MISSING).nunique() - len(values)) else "")
        for column, values in encoding["categories"].items()]
    return (f"categories, one input each, values in fewer than data.min_frequency={encoding['min_frequency']} "
            f"training rows in one 'other' input: {listing(parts)}")


def read_rows(path: Path, encoding: dict) -> tuple[pd.DataFrame, Tensor, list[str]]:
    """New rows for predict.py: a CSV with the training table's input columns (the target and other columns may be
    there too) -> the rows as read, the network's raw inputs, and the lines saying what was filled or read as
    "other". Every row is answered; a missing column or a word in a number column is refused in one line."""
    where = f"inputs={path}"
    frame, lines = read_csv(path, "inputs")
    kinds = encoding["kinds"]
    if missing := [column for column in kinds if column not in frame.columns]:
        raise DataError(f"{where}: no column {missing[0]}, which the network takes as an input; it needs: "
                        f"{listing(list(kinds))}")
    rows = convert(frame, kinds, where, encoding.get("date_formats"))  # refuses what no float32 holds
    x, counts = encode_rows(rows, encoding)
    if counts["other"]:
        lines.append(said(counts["other"], f"{where}: categories training never saw or saw in fewer than "
                                           f"{encoding['min_frequency']} rows, read as 'other'"))
    if counts["filled"]:
        lines.append(said(counts["filled"], f"{where}: gaps filled with the training median"))
    return frame, x, lines
