from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture
def data_home() -> Path:
    """The curated dataset collection (../shared/datasets beside the repository)."""
    assert SHARED_DATASETS.is_dir(), f"curated datasets not found at {SHARED_DATASETS}"
    return SHARED_DATASETS
