"""Public scaling-law datasets: registry, verified loaders and downloader.

Example::

    import bayeslaws.datasets as ds
    print(ds.list())                       # name, table, rows, license, citation
    runs = ds.load("gadre2024")            # RunTable: N, D, loss, C, family, err_* ...
    pairs = ds.load("porian2024", "optimal_pairs", data_home="/path/to/datasets")

Data files are never shipped with the package: they are read from a data home (the
``data_home=`` argument, ``$BAYESLAWS_DATA_HOME`` or ``~/.cache/bayeslaws/datasets``) laid
out as one folder per dataset, and checked against SHA-256 hashes in the registry.
"""

from .errors import DatasetIntegrityError, DatasetNotDownloadableError, DatasetNotFoundError, DatasetUnreachableError
from .fetch import download
from .home import ENV_VAR, resolve_data_home
from .loading import load
from .registry import list_datasets

list = list_datasets  # bayeslaws.datasets.list(); left out of __all__ so `import *` keeps the builtin

__all__ = [
    "DatasetIntegrityError",
    "DatasetNotDownloadableError",
    "DatasetNotFoundError",
    "DatasetUnreachableError",
    "ENV_VAR",
    "download",
    "list_datasets",
    "load",
    "resolve_data_home",
]
