"""Every notebook in notebooks/ runs top to bottom (the notebooks that fit many laws in
tests/test_notebooks_long.py, a file of its own so that pytest-xdist can run the two halves on
two workers)."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # many fits / whole notebooks: the full suite runs them

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
LONG = ("04_extrapolation", "05_learning_curves", "06_families")  # about 4 of the 7 notebooks' 7 minutes
SHORT = [p for p in NOTEBOOKS if p.stem not in LONG]


def run_notebook(path: Path, data_home: Path, monkeypatch) -> None:
    """Execute the notebook in a fresh kernel; fail on any cell's error."""
    import nbclient
    import nbformat

    monkeypatch.setenv("BAYESLAWS_DATA_HOME", str(data_home))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors


def test_the_long_notebooks_exist():
    """A renamed long notebook would otherwise drop out of both files unnoticed."""
    assert set(LONG) <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", SHORT, ids=[p.stem for p in SHORT])
def test_notebook_runs(path, data_home, monkeypatch):
    run_notebook(path, data_home, monkeypatch)
