"""Give a fork its own name: ``python scripts/rename.py my_project``.

Renames the package folder (``git mv``) and rewrites the old name in every file git tracks: the import name
(``mlp_template`` style) and the distribution name (``mlp-template`` style, in pyproject.toml's extras too). Only
tracked text files are touched, never ``.git/``. The old name is read from pyproject.toml, so the script works again
after a rename.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked_text_files() -> list[Path]:
    """The files git tracks (binary ones, a PNG, are skipped by the caller)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    return [ROOT / name for name in names.decode().split("\0") if name]


def rename(new_package: str) -> None:
    """Rename the project from its current name to ``new_package`` (and its dashed form)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", new_package):
        sys.exit(f"error: {new_package}: must be a Python package name: lower-case letters, digits, underscores")
    old_dist = re.search(r'^name = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    old_package, new_dist = old_dist.replace("-", "_"), new_package.replace("_", "-")
    if not (ROOT / "src" / old_package).is_dir():
        sys.exit(f"error: src/{old_package} not found: run this from a checkout of the project")
    for path in tracked_text_files():
        try:
            text = path.read_text()
        except (UnicodeDecodeError, FileNotFoundError):  # binary, or already moved
            continue
        renamed = text.replace(old_package, new_package).replace(old_dist, new_dist)
        if renamed != text:
            path.write_text(renamed)
    subprocess.run(["git", "mv", f"src/{old_package}", f"src/{new_package}"], cwd=ROOT, check=True)
    print(f"renamed {old_package} -> {new_package} and {old_dist} -> {new_dist}; reinstall: pip install -e .")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/rename.py NEW_PACKAGE_NAME")
    rename(sys.argv[1])
