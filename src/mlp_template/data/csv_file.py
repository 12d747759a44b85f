"""A CSV file read with pandas as it is published: its separator and encoding found, missing-value markers read as
gaps, and refused in one line where it cannot be a table (no file, not text, no header, two columns of one name).
No Lightning here: predict.py reads its rows with the same code.
"""

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from mlp_template.data import DataError
from mlp_template.files import input_file

MISSING_MARKERS = ["", "?", "NA", "N/A", "n/a", "na", "-", "NULL", "null", "None", "#N/A", "<NA>"]  # a gap's spellings
SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}  # besides commas, in the exports people send
FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_csv(path: Path, key: str) -> tuple[pd.DataFrame, list[str]]:
    """A CSV file with a header row and at least one row of values, and the lines that say how it was read; or a
    one-line error naming ``key=path``. A blank column name becomes ``column N`` (its position), and is said."""
    where = f"{key}={path}"
    input_file(path, key, "a CSV file", "a CSV needs a header row and rows of values")  # missing, a folder, empty
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head.strip():
        raise DataError(f"{where}: the file is empty; a CSV needs a header row and rows of values")
    if b"\x00" in head:
        raise DataError(f"{where}: not a CSV file (it holds binary data, not text)")
    notes = []
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            frame = parse(path, encoding, where, notes)
            break
        except UnicodeDecodeError as e:
            notes = [f"{where}: not UTF-8 (byte 0x{e.object[e.start]:02x}); read as cp1252 (Windows and Latin-1)"]
    else:
        raise DataError(f"{where}: not UTF-8, nor cp1252 (Windows, Latin-1); save it as UTF-8")
    if first_line_holds_values(frame):
        raise DataError(f"{where}: no header row: its first line holds values ({', '.join(map(str, frame.columns[:4]))}"
                        f"{', ...' if len(frame.columns) > 4 else ''}); add a first line naming the columns")
    if frame.empty:
        raise DataError(f"{where}: a header row only, no rows of values")
    return frame, notes


def parse(path: Path, encoding: str, where: str, notes: list[str]) -> pd.DataFrame:
    """The table under the header's own names (pandas would rename a repeated ``price`` to ``price.1``, and a blank
    one to ``Unnamed: 3``), read with the separator the header uses."""
    with open(path, encoding=encoding, newline="") as f:
        header = f.readline()
    separator = ","
    if "," not in header and (used := [s for s in SEPARATORS if s in header]):
        separator = max(used, key=header.count)
        notes.append(f"{where}: the header has no comma but {SEPARATORS[separator]}: read with {separator!r} between "
                     "columns")
    names = [name.strip() for name in next(csv.reader([header], delimiter=separator))]
    if repeated := sorted({name for name in names if name and names.count(name) > 1}):
        raise DataError(f"{where}: " + "; ".join(
            f"the name {name} heads columns {', '.join(str(i + 1) for i, n in enumerate(names) if n == name)}"
            for name in repeated[:3]) + "; every column needs a name of its own")
    if blank := [i + 1 for i, name in enumerate(names) if not name]:
        names = [name or f"column {i + 1}" for i, name in enumerate(names)]
        notes.append(f"{where}: no name in the header for column {', '.join(map(str, blank[:10]))}: called "
                     f"{', '.join(f'column {i}' for i in blank[:10])}")
    try:
        frame = pd.read_csv(path, sep=separator, header=0, names=names, encoding=encoding, skipinitialspace=True,
                            keep_default_na=False, na_values=MISSING_MARKERS)
    except pd.errors.EmptyDataError as e:
        raise DataError(f"{where}: the file is empty; a CSV needs a header row and rows of values") from e
    except (pd.errors.ParserError, ValueError) as e:
        raise DataError(f"{where}: not a CSV file ({str(e).splitlines()[0]})") from e
    frame.attrs["unnamed"] = [f"column {i}" for i in blank]
    return frame


def first_line_holds_values(frame: pd.DataFrame) -> bool:
    """Whether the header pandas read is a first row of values: numbers above the numeric columns, one at least with
    a fraction, or each among its column's values. A header may name columns by whole numbers (years, or pandas'
    0, 1, 2 ...), which rarely all fall among the values below them."""
    numeric = [name for name in frame.columns if is_numeric(frame[name])]
    if not numeric or not all(is_number(name) for name in numeric):
        return False
    return not all(float(name).is_integer() for name in numeric) or all(
        frame[name].min() <= float(name) <= frame[name].max() for name in numeric)


def is_numeric(column: pd.Series) -> bool:
    """A column of numbers (true/false columns are categories)."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def check_finite(frame: pd.DataFrame, where: str) -> None:
    """Refuse a number the network cannot hold (NaN, infinite, or beyond float32's ±3.4e38), naming its column and
    row (counted from 1 under the header): no learning rate would fix it."""
    for column in [name for name in frame.columns if is_numeric(frame[name])]:
        values = frame[column].to_numpy(dtype="float64", na_value=0.0)
        if not (bad := ~(np.abs(values) <= FLOAT32_MAX)).any():
            continue
        row = int(bad.argmax())
        raise DataError(f"{where}: column {column}, row {frame.index[row] + 1}: {values[row]:g} is no number the "
                        "network can hold (finite, within ±3.4e38); correct it, or leave the cell empty")


def check_values(frame: pd.DataFrame, where: str, columns: list[str]) -> None:
    """Refuse a missing value (data.missing=refuse), naming its column and its row (counted from 1 under the header)."""
    bad = frame[columns].isna()
    if bad.to_numpy().any():
        row = int(bad.any(axis=1).to_numpy().argmax())
        column = bad.columns[bad.iloc[row].to_numpy().argmax()]
        raise DataError(f"{where}: column {column}, row {frame.index[row] + 1}: a missing value; every cell needs a "
                        "value with data.missing=refuse (data.missing=fill fills gaps, data.missing=drop drops rows)")
