"""A CSV file read with pandas, and refused in one line where a table cannot be used: no file, not a CSV, no header
row, no rows, a missing or infinite value (naming the column and the row, counted from 1 under the header).
Nothing is filled in silently: what to put in an empty cell is the table owner's decision.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from mlp_template.data import DataError
from mlp_template.files import input_file


def read_csv(path: Path, key: str) -> pd.DataFrame:
    """A CSV file with a header row and at least one row of values, or a one-line error naming ``key=path``."""
    where = f"{key}={path}"
    input_file(path, key, "a CSV file", "a CSV needs a header row and rows of values")  # missing, a folder, empty
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError as e:
        raise DataError(f"{where}: the file is empty; a CSV needs a header row and rows of values") from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{where}: not a CSV file ({str(e).splitlines()[0]})") from e
    if first_line_holds_values(frame):
        raise DataError(f"{where}: no header row: its first line holds values ({', '.join(map(str, frame.columns[:4]))}"
                        f"{', ...' if len(frame.columns) > 4 else ''}); add a first line naming the columns")
    if frame.empty:
        raise DataError(f"{where}: a header row only, no rows of values")
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


def check_values(frame: pd.DataFrame, where: str, columns: list[str] | None = None) -> None:
    """Refuse a missing or infinite value (naming its column and its row, counted from 1 under the header): what
    to put there is the owner's decision, so nothing is filled in silently."""
    columns = list(frame.columns) if columns is None else columns
    bad = frame[columns].isna()
    numeric = frame[columns].select_dtypes("number")
    bad[numeric.columns] |= ~np.isfinite(numeric.to_numpy(dtype="float64"))
    if bad.to_numpy().any():
        row = int(bad.any(axis=1).to_numpy().argmax())
        column = bad.columns[bad.iloc[row].to_numpy().argmax()]
        value = frame[column].iloc[row]
        raise DataError(f"{where}: column {column}, row {row + 1}: {'a missing value' if pd.isna(value) else value}; "
                        "every cell needs a value (fill or drop such rows first)")
