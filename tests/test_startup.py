"""Serving starts fast: predict.py, export.py and generate.py need torch and the network, not Lightning, TensorBoard,
torchmetrics or the training code (docs/speed.md has the start-up figures)."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import ROOT

# In a fresh interpreter: the three entry scripts' imports (run as modules, not as __main__), then what they run,
# on a real checkpoint, as far as each gets: a prediction, an export, and generate.py's refusal of a digits network.
SERVE = """
import runpy, sys
for script in ("predict.py", "export.py", "generate.py"):
    runpy.run_path(script)
from mlp_template.errors import UserError
from mlp_template.serving.export import export
from mlp_template.serving.generation import generate
from mlp_template.serving.prediction import predict
ckpt, folder = sys.argv[1], sys.argv[2]
predict(ckpt, folder + "/rows.npy", folder + "/out.csv")
export(ckpt, "torch_export", folder + "/net.pt2")
try:
    generate(ckpt, 1, "", 1.0, 0, 5)
except UserError as e:
    print(e)
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
print(" ".join(sorted(name for name in sys.modules if name.startswith("mlp_template."))))
"""


def test_serving_imports_neither_lightning_nor_tensorboard(tmp_path: Path, trained_run) -> None:
    np.save(tmp_path / "rows.npy", np.zeros((3, 64), dtype=np.float32))
    ckpt = next((trained_run[0] / "checkpoints").glob("epoch*.ckpt"))
    result = subprocess.run([sys.executable, "-c", SERVE, str(ckpt), str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    assert "3 predictions" in printed[0] and "exported" in printed[1] and "writes no words" in printed[2]
    imported, ours = set(printed[-2].split()), set(printed[-1].split())
    assert {"torch", "hydra", "mlp_template"} <= imported  # what serving needs, imported
    assert not imported & {"lightning", "lightning_fabric", "pytorch_lightning", "tensorboard", "torchmetrics"}
    assert "mlp_template.runs.run" in ours and "mlp_template.model" in ours
    assert not ours & {"mlp_template.module", "mlp_template.training", "mlp_template.data.datamodule",
                       "mlp_template.runs.checkpoints", "mlp_template.runs.folders", "mlp_template.panels"}
