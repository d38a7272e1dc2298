"""Where dataset folders live (the "data home") and how to say what is missing.

The data home holds one sub-folder per dataset with the same file names as the curated
collection (e.g. ``<home>/gadre2024_overtraining/gadre2024_models_tidy.csv``). It is, in
order: the ``data_home=`` argument, ``$BAYESLAWS_DATA_HOME``, or the user cache folder
``$XDG_CACHE_HOME/bayeslaws/datasets`` (``~/.cache/bayeslaws/datasets`` by default).
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path

from .errors import DatasetNotFoundError

ENV_VAR = "BAYESLAWS_DATA_HOME"


def resolve_data_home(data_home: str | PathLike | None = None) -> Path:
    """The data home folder (it need not exist yet)."""
    if data_home is not None:
        return Path(data_home).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "bayeslaws" / "datasets"


def not_found(name: str, folder: str, missing: list[str], derived: list[str], home: Path) -> DatasetNotFoundError:
    """A DatasetNotFoundError for ``missing`` files of dataset ``name``, telling how to get them.

    ``derived`` lists the missing files that were written by the curators (no upstream copy).
    """
    target = home / folder
    lines = [f"dataset '{name}': missing {', '.join(missing)} in {target}."]
    downloadable = [f for f in missing if f not in derived]
    if downloadable:
        lines.append(
            f"Get {', '.join(downloadable)} with bayeslaws.datasets.download('{name}') "
            "(fetches the upstream file(s) at the pinned commit and checks their SHA-256)."
        )
    if derived:
        lines.append(
            f"{', '.join(derived)} (derived by the dataset curators) cannot be "
            f"downloaded: copy the folder '{folder}' of the curated collection "
            f"(shared/datasets/{folder} beside the repository checkout) to {target}."
        )
    lines.append(
        f"The data home is the data_home= argument, else ${ENV_VAR}, else "
        "$XDG_CACHE_HOME/bayeslaws/datasets (~/.cache/bayeslaws/datasets); it holds one "
        "sub-folder per dataset, laid out like shared/datasets."
    )
    return DatasetNotFoundError("\n".join(lines))
