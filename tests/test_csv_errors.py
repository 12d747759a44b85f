"""Every bad CSV gets one line, ``error: ...``, naming the file, the column and the row where they apply, and exit
status 1, before any training; predict.py's inputs too."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlp_template.errors import UserError
from mlp_template.serving.evaluation import evaluate
from mlp_template.serving.prediction import predict
from mlp_template.training import train
from tests.conftest import ROOT, compose_config
from tests.test_tasks import run_config
from train import main

# 40 rows; sizes from 2, as sizes from 1 would be the row numbers 1..n (left out: not an input)
GOOD = "size,colour,price\n" + "".join(f"{i},{'red' if i % 2 else 'blue'},{i * 1.5 + 0.25}\n" for i in range(2, 42))

CASES = {  # name: (file content, or None for no file; data.target; the error after "error: data.path=<file>: ")
    # and, where the case needs them, more overrides
    "no such file": (None, "price", "no such file"),
    "not a CSV": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\xff\xfe", "price", "not a CSV file ("),
    "no header": ("1,red,1.75\n2,blue,3.25\n3,red,4.75\n", "price",
                  "no header row: its first line holds values (1, red, 1.75); add a first line naming the columns"),
    "empty": ("", "price", "the file is empty; a CSV needs a header row and rows of values"),
    "no header, whole numbers": ("".join(f"{i * 7 % 50},{i * 11 % 60 + 5}\n" for i in range(3, 40)), "price",
                                 "no header row: its first line holds values (21, 38); add a first line naming the "
                                 "columns"),
    "header only": ("size,colour,price\n", "price", "a header row only, no rows of values"),
    "no such target": (GOOD, "cost", "data.target=cost is not a column; the columns are: size, colour, price"),
    "missing value": (GOOD.replace("7,red,10.75", "7,,10.75"), "price",
                      "column colour, row 6: a missing value; every cell needs a value with data.missing=refuse "
                      "(data.missing=fill fills gaps, data.missing=drop drops rows)", "data.missing=refuse"),
    "entirely empty column": (GOOD.replace("size,", "size,notes,").replace("\n1,", "\n1,,").replace(
                              "red,", ",red,").replace("blue,", ",blue,").replace("\n1,,,", "\n1,,"), "price",
                              "column notes is entirely empty; data.drop=[notes] leaves it out (data.missing=fill "
                              "leaves such columns out)", "data.missing=refuse"),
    "infinite value": (GOOD.replace("9,red,13.75", "9,red,inf"), "price",
                       "column price, row 8: inf is no number the network can hold (finite, within ±3.4e38); correct "
                       "it, or leave the cell empty"),
    "beyond float32": (GOOD.replace("9,red,13.75", "1e39,red,13.75"), "price",
                       "column size, row 8: 1e+39 is no number the network can hold (finite, within ±3.4e38)"),
    "NaN written": (GOOD.replace("9,red,13.75", "NaN,red,13.75"), "price",
                    "column size, row 8: NaN is no number the network can hold; correct it, or leave the cell empty"),
    "a name twice": (GOOD.replace("size,colour,price", "price,colour,price"), "price",
                     "the name price heads columns 1, 3; every column needs a name of its own"),
    "not UTF-8 nor cp1252": (GOOD.encode().replace(b"7,red", b"7,r\x81\x8d"), "price",
                             "not UTF-8, nor cp1252 (Windows, Latin-1); save it as UTF-8"),
    "data.drop names no column": (GOOD, "price", "data.drop: no column weight; the columns are: size, colour, price",
                                  "data.drop=[weight]"),
    "no rows without a gap": ("size,colour,price\n" + "".join(f"{i},,{i}.5\n" if i % 2 else f",red,{i}.5\n"
                                                              for i in range(40)), "price",
                              "every row has a gap; data.missing=fill fills them instead", "data.missing=drop"),
    "one target value": (GOOD.replace("blue", "red"), "colour",
                         "the target colour holds one value only (red); there is nothing to learn"),
    "too few rows": ("size,colour,price\n1,red,2.5\n2,blue,3.5\n", "price",
                     "2 rows are too few for data.val_size=0.15 and data.test_size=0.15: the validation and test "
                     "splits need 2 each, and training at least one"),
    "a regression split of one row": ("x,y\n" + "".join(f"{i * 3},{i * 0.5}\n" for i in range(8)), "y",
                                      "8 rows are too few for data.val_size=0.15 and data.test_size=0.15: the "
                                      "validation and test splits need 2 each"),
    "text target for regression": (GOOD, "colour", "data.task=regression, but the target colour holds text (blue), "
                                                   "not numbers"),
}


def write(folder: Path, content: str | bytes | None) -> Path:
    path = folder / "table.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    return path


@pytest.mark.parametrize("case", CASES)
def test_a_bad_csv_gets_one_line_before_any_work(tmp_path: Path, case: str) -> None:
    content, target, message, *overrides = CASES[case]
    path = write(tmp_path, content)
    task = ["data.task=regression"] if case == "text target for regression" else []
    with pytest.raises(SystemExit) as stop:
        main(compose_config(tmp_path / "run", "data=csv", f"data.path={path}", f"data.target={target}", *task,
                            *overrides))
    assert str(stop.value.code).startswith(f"error: data.path={path}: {message}")
    assert "\n" not in str(stop.value.code)
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written


def test_a_header_may_name_columns_by_whole_numbers(tmp_path: Path) -> None:
    """Years as column names are a header, not a first row of values, even when one lies among its column's values
    (2020 here); data.target=2021 names its column."""
    rows = "".join(f"{i},{2000 + i},{2 * i + 0.5}\n" for i in range(40))
    path = write(tmp_path, "2019,2020,2021\n" + rows)
    value = main(compose_config(tmp_path / "run", "data=csv", f"data.path={path}", "data.target=2021", "debug=fast"))
    assert value == json.loads((tmp_path / "run" / "metrics.json").read_text())["val/loss"]  # a regression's


def test_a_csv_of_classes_returns_val_acc_to_a_sweeper(tmp_path: Path, capsys) -> None:
    """The CSV's target decides the task, and with it the metric train.py returns (conf/objective/task.yaml). The
    end line says that 6 test rows make a rough figure."""
    path = write(tmp_path, GOOD)
    value = main(compose_config(tmp_path / "run", "data=csv", f"data.path={path}", "data.target=colour", "debug=fast"))
    assert value == json.loads((tmp_path / "run" / "metrics.json").read_text())["val/acc"]
    assert "the test figures come from 6 examples only: read them as rough" in capsys.readouterr().out.splitlines()


def test_eval_tests_the_split_it_trained_on_and_refuses_a_changed_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    metrics = train(run_config(tmp_path / "run", "data=csv", f"data.path={path}", "data.target=price", "debug=fast"))
    checkpoint = str(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert evaluate(checkpoint)["test/loss"] == pytest.approx(metrics["test/loss"])
    path.write_text(GOOD + "42,blue,1000.0\n")  # a row more: other standardisation, other splits
    with pytest.raises(UserError, match=rf"^ckpt_path={checkpoint} was trained on other data: its input_mean differs "
                                        r"from the data read now \(has the data file changed since\?\)"):
        evaluate(checkpoint)


def test_a_resume_keeps_its_data_and_splits(tmp_path: Path) -> None:
    """A resumed run trains on the examples it started with: another split, or a CSV edited since, is refused in one
    line, and the run is left as it was; the same file moved elsewhere is fine."""
    path = write(tmp_path, GOOD)

    def train_py(*overrides: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "train.py"), *overrides], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)

    assert train_py("data=csv", f"data.path={path}", "data.target=price", "debug=fast").returncode == 0
    (checkpoint,) = (tmp_path / "logs" / "runs").glob("*/checkpoints/last.ckpt")
    moved = train_py("ckpt_path=last", "epochs=2", "data.split_seed=1")
    assert (moved.returncode, moved.stderr) == (1, "error: data.split_seed=1: a resumed run keeps its data and splits "
                                                   "(data.split_seed=0); start a new run for other data\n")
    elsewhere = path.rename(tmp_path / "table_moved.csv")
    resumed = train_py("ckpt_path=last", "epochs=2", "data=csv", f"data.path={elsewhere}")  # the run's data group
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    before = checkpoint.read_bytes()
    elsewhere.write_text(GOOD + "42,blue,1000.0\n")
    edited = train_py("ckpt_path=last", "epochs=3")
    assert edited.returncode == 1 and edited.stderr.startswith(f"error: ckpt_path={checkpoint} was trained on other "
                                                               "data: its input_mean differs")
    assert checkpoint.read_bytes() == before


def test_the_command_line_gets_the_line_and_exit_status_1_and_no_run_folder(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    command = [sys.executable, str(ROOT / "train.py"), "data=csv", f"data.path={path}", "data.target=cost"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == f"error: data.path={path}: data.target=cost is not a column; the columns are: size, " \
                            "colour, price\n"
    assert not list((tmp_path / "logs" / "runs").iterdir())  # the run's folder went with the refusal


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run on a small table with a numeric and a category column."""
    folder = tmp_path_factory.mktemp("table")
    train(run_config(folder / "run", "data=csv", f"data.path={write(folder, GOOD)}", "data.target=price",
                     "epochs=40", "optimizer=adam", "lr=0.01"))
    return folder / "run" / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize(("rows", "message"), [
    ("colour,price\nred,1\n", "no column size, which the network takes as an input; it needs: size, colour"),
    ("size,colour\n1,red\nbig,blue\n", "column size, row 2: big is not a number, and the network was trained on "
                                       "numbers there"),
    ("size,colour\n1,red\n1e39,blue\n", "column size, row 2: 1e+39 is no number the network can hold"),
])
def test_predict_names_what_its_rows_lack(trained: Path, tmp_path: Path, rows: str, message: str) -> None:
    inputs = tmp_path / "new.csv"
    inputs.write_text(rows)
    with pytest.raises(UserError) as error:
        predict(str(trained), str(inputs), None)
    assert str(error.value).startswith(f"inputs={inputs}: {message}")


def test_predict_answers_every_row_keeps_its_columns_the_target_may_be_absent(trained: Path, tmp_path: Path) -> None:
    """An unseen category is read as 'other', a gap is filled as in training: each said in one line."""
    inputs = tmp_path / "new.csv"
    inputs.write_text("colour,size,note\nred,3,a\nblue,40,b\ngreen,20,c\n,,d\n")  # any column order, one more
    result = subprocess.run([sys.executable, "predict.py", f"ckpt_path={trained}", f"inputs={inputs}",
                             f"output={tmp_path / 'out.csv'}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"inputs={inputs}: categories training never saw or saw in fewer than 5 rows, read as 'other': colour 2" \
        in result.stdout.splitlines()
    assert f"inputs={inputs}: gaps filled with the training median: size 1" in result.stdout.splitlines()
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "colour,size,note,predicted_price" and [line.split(",")[2] for line in lines[1:]] == list("abcd")
    assert float(lines[2].split(",")[3]) > float(lines[1].split(",")[3])  # bigger size, higher price: learned


def test_predict_py_gets_the_line_and_exit_status_1(trained: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "new.csv"
    inputs.write_text("size,colour\nbig,red\n")
    result = subprocess.run([sys.executable, "predict.py", f"ckpt_path={trained}", f"inputs={inputs}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == (f"error: inputs={inputs}: column size, row 1: big is not a number, and the network was "
                             "trained on numbers there\n")
