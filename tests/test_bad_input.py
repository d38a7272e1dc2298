"""Nothing lost, nothing silent: each class of bad or odd input gets a clear error (or warning)
naming what is wrong, and no save ever destroys an earlier fit."""

import json
import urllib.error
import warnings
from dataclasses import replace

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayeslaws as bl
from bayeslaws.cli import _finite, main
from bayeslaws.data import RunTable, RunTableError
from bayeslaws.model.spec import IdentifiabilityWarning
from bayeslaws.results.storage import FitFileError

TINY = {"chains": 2, "warmup": 100, "draws": 100, "progress": False}


@pytest.fixture(scope="module")
def small_fit():
    zoo = bl.simulate(seed=9, n_budgets=3, runs_per_budget=8)
    runs = zoo.runs.assign(note=["a", None] * 12, run_id=[f"run-{i}" for i in range(24)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)  # 2 x 100 draws: ESS is low on purpose
        return bl.fit(runs, **TINY)


def with_runs(fit, frame):
    return replace(fit, tables={"runs": RunTable(frame, {}, {})})


# ---------------------------------------------------------------- saving and loading


@pytest.mark.parametrize("column, values", [(0, 1.0), ("mixed", [1, "a", 2.5, None] * 6)])
def test_a_failed_save_leaves_the_earlier_file_intact(small_fit, tmp_path, column, values):
    path = tmp_path / "f.nc"
    small_fit.save(path)
    before = path.read_bytes()
    bad = with_runs(small_fit, small_fit.runs.frame.assign(**{"mixed": values}) if column == "mixed"
                    else small_fit.runs.frame.assign(**{"x": values}).rename(columns={"x": column}))
    with pytest.raises(FitFileError, match="cannot save: column" if column == "mixed" else r"column name\(s\) \[0\]"):
        bad.save(path)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]  # nothing half-written left
    pd.testing.assert_frame_equal(bl.load_fit(path).runs.frame, small_fit.runs.frame)


def test_text_columns_keep_their_missing_values(small_fit, tmp_path):
    small_fit.save(tmp_path / "f.nc")
    note = bl.load_fit(tmp_path / "f.nc").runs.frame["note"]
    assert note.isna().tolist() == [False, True] * 12 and (note.dropna() == "a").all()


def test_a_damaged_or_foreign_file_is_refused_on_load(small_fit, tmp_path):
    path = tmp_path / "f.nc"
    small_fit.save(path)
    with h5py.File(path, "r+") as handle:  # flip one stored draw
        draws = handle["posterior"]["alpha"][...]
        draws[0, 0] *= 1.01
        handle["posterior"]["alpha"][...] = draws
    with pytest.raises(FitFileError, match="is damaged: its contents do not match the checksum"):
        bl.load_fit(path)
    small_fit.save(path)
    with h5py.File(path, "r+") as handle:
        del handle.attrs["settings"]
    with pytest.raises(FitFileError, match=r"is damaged: its metadata lacks \['settings'\]"):
        bl.load_fit(path)
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("a", [1, 2])}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(FitFileError, match="not a saved bayeslaws fit"):
        bl.load_fit(foreign)
    text = tmp_path / "notes.nc"
    text.write_text("not netcdf")
    with pytest.raises(FitFileError, match="is not a netCDF file written by Fit.save"):
        bl.load_fit(text)
    with pytest.raises(FitFileError, match="it is a folder"):
        bl.load_fit(tmp_path)


def test_load_with_another_law_fails_at_load(small_fit, tmp_path):
    small_fit.save(tmp_path / "f.nc")
    with pytest.raises(FitFileError, match="fitted with law 'chinchilla'; the law given, 'kaplan'"):
        bl.load_fit(tmp_path / "f.nc", law=bl.get_law("kaplan"))


# ---------------------------------------------------------------- arguments accepted and then ignored


def test_predict_refuses_names_it_would_ignore_and_gives_draws(small_fit):
    with pytest.raises(ValueError, match=r"unknown target\(s\) \['lr'\]|no penalty on \['lr'\]"):
        small_fit.predict(N=1e9, D=2e10, lr=1e-3)
    power = replace(small_fit, spec=replace(small_fit.spec, law=bl.get_law("power")))
    with pytest.raises(ValueError, match="give C or N and D"):
        power.predict(N=1e9, D=2e10, C=1e30)
    with pytest.raises(ValueError, match=r"unknown target\(s\) \['C'\]"):
        small_fit.predict(N=1e9, D=2e10, C=1e30)
    long = small_fit.predict(N=[1e9, 2e9], D=2e10, draws=True)
    assert list(long.columns) == ["draw", "N", "D", "loss", "loss_pred"] and len(long) == 2 * 200
    summary = small_fit.predict(N=[1e9, 2e9], D=2e10)
    np.testing.assert_allclose(long.groupby("N")["loss"].median().to_numpy(), summary["loss_median"])
    with pytest.raises(ValueError, match="draws must be True or False"):
        small_fit.predict(N=1e9, D=2e10, draws=1.0)


def test_column_mapping_refuses_unknown_names_and_repeated_headers(tmp_path):
    zoo = bl.simulate(seed=1, n_budgets=3, runs_per_budget=8).runs
    with pytest.raises(RunTableError, match=r"unknown canonical name\(s\) \['c'\]"):
        bl.load_runs(zoo.rename(columns={"C": "flops"}), columns={"c": "flops"})
    with pytest.raises(RunTableError, match=r"unknown canonical name\(s\) \['foo'\]"):
        bl.load_runs(zoo, columns={"foo": "C"})
    path = tmp_path / "dup.csv"
    path.write_text("N,D,loss,loss\n1e9,2e10,2.5,2.6\n")
    with pytest.raises(RunTableError, match=r"repeats the column header\(s\) \['loss'\]"):
        bl.load_runs(path)
    frame = pd.DataFrame([[1e9, 2e10, 2.5, 2.6]], columns=["N", "D", "loss", "loss"])
    with pytest.raises(RunTableError, match=r"repeats the column name\(s\) \['loss'\]"):
        bl.load_runs(frame)


@pytest.mark.parametrize("setting, value", [("draws", 0), ("chains", 0), ("warmup", 0), ("draws", 100_000_000),
                                            ("target_accept", 1.5), ("init", "median")])
def test_sampler_settings_are_checked_before_anything_runs(setting, value):
    runs = bl.simulate(seed=1, n_budgets=3, runs_per_budget=8).runs
    with pytest.raises(ValueError, match=setting):
        bl.fit(runs, progress=False, **{setting: value})


def test_json_output_is_always_valid_json():
    report = _finite({"a": float("nan"), "b": [float("inf"), 1.0], "c": {"d": -float("inf")}})
    assert json.loads(json.dumps(report, allow_nan=False)) == {"a": None, "b": [None, 1.0], "c": {"d": None}}


def test_too_many_draws_for_memory_and_large_tables_say_what_to_set():
    from bayeslaws.inference.nuts import SamplerSettings
    from bayeslaws.model import ModelSpec, get_likelihood
    from bayeslaws.results.fitting import _check_size

    spec = ModelSpec(bl.get_law("chinchilla"), get_likelihood("student_t"))
    big = {"runs": RunTable(pd.DataFrame({"N": np.ones(20_000)}))}
    with pytest.raises(ValueError, match="GiB of per-row draws.*use fewer draws"):
        _check_size(spec, big, SamplerSettings(chains=8, draws=20_000))
    with pytest.warns(UserWarning, match="need warmup >= 1000"):
        _check_size(spec, big, SamplerSettings(chains=2, warmup=200, draws=200))


# ---------------------------------------------------------------- files


BAD_FILES = {
    "folder": (None, "is a folder, not a file"),
    "fake.parquet": (b"N,D,loss\n1,2,3\n", "is named .parquet but is not a Parquet file"),
    "random.csv": (bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8)), "binary data"),
    "latin1.csv": ("N,D,loss,famille\n1e9,2e10,2.5,é\n".encode("latin-1"), "not UTF-8 text"),
    "runs.xlsx": (b"PK\x03\x04" + b"\x00" * 100, "Excel workbook"),
    "semicolon.csv": (b"N;D;loss\n1e9;2e10;2.5\n", "separator looks like ';'"),
    "empty.csv": (b"", "is empty"),
    "missing.csv": (False, "no such file"),
}


def write_bad_file(tmp_path, name):
    content, _ = BAD_FILES[name]
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif content is not False:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_files_that_are_not_run_tables_get_one_clear_line(tmp_path, name, capsys):
    path = write_bad_file(tmp_path, name)
    with pytest.raises(RunTableError, match=BAD_FILES[name][1]):
        bl.load_runs(path)
    assert main(["fit", str(path), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("bayeslaws: error: ") and BAD_FILES[name][1] in err and "Traceback" not in err


CLI_BAD = [
    (["--draws", "0"], "draws must be a whole number"),
    (["--chains", "0"], "chains must be a whole number"),
    (["--warmup", "0"], "warmup must be a whole number"),
    (["--draws", "100000000"], "draws must be a whole number"),
    (["--draws", "abc"], "invalid int value"),
    (["--predict", "N=3e9,D=3e11,LR=0.1"], r"unknown target(s) ['LR']"),
    (["--predict", "N=3e9"], "missing ['D']"),
    (["--predict", "N=abc"], "values must be numbers"),
    (["--columns", "N=N,foo=C"], "unknown canonical name(s) ['foo']"),
    (["--law", "nope"], "unknown law 'nope'"),
    (["--penalty", "lr,batch_size"], "needs column(s) ['lr', 'batch_size']"),
    (["--link", "gadre"], "--link needs --metric"),
]


@pytest.mark.parametrize("extra, message", CLI_BAD, ids=[" ".join(e) for e, _ in CLI_BAD])
def test_cli_bad_arguments_exit_2_with_one_line_before_sampling(extra, message, capsys):
    from bayeslaws.synthetic.bundled import default_zoo_files

    assert main(["fit", str(default_zoo_files()[0]), "--json", *extra]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and message in err and "NUTS" not in err and "Traceback" not in err, err
    assert captured.out == ""


def test_download_offline_says_so_and_leaves_nothing(tmp_path, monkeypatch):
    from bayeslaws.datasets import DatasetUnreachableError, fetch

    def offline(url, dest):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fetch, "_fetch", offline)
    home = tmp_path / "home"
    with pytest.raises(DatasetUnreachableError, match="is unreachable.*place the file by hand.*SHA-256"):
        bl.datasets.download("obsscaling2024", data_home=home)
    assert not home.exists()


# ---------------------------------------------------------------- valid input that cannot answer the question


def test_a_covariate_that_does_not_vary_is_named_with_what_it_cannot_identify(monkeypatch):
    from bayeslaws.inference import nuts

    def stop(*args, **kwargs):
        raise RuntimeError("stop before sampling")  # validation has passed; no sampling needed here

    zoo = bl.simulate(seed=2, n_budgets=4, runs_per_budget=10).runs
    one_size = zoo.assign(N=1e9, C=6e9 * zoo["D"])
    monkeypatch.setattr(nuts, "sample", stop)
    with pytest.warns(IdentifiabilityWarning, match=r"column N spans only 1e\+09 to 1e\+09.*\['A', 'alpha'\]"):
        with pytest.raises(RuntimeError, match="stop before sampling"):
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                bl.fit(one_size, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdentifiabilityWarning)
        bl.model.ModelSpec(bl.get_law("chinchilla"), bl.model.get_likelihood("student_t")).check(
            {"runs": bl.load_runs(zoo)})


def test_every_penalty_fit_checks_batch_units():
    runs = bl.simulate_sweep(seed=0, n_lr=4, n_batch=3).runs.drop(columns="diverged")
    in_sequences = runs.assign(batch_size=runs["batch_size"] / 2048)
    with pytest.raises(RunTableError, match="look like sequences"):
        bl.fit(in_sequences, penalty="lr,batch_size", progress=False)


def test_an_attached_fit_round_trips_and_is_checked_too(small_fit, tmp_path):
    path = tmp_path / "attached.nc"
    replace(small_fit, attached=small_fit).save(path)
    loaded = bl.load_fit(path)
    xr.testing.assert_identical(loaded.attached.tree["posterior"].to_dataset(), small_fit.tree["posterior"].to_dataset())
    with h5py.File(path, "r+") as handle:
        draws = handle["attached"]["posterior"]["alpha"][...]
        draws[0, 0] *= 1.01
        handle["attached"]["posterior"]["alpha"][...] = draws
    with pytest.raises(FitFileError, match="is damaged"):
        bl.load_fit(path)
