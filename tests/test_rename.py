"""A fork renames the project with scripts/rename.py: git keeps working and the package imports by its new name."""

import subprocess
import sys

from tests.conftest import ROOT


def test_rename_gives_a_fork_its_name_and_leaves_git_working(tmp_path) -> None:
    fork = tmp_path / "fork"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(fork)], check=True)
    result = subprocess.run([sys.executable, "scripts/rename.py", "my_project"], cwd=fork, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=fork, capture_output=True, text=True, check=True)
    assert "R  src/mlp_template/model.py -> src/my_project/model.py" in status.stdout
    leftover = subprocess.run(["git", "grep", "-l", "-e", "mlp_template", "-e", "mlp-template"], cwd=fork,
                              capture_output=True, text=True)
    assert leftover.stdout == ""  # no file names the old project
    pyproject = (fork / "pyproject.toml").read_text()
    assert 'name = "my-project"' in pyproject and '"my-project[sweep,onnx]"' in pyproject
    imported = subprocess.run([sys.executable, "-c", "import my_project.training, my_project.model"], cwd=fork,
                              env={"PYTHONPATH": str(fork / "src"), "PATH": ""}, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr[-1500:]
    again = subprocess.run([sys.executable, "scripts/rename.py", "Bad-Name"], cwd=fork, capture_output=True, text=True)
    assert again.returncode == 1 and again.stderr.strip().startswith("error: Bad-Name: must be a Python package name")
