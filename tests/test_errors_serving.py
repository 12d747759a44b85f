"""Bad requests to the serving programs (predict.py, export.py, generate.py): one line, before any output.

``CASES`` is the table docs/errors.md shows (tests/test_errors_docs.py checks each line is there). The programs run
in the trained run's folder, so each line names the checkpoint as typed: checkpoints/last.ckpt.
"""

from pathlib import Path

import numpy as np
import pytest

from generate import main as generate_main
from tests.test_errors_files import MAINS, serving_config, snapshot

CASES = {  # name: (program, its arguments, the line it ends with)
    "generate.py on a classification network": (
        "generate", [], "error: ckpt_path=checkpoints/last.ckpt: a classification network, which writes no words; "
        "generate.py samples from a next-token run (python train.py data=words data.path=...)"),
    "generate.py num=0": ("generate", ["num=0"], "error: num=0: must be an integer >= 1"),
    "export.py format=tflite": ("export", ["format=tflite"], "error: format=tflite: must be one of torch_export, onnx"),
    "predict.py, rows of the wrong width": (
        "predict", ["inputs=new.npy", "output=new_predictions.csv"], "error: inputs=new.npy: holds rows of shape "
        "(65,); the network takes 64 pixel values per row (an image 1x8x8), in [0, 1]"),
    "predict.py, rows of different lengths": (
        "predict", ["inputs=new.csv", "output=new_predictions.csv"], "error: inputs=new.csv: row 2 holds 1 value(s), "
        "row 1 2; each row is one image, all of one size"),
}
DOCUMENTED = [line for *_, line in CASES.values()]


@pytest.mark.parametrize("case", CASES)
def test_a_bad_request_is_one_line_before_any_output(tmp_path: Path, monkeypatch, trained_run, case: str) -> None:
    program, args, line = CASES[case]
    run_dir = trained_run[0]
    monkeypatch.chdir(run_dir)
    np.save(tmp_path / "new.npy", np.zeros((3, 65), dtype=np.float32))
    (tmp_path / "new.csv").write_text("0.5,0.25\n0.5\n")
    args = [arg.replace("=new", f"={tmp_path}/new") for arg in args]  # the files in tmp_path, named as typed
    line = line.replace("=new", f"={tmp_path}/new")
    before = snapshot(tmp_path, run_dir)
    with pytest.raises(SystemExit) as stop:
        {**MAINS, "generate": generate_main}[program](serving_config(program, "ckpt_path=checkpoints/last.ckpt", *args))
    assert stop.value.code == line
    assert snapshot(tmp_path, run_dir) == before
