"""Save and load fits as netCDF (DataTree via h5netcdf). No pickle: metadata is JSON text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from .data import RunTable
from .laws import Law, get_law
from .penalties import get_penalty

FORMAT_VERSION = 1


def save_fit(fit, path) -> None:
    """Write posterior, stats, data, the full run table and metadata to one netCDF file."""
    tree = fit.tree.copy()
    tree["runs"] = xr.DataTree(_frame_to_dataset(fit.runs.frame))
    if fit.link is not None:
        tree["link"] = _link_to_tree(fit.link)
    tree.attrs = {
        "bayeslaws_format": FORMAT_VERSION,
        "law": fit.law.name,
        "likelihood": fit.likelihood,
        "settings": json.dumps(fit.settings),
        "seconds": float(fit.seconds),
        **_table_attrs(fit.runs),
    }
    tree.to_netcdf(path, engine="h5netcdf")


def load_fit(path, law: Law | None = None):
    """Read a fit written by Fit.save. Pass ``law`` for a custom law not in the registry."""
    from .fit import Fit

    with xr.open_datatree(path, engine="h5netcdf") as stored:
        tree = stored.load()
    attrs = dict(tree.attrs)
    settings = json.loads(attrs["settings"])
    return Fit(
        law=law or get_law(attrs["law"]),
        likelihood=str(attrs["likelihood"]),
        tree=_groups_except(tree, ("runs", "link")),
        runs=_stored_table(tree),
        settings=settings,
        seconds=float(attrs["seconds"]),
        penalty=get_penalty(settings.get("penalty")),
        link=_tree_to_link(tree["link"]) if "link" in tree.children else None,
    )


def _link_to_tree(link_fit) -> xr.DataTree:
    """An attached LinkFit as a group: its posterior groups, its runs, and JSON metadata."""
    groups = {f"/{name}": link_fit.tree[name].to_dataset() for name in link_fit.tree.children}
    group = xr.DataTree.from_dict({**groups, "/runs": _frame_to_dataset(link_fit.runs.frame)})
    group.attrs = {
        "link": link_fit.link.name,
        "likelihood": link_fit.likelihood,
        "metric": link_fit.metric,
        "settings": json.dumps(link_fit.settings),
        "seconds": float(link_fit.seconds),
        "paired_with_loss": int(link_fit.paired_with_loss),
        **_table_attrs(link_fit.runs),
    }
    return group


def _tree_to_link(group: xr.DataTree):
    from .downstream import LinkFit
    from .links import get_link

    attrs = dict(group.attrs)
    return LinkFit(link=get_link(str(attrs["link"])), likelihood=str(attrs["likelihood"]), metric=str(attrs["metric"]),
                   tree=_groups_except(group, ("runs",)), runs=_stored_table(group),
                   settings=json.loads(attrs["settings"]), seconds=float(attrs["seconds"]),
                   paired_with_loss=bool(attrs["paired_with_loss"]))


def _table_attrs(table: RunTable) -> dict:
    """A run table's source columns and metadata as JSON attributes (its rows go in a "runs" group)."""
    return {"source_columns": json.dumps(dict(table.source_columns)), "run_metadata": json.dumps(dict(table.metadata))}


def _stored_table(group: xr.DataTree) -> RunTable:
    """The run table stored in group's "runs" child and attributes (see _table_attrs)."""
    return RunTable(_dataset_to_frame(group["runs"].to_dataset()), json.loads(group.attrs["source_columns"]),
                    json.loads(group.attrs["run_metadata"]))


def _groups_except(group: xr.DataTree, skip: tuple[str, ...]) -> xr.DataTree:
    """A new tree of group's children, without those named in skip."""
    return xr.DataTree.from_dict({f"/{name}": group[name].to_dataset() for name in group.children if name not in skip})


def _frame_to_dataset(frame: pd.DataFrame) -> xr.Dataset:
    data = {}
    for name in frame.columns:
        values = frame[name]
        if values.dtype.kind in "biuf":
            data[name] = ("row", values.to_numpy())
        else:
            data[name] = ("row", values.astype(object).to_numpy())
    ds = xr.Dataset(data)
    ds.attrs["dtypes"] = json.dumps({name: str(frame[name].dtype) for name in frame.columns})
    ds.attrs["columns"] = json.dumps(list(map(str, frame.columns)))
    return ds


def _dataset_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    dtypes = json.loads(ds.attrs["dtypes"])
    columns = json.loads(ds.attrs["columns"])
    return pd.DataFrame({name: pd.Series(np.asarray(ds[name].values)).astype(dtypes[name]) for name in columns})
