"""``load(name, table)``: find the files, verify them, parse, and validate as a RunTable."""

from __future__ import annotations

from os import PathLike

from ..data import RunTable, load_runs
from .errors import DatasetIntegrityError
from .home import not_found, resolve_data_home
from .integrity import read_csv_verified
from .registry import get_spec


def load(name: str, table: str | None = None, *, data_home: str | PathLike | None = None) -> RunTable:
    """Load one table of a registered dataset as a validated :class:`~bayeslaws.data.RunTable`.

    ``table`` defaults to the dataset's first table (see ``bayeslaws.datasets.list()``).
    Files are read from ``<data home>/<dataset folder>/`` (see ``home.py``). Raises
    DatasetNotFoundError (with how to get the files) when they are missing and
    DatasetIntegrityError when a file's SHA-256, row count or columns differ from the
    registry; no table is built from a file that fails a check. ``metadata`` carries the
    dataset, table, license, citation, source (repository, commit, file hashes) and units.
    """
    spec = get_spec(name)
    table_spec = spec.table(table)
    home = resolve_data_home(data_home)
    folder = home / spec.folder
    missing = [f for f in table_spec.files if not (folder / f).is_file()]
    if missing:
        derived = [f for f in missing if spec.files[f].upstream is None]
        raise not_found(spec.name, spec.folder, missing, derived, home)
    frames = {f: read_csv_verified(folder / f, spec.files[f]) for f in table_spec.files}
    prepared = table_spec.loader(frames)
    metadata = {
        "dataset": spec.name,
        "table": table_spec.name,
        "description": table_spec.description,
        "license": spec.license,
        "citation": spec.citation,
        "also_cite": list(table_spec.also_cite),
        "source": {
            "repo": spec.repo_url,
            "commit": spec.commit,
            "files": {
                f: {"sha256": spec.files[f].sha256, "upstream_path": spec.files[f].upstream}
                for f in table_spec.files
            },
        },
        "path": str(folder),
        "units": dict(table_spec.units),
    }
    runs = load_runs(prepared.frame, columns=prepared.columns, required=prepared.required, metadata=metadata)
    if len(runs) != table_spec.rows:
        raise DatasetIntegrityError(
            f"dataset '{name}' table '{table_spec.name}': expected {table_spec.rows} rows, built {len(runs)}"
        )
    return runs
