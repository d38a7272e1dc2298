"""``download(name)``: fetch a dataset's upstream files at the pinned commit, checking SHA-256."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
import warnings
from os import PathLike
from pathlib import Path

from .errors import DatasetNotDownloadableError, DatasetUnreachableError
from .home import resolve_data_home
from .integrity import read_verified, sha256_hex
from .registry import get_spec

RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def _fetch(url: str, dest: Path) -> None:
    """Write the resource at ``url`` (https:// or file://) to ``dest``."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def download(name: str, *, data_home: str | PathLike | None = None) -> list[Path]:
    """Download the upstream files of dataset ``name`` into ``<data home>/<folder>/``.

    Each file comes from ``RAW_URL`` at the registry's pinned commit and must match its
    recorded SHA-256, else it is deleted and DatasetIntegrityError is raised. Files already
    present with the right hash are kept. Files the curators derived cannot be downloaded:
    DatasetNotDownloadableError when the dataset has no upstream file at all, a warning
    naming them when only some are missing. Returns the paths of the upstream files.
    """
    spec = get_spec(name)
    folder = resolve_data_home(data_home) / spec.folder
    upstream = {f: s for f, s in spec.files.items() if s.upstream is not None}
    derived = sorted(set(spec.files) - set(upstream))
    if not upstream:
        raise DatasetNotDownloadableError(
            f"dataset '{name}' cannot be downloaded: its files ({', '.join(derived)}) were derived "
            f"by the dataset curators from {spec.repo_url} at {spec.commit}, not copied. Copy the "
            f"folder '{spec.folder}' of the curated collection (shared/datasets/{spec.folder} "
            f"beside the repository checkout) to {folder}."
        )
    subfolders = sorted({(folder / f).parent for f in upstream}, reverse=True)  # e.g. csv_25/ of multipower
    created = [p for p in (*subfolders, folder, *folder.parents) if not p.exists()]
    for path in subfolders:
        path.mkdir(parents=True, exist_ok=True)
    try:
        return _download_files(name, spec, folder, upstream, derived)
    except BaseException:
        for made in created:  # leave nothing behind that this call made
            if made.is_dir() and not any(made.iterdir()):
                made.rmdir()
        raise


def _download_files(name, spec, folder: Path, upstream: dict, derived: list) -> list[Path]:
    paths = []
    for file, file_spec in upstream.items():
        dest = folder / file
        paths.append(dest)
        if dest.is_file() and sha256_hex(dest.read_bytes()) == file_spec.sha256:
            continue
        partial = dest.with_name(dest.name + ".part")
        url = RAW_URL.format(repo=spec.repo, commit=spec.commit, path=file_spec.upstream)
        try:
            _fetch(url, partial)
            read_verified(partial, file_spec.sha256)
        except urllib.error.URLError as error:
            partial.unlink(missing_ok=True)
            raise DatasetUnreachableError(
                f"cannot download dataset '{name}': {url} is unreachable ({error.reason}). Without a network, "
                f"place the file by hand: download {file} on a machine that has one and copy it to "
                f"{dest} (it must have SHA-256 {file_spec.sha256})") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(dest)
    absent = [f for f in derived if not (folder / f).is_file()]
    if absent:
        warnings.warn(
            f"dataset '{name}': {', '.join(absent)} (derived by the dataset curators) cannot be "
            f"downloaded; copy them from shared/datasets/{spec.folder} to {folder}.",
            UserWarning,
            stacklevel=2,
        )
    return paths
