from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture
def data_home() -> Path:
    """The curated dataset collection (../shared/datasets beside the repository)."""
    assert SHARED_DATASETS.is_dir(), f"curated datasets not found at {SHARED_DATASETS}"
    return SHARED_DATASETS


# pytest-xdist hands whole files to its two workers (--dist loadfile) in collection order; starting
# the longest files first lets both workers finish together (a fresh clone's suite, empty compile
# cache: 866 s on one worker and 656 s on the other in alphabetical order). Seconds measured then.
LONGEST_FILES = ("test_notebooks_long.py",  # 268
                 "test_fit.py",  # 220
                 "test_downstream.py",  # 174
                 "test_penalties.py",  # 156
                 "test_curves.py",  # 132
                 "test_notebooks.py",  # 128
                 "test_families.py")  # 125


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's own order is kept
