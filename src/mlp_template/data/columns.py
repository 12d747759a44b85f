"""Which columns of a table are inputs, and what kind each is: a number, a category, or a date; and which are not
inputs (row numbers, IDs and free text, empty columns). No Lightning here: predict.py reads its rows with the same
code. docs/tables.md lists every decision.
"""

import warnings

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from mlp_template.data import DataError
from mlp_template.data.csv_file import check_finite, is_numeric

MOSTLY_DIFFERENT = 0.9  # a text column with a different value in 90 % of its rows or more names rows: not an input
DATE_PARTS = ("days", "month", "weekday")  # a date becomes three numbers: days since 1970 (standardised: since
# the first date), month 1-12, day of week 0-6 (Monday 0)


def listing(items: list[str], width: int = 120) -> str:
    """``a, b, c … and N more``: as many items as fit in ``width`` characters, so a printed line stays short."""
    shown: list[str] = []
    for item in items:
        if shown and len(", ".join([*shown, item])) > width:
            break
        shown.append(item[:width])
    rest = len(items) - len(shown)
    return ", ".join(shown) + (f" … and {rest} more" if rest else "")


def decide_kinds(
    frame: pd.DataFrame, target: str, drop: list[str], categorical: list[str], where: str
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """``{column: "number" | "category" | "date"}`` for each input column, ``{column: format}`` for the date columns,
    and the lines saying what was decided: columns left out and why, text read as numbers, dates."""
    for key, names in (("data.drop", drop), ("data.categorical", categorical)):
        if unknown := [name for name in names if name not in frame.columns]:
            raise DataError(f"{where}: {key}: no column {listing(unknown)}; the columns are: "
                            f"{listing(list(map(str, frame.columns)))}")
    kinds: dict[str, str] = {}
    formats: dict[str, str] = {}
    out: dict[str, list[str]] = {}
    for column in frame.columns:
        if column == target:
            continue
        if column in drop:
            out.setdefault("data.drop", []).append(column)
            continue
        cells, form = reading(frame[column])
        if why := left_out(frame[column], column in frame.attrs.get("unnamed", []), cells):
            out.setdefault(why, []).append(column)
            continue
        kinds[column] = kind(frame[column], column in categorical, where, cells)
        if kinds[column] == "date":
            formats[column] = form
    lines = [f"left out ({why}): {listing(names)}" for why, names in out.items()]
    if text := [c for c, k in kinds.items() if k == "number" and not is_numeric(frame[c])]:
        lines.append(f"read as numbers (written as text: thousands separators, a currency or percent sign): "
                     f"{listing(text)}")
    if dates := [c for c, k in kinds.items() if k == "date"]:
        lines.append(f"dates, each as three numbers (the day, standardised: days since the first; month; day of week): "
                     f"{listing(dates)}")
    return kinds, formats, lines


def reading(column: pd.Series) -> tuple[str, str | None]:
    """What the cells of ``column`` read as: ``("number", None)`` (numbers, or text that is numbers), ``("date",
    format)`` or ``("text", None)``. Each reading parses the whole column: it is done once per column."""
    if is_numeric(column) or as_numbers(column) is not None:
        return "number", None
    form = date_format(column)
    return ("date", form) if form else ("text", None)


def left_out(column: pd.Series, unnamed: bool, cells: str) -> str | None:
    """Why ``column`` is not an input, or None: it is one. ``cells``: what they read as (``reading``)."""
    values = column.dropna()
    if values.empty:
        return "entirely empty"
    if is_numeric(column) and column.notna().all() and (column == column.round()).all():
        ordered = np.sort(column.to_numpy())
        if (ordered == np.arange(len(column))).all() or (ordered == np.arange(1, len(column) + 1)).all():
            return "the row numbers, 0..n-1 or 1..n"
    distinct = values.nunique()
    if unnamed and distinct == len(column):
        return "an unnamed first column with a different value in each row: row labels"
    if cells == "text" and distinct > 10 and distinct >= MOSTLY_DIFFERENT * len(values):
        return "a different value in (nearly) every row: IDs, names or free text"
    return None


def kind(column: pd.Series, categorical: bool, where: str, cells: str) -> str:
    if is_numeric(column):
        if categorical and not (column.dropna() == column.dropna().round()).all():
            raise DataError(f"{where}: data.categorical: column {column.name} holds fractions; only whole numbers "
                            "(codes) can be categories")
        return "category" if categorical else "number"
    return "category" if cells == "text" else cells


def as_numbers(column: pd.Series) -> pd.Series | None:
    """Text that is numbers (``$1,234.50``, ``45%``, ``1 234``) as numbers (45% is 45), or None: it is text. A NaN
    written in the file counts as a number here, for ``convert`` to refuse by name."""
    numbers = number_cells(column)
    failed = numbers.isna() & column.notna() & ~written_nan(column)
    return numbers if column.notna().any() and not failed.any() else None


def number_cells(column: pd.Series) -> pd.Series:
    """Each cell as a number, NaN where it is a gap or no number: a currency sign, thousands separators and a
    percent sign are left out of the text first."""
    if is_numeric(column):
        return column.astype("float64")
    text = column.astype("str").where(column.notna()).str.strip()
    cleaned = (text.str.replace(r"^([-+]?)\s*[$€£¥]\s*", r"\1", regex=True).str.removesuffix("%")
               .str.replace(r"(?<=\d)[, ](?=\d{3}(?:\D|$))", "", regex=True))
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def written_nan(column: pd.Series) -> pd.Series:
    """Cells that spell NaN: no gap (those are empty, or ``?``, ``NA``...), but a value no network can hold."""
    if is_numeric(column):
        return pd.Series(False, index=column.index)
    return column.astype("str").str.strip().str.fullmatch(r"[-+]?nan", case=False).fillna(False).astype(bool)


def date_format(column: pd.Series) -> str | None:
    """The column's date format, or None: most of it is not dates. It is pandas' guess from the first value, month
    first and day first (``11/01/2016`` is either), whichever reads more of the column; on a tie, month first
    (pandas' default)."""
    if is_numeric(column) or (values := column.dropna()).empty:
        return None
    with warnings.catch_warnings():  # pandas warns when it guesses day first unasked; here both are asked for
        warnings.simplefilter("ignore", UserWarning)
        forms = [guess_datetime_format(str(values.iloc[0]), dayfirst=day_first) for day_first in (False, True)]
    read = {form: int(read_dates(values, form).notna().sum()) for form in dict.fromkeys(forms) if form}
    form = max(read, key=read.__getitem__, default=None)  # max: the first of equals
    return form if form is not None and read[form] >= 0.9 * len(values) else None


def read_dates(column: pd.Series, form: str) -> pd.Series:
    """The column's dates in ``form``; a gap or a date not in that form: NaT."""
    return pd.to_datetime(column.astype("str").where(column.notna()), errors="coerce", format=form)


def convert(frame: pd.DataFrame, kinds: dict[str, str], where: str,
            date_formats: dict[str, str] | None = None) -> pd.DataFrame:
    """The input columns as the network's encoding reads them: numbers (text read as numbers), categories as text
    (whole-number codes without ``.0``), each date as three numbers (``DATE_PARTS``), read in ``date_formats`` (the
    training file's, for new rows) or else guessed. Gaps stay gaps, and so do dates not in the format."""
    columns = {}
    for column, what in kinds.items():
        if what == "number":
            numbers = number_cells(frame[column])
            if (nan := written_nan(frame[column]).to_numpy()).any():
                raise DataError(f"{where}: column {column}, row {frame.index[nan.argmax()] + 1}: "
                                f"{frame[column].iloc[nan.argmax()]} is no number the network can hold; correct it, "
                                "or leave the cell empty")
            if (bad := (numbers.isna() & frame[column].notna()).to_numpy()).any():
                raise DataError(f"{where}: column {column}, row {frame.index[bad.argmax()] + 1}: "
                                f"{frame[column].iloc[bad.argmax()]} is not a number, and the network was trained on "
                                "numbers there")
            columns[column] = numbers
        elif what == "date":  # in the training file's format; guessed for a checkpoint saved before formats were
            form = (date_formats or {}).get(column) or date_format(frame[column])
            none = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")  # no dates read: each a gap
            dates = read_dates(frame[column], form) if form else none
            columns |= {f"{column} ({part})": values for part, values in date_parts(dates).items()}
        else:
            columns[column] = category_text(frame[column])
    converted = pd.DataFrame(columns, index=frame.index)
    check_finite(converted, where)
    return converted


def date_parts(dates: pd.Series) -> dict[str, pd.Series]:
    days = (dates - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400
    return dict(zip(DATE_PARTS, (days, dates.dt.month.astype("float64"), dates.dt.day_of_week.astype("float64")),
                    strict=True))


def category_text(column: pd.Series) -> pd.Series:
    """Category values as text, gaps kept: whole-number codes as ``3``, not ``3.0`` (a gap makes pandas read floats)."""
    if is_numeric(column) and (column.dropna() == column.dropna().round()).all():
        return column.astype("Int64").astype("string").astype(object).where(column.notna())
    return column.astype(str).where(column.notna())
