"""Every notebook in notebooks/ runs top to bottom."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # many fits / whole notebooks: the full suite runs them

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, data_home, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("BAYESLAWS_DATA_HOME", str(data_home))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
