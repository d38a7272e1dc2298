"""The registry's names, formulas and covariates as a JSON file beside the laws, so that
`bayeslaws laws` answers without importing JAX (the law files need it). tests/test_laws.py
fails when the file no longer matches the registry; rewrite it with

    python -m bayeslaws.laws.catalogue
"""

from __future__ import annotations

import json
from pathlib import Path

CATALOGUE = Path(__file__).with_name("catalogue.json")


def entries() -> dict[str, dict]:
    """name -> {"formula", "covariates"} of every registered law, sorted by name."""
    from . import REGISTRY

    return {name: {"formula": law.formula, "covariates": list(law.covariates)} for name, law in sorted(REGISTRY.items())}


def write() -> None:
    CATALOGUE.write_text(json.dumps(entries(), indent=1) + "\n")


if __name__ == "__main__":
    write()
