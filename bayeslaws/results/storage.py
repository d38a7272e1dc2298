"""Fits as netCDF files (DataTree via h5netcdf). No pickle: metadata is JSON text.

A saved fit is its DataTree plus one group per run table (``runs``, and ``runs_<name>`` for a
term's own table), a group ``attached`` holding an attached two-stage link fit the same way, and
attributes: the kind of result, the model spec, the sampler settings and the seconds the fit
took. This module converts between a fit's parts and a file; bayeslaws.results.fit builds the
Fit from the parts (load_fit).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..data import RunTable
from ..laws import Law, get_law
from ..model import ModelSpec, get_likelihood
from ..terms import term_from_dict

FORMAT_VERSION = 2


class FitFileError(ValueError):
    """A file that cannot be saved or loaded as a fit; the message names the file and the fault."""


def save_fit(fit, path) -> None:
    """Write a Fit's posterior, stats, data, full run tables and metadata to one netCDF file.

    Refuses what it cannot store before writing anything, and writes beside the target first,
    then replaces it: a failed save leaves an earlier file at ``path`` as it was."""
    path = Path(path)
    tree = _fit_to_tree(fit)
    partial_path = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        tree.to_netcdf(partial_path, engine="h5netcdf")
        os.replace(partial_path, path)
    finally:
        partial_path.unlink(missing_ok=True)


def read_fit(path, law: Law | None = None) -> dict:
    """The parts of a saved fit: kind ("Fit" or "LinkFit"), spec, tree, tables, settings,
    seconds and attached (the parts of an attached link fit, or None). Pass ``law`` for a custom
    law not in the registry. Checks the file's checksums; every failure is a FitFileError."""
    path = Path(path)
    if not path.is_file():
        raise FitFileError(f"no saved fit at {path}: {'it is a folder' if path.is_dir() else 'no such file'}")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as stored:
            tree = stored.load()
    except (OSError, ValueError, TypeError) as error:
        raise FitFileError(f"{path} is not a netCDF file written by Fit.save ({type(error).__name__}: "
                           f"{str(error).splitlines()[0] if str(error) else 'unreadable'})") from None
    return _tree_to_parts(tree, law, path)


def _fit_to_tree(fit) -> xr.DataTree:
    groups = {f"/{name}": fit.tree[name].to_dataset() for name in fit.tree.children}
    for name, table in fit.tables.items():
        groups[f"/{_table_group(name)}"] = _table_to_dataset(table)
    tree = xr.DataTree.from_dict(groups)
    if fit.attached is not None:
        tree["attached"] = _fit_to_tree(fit.attached)
    tree.attrs = {
        "bayeslaws_format": FORMAT_VERSION,
        "kind": type(fit).__name__,
        "spec": json.dumps(fit.spec.to_dict()),
        "settings": json.dumps(fit.settings),
        "seconds": float(fit.seconds),
        "tables": json.dumps(list(fit.tables)),
    }
    tree.attrs["checksum"] = _checksum(tree)
    return tree


def _tree_to_parts(tree: xr.DataTree, law: Law | None, path) -> dict:
    attrs = dict(tree.attrs)
    if "bayeslaws_format" not in attrs:
        raise FitFileError(f"{path} is a netCDF file but not a saved bayeslaws fit (no bayeslaws_format attribute)")
    if int(attrs["bayeslaws_format"]) != FORMAT_VERSION:
        raise FitFileError(f"{path} is a bayeslaws fit of format {attrs['bayeslaws_format']}; this version reads "
                           f"format {FORMAT_VERSION} (refit, or load it with the version that wrote it)")
    missing = [key for key in ("kind", "spec", "settings", "seconds", "tables", "checksum") if key not in attrs]
    if missing:
        raise FitFileError(f"{path} is damaged: its metadata lacks {missing}")
    if _checksum(tree) != attrs["checksum"]:
        raise FitFileError(f"{path} is damaged: its contents do not match the checksum written with them "
                           "(changed or corrupted since it was saved)")
    stored = json.loads(attrs["spec"])
    spec = ModelSpec(
        law=None if stored["law"] is None else _law(stored["law"], law, tree, path),
        likelihood=None if stored["likelihood"] is None else get_likelihood(stored["likelihood"]),
        terms=tuple(term_from_dict(t) for t in stored["terms"]),
        response=stored["response"],
    )
    names = json.loads(attrs["tables"])
    skip = {_table_group(n) for n in names} | {"attached"}
    posterior = xr.DataTree.from_dict({f"/{g}": tree[g].to_dataset() for g in tree.children if g not in skip})
    return {
        "kind": str(attrs["kind"]),
        "spec": spec,
        "tree": posterior,
        "tables": {n: _dataset_to_table(tree[_table_group(n)].to_dataset()) for n in names},
        "settings": json.loads(attrs["settings"]),
        "seconds": float(attrs["seconds"]),
        "attached": _tree_to_parts(tree["attached"], None, path) if "attached" in tree.children else None,
    }


def _law(name: str, given: Law | None, tree: xr.DataTree, path) -> Law:
    """The stored law: the registry's, or the one given, which must be the one the fit used."""
    if given is None:
        try:
            return get_law(name)
        except ValueError:
            raise FitFileError(f"{path} was fitted with law '{name}', which is not registered here; pass it: "
                               "load_fit(path, law=...)") from None
    stored_names = {n for n in given.param_names if n in tree["posterior"]}
    if given.name != name or stored_names != set(given.param_names):
        raise FitFileError(f"{path} was fitted with law '{name}'; the law given, '{given.name}' with parameters "
                           f"{list(given.param_names)}, does not match it")
    return given


def _checksum(tree: xr.DataTree) -> str:
    """SHA-256 over every group's variables (names, dtypes, values) and the metadata attributes."""
    digest = hashlib.sha256()
    for key in ("bayeslaws_format", "kind", "spec", "settings", "seconds", "tables"):
        digest.update(f"{key}={tree.attrs.get(key)};".encode())
    nodes = {node.relative_to(tree): node for node in tree.subtree}  # paths within this fit's tree
    for where, node in sorted(nodes.items()):
        if where.split("/")[0] == "attached":
            continue  # the attached fit carries its own checksum
        for name in sorted(node.dataset.data_vars):
            values = np.asarray(node.dataset[name].values)
            text = values.dtype.kind in "OUS"  # text reads back as object arrays
            digest.update(f"{where}/{name}:{'text' if text else values.dtype.str}:{values.shape};".encode())
            digest.update(json.dumps([str(v) for v in values.ravel()]).encode() if text else values.tobytes())
    return digest.hexdigest()


def _table_group(name: str) -> str:
    return "runs" if name == "runs" else f"runs_{name}"


def _table_to_dataset(table: RunTable) -> xr.Dataset:
    """A run table as a Dataset of one variable per column (dim "row"); text columns keep their
    missing values (stored as "" with their rows listed). Refuses columns it could not read back
    as they are: names that are not text, and columns mixing text with numbers."""
    frame = table.frame
    bad_names = [c for c in frame.columns if not isinstance(c, str)]
    if bad_names:
        raise FitFileError(f"cannot save: column name(s) {bad_names} are not text; rename them (e.g. str(name))")
    data, missing = {}, {}
    for name in frame.columns:
        values = frame[name]
        if values.dtype.kind in "biufM":
            data[name] = ("row", values.to_numpy())
            continue
        absent = values.isna().to_numpy()
        kinds = {type(v).__name__ for v in values[~absent]}
        if kinds - {"str"}:
            raise FitFileError(f"cannot save: column '{name}' mixes types {sorted(kinds)}; make it all text "
                               f"(.astype(str)) or all numbers")
        missing[name] = np.flatnonzero(absent).tolist()
        data[name] = ("row", np.where(absent, "", values.to_numpy(dtype=object)).astype(str))
    ds = xr.Dataset(data)
    ds.attrs = {
        "dtypes": json.dumps({name: str(frame[name].dtype) for name in frame.columns}),
        "columns": json.dumps(list(frame.columns)),
        "missing_text": json.dumps(missing),
        "source_columns": json.dumps(dict(table.source_columns)),
        "run_metadata": json.dumps(dict(table.metadata)),
    }
    return ds


def _dataset_to_table(ds: xr.Dataset) -> RunTable:
    dtypes = json.loads(ds.attrs["dtypes"])
    columns = json.loads(ds.attrs["columns"])
    missing = json.loads(ds.attrs["missing_text"])
    frame = {}
    for name in columns:
        values = pd.Series(np.asarray(ds[name].values))
        if name in missing:
            values = values.astype(object)
            values[missing[name]] = None
        frame[name] = values.astype(dtypes[name])
    return RunTable(pd.DataFrame(frame), json.loads(ds.attrs["source_columns"]), json.loads(ds.attrs["run_metadata"]))
