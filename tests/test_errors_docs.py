"""docs/errors.md lists every bad-input case the tests/test_errors_*.py family covers, with the line it gets.

Each module of the family keeps its cases in a table and exports ``DOCUMENTED``: the lines its tests assert.
"""

import importlib

import pytest

from tests.conftest import ROOT

FAMILY = sorted(path.stem for path in (ROOT / "tests").glob("test_errors_*.py") if path.stem != "test_errors_docs")


@pytest.mark.parametrize("module", FAMILY)
def test_docs_errors_md_shows_every_line_the_tests_assert(module: str) -> None:
    lines = importlib.import_module(f"tests.{module}").DOCUMENTED
    docs = (ROOT / "docs" / "errors.md").read_text()
    assert lines
    assert [line for line in lines if line not in docs] == []
    assert not any("Traceback" in line for line in lines)  # a clear line, never a stack

