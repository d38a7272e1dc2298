"""The bundled default dataset: a synthetic Chinchilla-law zoo made by bayeslaws.synthetic.

Regenerate it exactly with ``python -m bayeslaws.synthetic.bundled datasets``.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

from ..data import RunTable, load_runs
from .zoo import simulate

NAME = "synthetic_chinchilla"
SETTINGS = {"law": "chinchilla", "n_budgets": 8, "runs_per_budget": 30,
            "compute_range": (1e18, 1e22), "noise": 0.01, "seed": 2024}
COMMAND = "python -m bayeslaws.synthetic.bundled datasets"


def write_default_zoo(folder: str | Path) -> Path:
    """Simulate the default zoo and write ``<NAME>.csv`` and ``<NAME>.json`` (truth, design, command)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    zoo = simulate(**SETTINGS)
    zoo.runs.to_csv(folder / f"{NAME}.csv", index=False)
    info = {
        "description": "240 synthetic runs: 8 isoFLOP budgets from 1e18 to 1e22 FLOPs x 30 model "
        "sizes, Chinchilla law with Besiroglu et al. (2024) constants, 1% log-normal noise",
        "truth": zoo.truth,
        "design": zoo.design,
        "command": COMMAND,
        "columns": {"run_id": "run number", "N": "parameters", "D": "tokens", "C": "FLOPs (6ND)", "loss": "nats"},
    }
    (folder / f"{NAME}.json").write_text(json.dumps(info, indent=2) + "\n")
    return folder / f"{NAME}.csv"


def default_zoo_files() -> tuple[Path, Path]:
    """Paths of the bundled CSV and JSON (installed package data, else the repository's datasets/)."""
    try:
        root = resources.files("bayeslaws.bundled")
        csv, meta = root / f"{NAME}.csv", root / f"{NAME}.json"
        if csv.is_file():
            return Path(str(csv)), Path(str(meta))
    except ModuleNotFoundError:
        pass
    root = Path(__file__).resolve().parents[2] / "datasets"
    return root / f"{NAME}.csv", root / f"{NAME}.json"


def load_default_zoo() -> tuple[RunTable, dict]:
    """The bundled zoo as a RunTable, and its description (truth, design, command)."""
    csv, meta = default_zoo_files()
    info = json.loads(meta.read_text())
    return load_runs(csv, metadata={"dataset": NAME, "truth": info["truth"]}), info


if __name__ == "__main__":
    print(write_default_zoo(sys.argv[1] if len(sys.argv) > 1 else "datasets"))
