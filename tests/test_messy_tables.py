"""Tables as they are published, written here from scikit-learn's bundled data: gaps, a row-number column that
follows the target, IDs, free text, numbers written as text, a ``?``, dates, a whole-number code. The default
data=csv run reads each as written, says each decision in one line, and scores as on the clean table."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes

from mlp_template.data.columns import date_format, read_dates
from mlp_template.data.encoding import read_rows
from mlp_template.data.tables import CsvDataModule
from mlp_template.runs.config import ConfigError
from mlp_template.runs.run import Run
from mlp_template.serving.prediction import predict
from mlp_template.training import train
from tests.test_tasks import best, run_config

# Fewer epochs than the default's 300 (early stopping ends those runs later, at about the same scores), and without
# the panels that draw: the comparison between the tables is what is tested, within the suite's time.
SHORT = ("epochs=25", "~callbacks.weights", "~callbacks.graph", "~callbacks.grad_norm", "~callbacks.update_ratio",
         "~callbacks.predicted_vs_true", "~callbacks.confusion_matrix", "~callbacks.misclassified")


MESSED = {"cancer": ("mean texture", "mean perimeter", "mean area"), "diabetes": ("s1", "s2", "s3")}


def messy(frame: pd.DataFrame, money: str, marked: str, gaps: str, seed: int = 0) -> pd.DataFrame:
    """``frame`` (sorted by its target, as the clean table is) as a user might get it: ``money`` written as
    ``$21,540.00``, 15 ``?`` in ``marked``, 10 empty cells in ``gaps``."""
    rng = np.random.default_rng(seed)
    frame, n = frame.copy(), len(frame)
    frame.insert(0, "row", np.arange(1, n + 1))  # numbered after sorting by the target: it predicts the target
    frame["id"] = [f"P{i:08d}" for i in rng.choice(10**8, n, replace=False)]
    frame["comment"] = [f"seen on visit {i}" for i in rng.choice(10**6, n, replace=False)]
    frame[money] = frame[money].map(lambda v: f"${v * 1000:,.2f}")  # "$21,540.00": a currency sign, a separator
    frame[marked] = frame[marked].astype(object)
    frame.loc[rng.choice(n, 15, replace=False), marked] = "?"
    frame.loc[rng.choice(n, 10, replace=False), gaps] = np.nan
    days = pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    frame["seen"] = (pd.Timestamp("2020-01-01") + days).strftime("%Y-%m-%d")
    frame["region"] = rng.integers(1, 4, n)  # a code: 1, 2, 3 are places, not amounts
    frame["colour"] = rng.choice(["red", "blue", "green"], n).astype(object)
    frame.loc[rng.choice(n, 12, replace=False), "colour"] = np.nan
    return frame


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("messy")
    cancer = load_breast_cancer(as_frame=True).frame
    cancer["target"] = cancer["target"].map({0: "malignant", 1: "benign"})
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    paths = {}
    for name, frame in (("cancer", cancer), ("diabetes", diabetes)):
        frame = frame.sort_values("target", kind="stable").reset_index(drop=True)
        frame.to_csv(paths.setdefault(f"{name} clean", folder / f"{name}_clean.csv"), index=False)
        messy(frame, *MESSED[name]).to_csv(paths.setdefault(name, folder / f"{name}.csv"), index=False)
    return paths


@pytest.mark.parametrize(("name", "metric", "more"), [("cancer", "test/acc", ()),
                                                      ("diabetes", "test/r2", ("data.categorical=[region]",))])
def test_a_messy_table_runs_as_written_says_each_decision_and_scores_as_the_clean_one(
    tmp_path: Path, tables: dict[str, Path], capsys, name: str, metric: str, more: tuple[str, ...]
) -> None:
    clean = train(run_config(tmp_path / "clean", "data=csv", f"data.path={tables[f'{name} clean']}",
                             "data.target=target", *SHORT))
    capsys.readouterr()
    metrics = train(run_config(tmp_path / "messy", "data=csv", f"data.path={tables[name]}", "data.target=target",
                               *SHORT, *more))
    printed = capsys.readouterr().out.splitlines()
    money, marked, gaps = MESSED[name]
    assert {"left out (the row numbers, 0..n-1 or 1..n): row",
            "left out (a different value in (nearly) every row: IDs, names or free text): id, comment",
            f"read as numbers (written as text: thousands separators, a currency or percent sign): {money}",
            "dates, each as three numbers (the day, standardised: days since the first; month; day of week): seen",
            "gaps filled (data.missing=fill: a number gets the training median and a was-missing input, a category "
            f"the category 'missing'): {marked} 15, {gaps} 10, colour 12"} <= set(printed)
    assert all(len(line) < 300 for line in printed)
    assert metrics[metric] >= clean[metric] - 0.05
    if name == "diabetes":  # the code became a category: one input per place (and "other")
        assert any(line.startswith("categories, one input each") and "region 3" in line for line in printed)
        assert metrics["test/r2"] >= 0.4
    else:
        assert metrics["test/acc"] >= 0.9


def test_predict_answers_every_new_row_with_unseen_categories_and_gaps(tmp_path: Path, tables: dict[str, Path],
                                                                      capsys) -> None:
    train(run_config(tmp_path / "run", "data=csv", f"data.path={tables['cancer']}", "data.target=target", *SHORT,
                     "epochs=5"))
    rows = pd.read_csv(tables["cancer"]).sample(20, random_state=0).drop(columns=["target", "row"])
    rows.loc[rows.index[:4], "colour"] = "purple"  # a colour training never saw
    rows.loc[rows.index[2:7], "mean radius"] = np.nan
    rows.loc[rows.index[5], "seen"] = np.nan
    rows.to_csv(tmp_path / "new.csv", index=False)
    capsys.readouterr()
    out = pd.read_csv(predict(str(best(tmp_path / "run")), str(tmp_path / "new.csv"), str(tmp_path / "p.csv")))
    printed = capsys.readouterr().out
    assert len(out) == 20 and out["predicted_target"].isin(["benign", "malignant"]).all()
    assert list(out.columns[:-3]) == list(rows.columns)  # every input column, then the answers
    np.testing.assert_allclose(out[["prob_benign", "prob_malignant"]].sum(axis=1), 1.0, rtol=1e-5)
    assert "read as 'other': colour 4" in printed and "gaps filled with the training median: mean radius 5, seen " \
                                                       "(days) 1" in printed


def read(path: Path, *lines: str, **options: object) -> CsvDataModule:
    """The data module of ``data=csv data.path=path data.target=y``, read."""
    path.write_bytes(b"\n".join(line.encode("utf-8") if isinstance(line, str) else line for line in lines) + b"\n")
    data = CsvDataModule(path=str(path), target="y", task=None, val_size=0.15, test_size=0.15, split_seed=0,
                         batch_size=8, seed=0, **options)
    data.read()
    return data


ROWS = [f"{i * 3 % 17},{'ab'[i % 2]},{i * 0.5}" for i in range(40)]


@pytest.mark.parametrize(("separator", "said"), [(";", "semicolons: read with ';'"), ("\t", "tabs: read with '\\t'"),
                                                 ("|", "vertical bars: read with '|'")])
def test_a_header_without_commas_is_read_with_its_separator(tmp_path: Path, capsys, separator: str,
                                                            said: str) -> None:
    data = read(tmp_path / "t.csv", separator.join(["x", "colour", "y"]),
                *(row.replace(",", separator) for row in ROWS))
    assert data.encoding["kinds"] == {"x": "number", "colour": "category"}
    printed = capsys.readouterr().out.splitlines()
    assert f"data.path={tmp_path / 't.csv'}: the header has no comma but {said} between columns" in printed


def test_a_cp1252_file_is_read_and_said_and_a_blank_name_is_named_by_its_position(tmp_path: Path, capsys) -> None:
    data = read(tmp_path / "t.csv", "x,,colour,y", *(f"{row.replace(',', ',café,', 1)}".encode("cp1252")
                                                     for row in ROWS))
    printed = capsys.readouterr().out
    assert f"data.path={tmp_path / 't.csv'}: not UTF-8 (byte 0xe9); read as cp1252 (Windows and Latin-1)" in printed
    assert f"data.path={tmp_path / 't.csv'}: no name in the header for column 2: called column 2" in printed
    assert data.encoding["categories"]["column 2"] == ["café"]


def test_gaps_are_dropped_with_data_missing_drop_and_an_empty_column_is_left_out(tmp_path: Path, capsys) -> None:
    rows = [row if i % 10 else ",".join(["", *row.split(",")[1:]]) for i, row in enumerate(ROWS)]
    data = read(tmp_path / "t.csv", "x,colour,y,notes", *(f"{row}," for row in rows), missing="drop")
    printed = capsys.readouterr().out.splitlines()
    assert "left out (entirely empty): notes" in printed
    assert "data.missing=drop: 4 rows with a gap left out, 36 kept; gaps: x 4" in printed
    assert sum(len(rows) for rows in data.rows.values()) == 36 and 0 not in torch.cat(list(data.rows.values()))
    assert "medians" in data.encoding and not data.encoding["flags"]  # no gaps left in training


def test_rows_without_a_target_are_left_out_and_rare_categories_go_to_other(tmp_path: Path, capsys) -> None:
    rows = [f"{i * 3 % 17},{'ab'[i % 2] if i % 13 else 'rare'},{i * 0.5 if i % 8 else ''}" for i in range(40)]
    data = read(tmp_path / "t.csv", "x,colour,y", *rows)
    printed = capsys.readouterr().out.splitlines()
    assert "5 rows have no y (the target): left out" in printed
    assert data.encoding["categories"] == {"colour": ["a", "b"]}  # "rare": 3 rows, fewer than min_frequency=5
    assert data.encoding["inputs"] == ["x", "colour=a", "colour=b", "colour=other"]
    saved = tmp_path / "encoding.pt"
    torch.save(data.signature(), saved)
    assert torch.load(saved, weights_only=True) == data.signature()  # plain values: a checkpoint loads weights-only


def as_dates(cells: list[str | None]) -> pd.Series:
    """The cells read as dates in the format training finds for them."""
    column = pd.Series(cells)
    return read_dates(column, date_format(column))


def test_day_first_dates_are_read_whole_when_the_first_could_be_either() -> None:
    """A European export: 11/01/2016 reads as either; 16/09/2015 only day first, so the whole column is day first."""
    dates = as_dates(["11/01/2016", "16/09/2015", "03/12/2014", None])
    assert list(dates[:3].dt.strftime("%Y-%m-%d")) == ["2016-01-11", "2015-09-16", "2014-12-03"] and pd.isna(dates[3])
    assert list(as_dates(["11/01/2016", "12/25/2015"]).dt.day) == [1, 25]  # month first where it must be


def test_predict_reads_dates_in_the_format_training_found_though_each_new_one_reads_either_way(tmp_path: Path) -> None:
    """Trained on day-first dates (25/12/2016), new rows whose dates all read either way (11/01/2016) are read day
    first too, not guessed again (month first: other dates, no message); a date not in that format is a gap."""
    seen = pd.Timestamp("2016-01-01") + pd.to_timedelta(np.arange(40) * 9, unit="D")  # days 1-31: day first
    data = read(tmp_path / "t.csv", "when,y", *(f"{day:%d/%m/%Y},{i * 0.5}" for i, day in enumerate(seen)))
    (tmp_path / "new.csv").write_text("when\n11/01/2016\n03/02/2017\n05/06/2016\n12/25/2016\n")
    _, x, lines = read_rows(tmp_path / "new.csv", data.signature())
    inputs, days = data.encoding["inputs"], (pd.to_datetime(["2016-01-11", "2017-02-03", "2016-06-05"]) -
                                             pd.Timestamp("1970-01-01")).days
    assert x[:3, inputs.index("when (days)")].tolist() == list(days)
    assert x[:3, inputs.index("when (month)")].tolist() == [1, 2, 6]
    assert lines == [f"inputs={tmp_path / 'new.csv'}: gaps filled with the training median: when (days) 1, "
                     "when (month) 1, when (weekday) 1"]  # 12/25/2016: no 25th month
    old = {key: value for key, value in data.signature().items() if key != "date_formats"}  # an older checkpoint
    assert read_rows(tmp_path / "new.csv", old)[1][:3, inputs.index("when (month)")].tolist() == [11, 3, 5]  # guessed
    saved = tmp_path / "signature.pt"
    torch.save(data.signature(), saved)
    assert torch.load(saved, weights_only=True) == data.signature()  # plain values: a checkpoint loads weights-only
    # eval.py or a resume in that older checkpoint's run folder: the same file, not "trained on other data".
    Run(saved, {"hyper_parameters": {"data": old}}, None, None).check_data(data.signature(), same_run=True)
    changed = {**old, "medians": [m + 1 for m in old["medians"]]}
    with pytest.raises(ConfigError, match="its medians differs from the data read now"):  # still compared: the rest
        Run(saved, {"hyper_parameters": {"data": changed}}, None, None).check_data(data.signature(), same_run=True)
