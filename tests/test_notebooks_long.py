"""The notebooks that fit many laws run top to bottom (see tests/test_notebooks.py)."""

import pytest

from test_notebooks import LONG, NOTEBOOKS, run_notebook

pytestmark = pytest.mark.slow

PATHS = [p for p in NOTEBOOKS if p.stem in LONG]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs(path, data_home, monkeypatch):
    run_notebook(path, data_home, monkeypatch)
