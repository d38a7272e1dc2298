"""Run-table validation: every bad input gets an error naming the column and rows."""

import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws.data import RunTableError


def good_frame(n=8):
    return pd.DataFrame({
        "params": np.geomspace(1e7, 1e9, n),
        "tokens": np.full(n, 100_000_000_000, dtype=np.int64),
        "val_loss": np.linspace(3.5, 2.5, n),
        "name": [f"run{i}" for i in range(n)],
    })


COLUMNS = {"N": "params", "D": "tokens", "loss": "val_loss", "run_id": "name"}


def test_maps_columns_and_keeps_big_integers_exact():
    table = bl.load_runs(good_frame(), columns=COLUMNS)
    assert list(table.frame.columns[:4]) == ["N", "D", "loss", "run_id"]
    assert table.frame["D"].dtype == np.float64
    assert (table.frame["D"] == 1e11).all()
    assert np.allclose(table.log("D"), np.log(1e11))
    assert np.allclose(table.frame["C"], 6 * table.frame["N"] * 1e11)
    assert table.metadata["C_source"] == "6 * N * D"


def test_never_mutates_the_callers_frame():
    frame = good_frame()
    before = frame.copy(deep=True)
    bl.load_runs(frame, columns=COLUMNS)
    pd.testing.assert_frame_equal(frame, before)


def test_reads_csv_and_keeps_extra_columns(tmp_path):
    frame = good_frame().assign(note="x")
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    table = bl.load_runs(path, columns=COLUMNS)
    assert len(table) == 8 and "note" in table.frame


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda f: f.drop(columns="val_loss"), r"column 'val_loss' \(mapped to loss\) is missing"),
        (lambda f: f.assign(params=f.params.astype(object).where(f.index != 3, "big")), r"column 'params' \(used as N\) has non-numeric values at row 3"),
        (lambda f: f.assign(val_loss=f.val_loss.where(f.index != 2, np.nan)), r"'val_loss' \(used as loss\) has missing values \(NaN\) at row 2"),
        (lambda f: f.assign(tokens=f.tokens.astype(float).where(f.index != 5, np.inf)), r"'tokens' \(used as D\) has infinite values at row 5"),
        (lambda f: f.assign(params=f.params.where(~f.index.isin([1, 4]), -1.0)), r"'params' \(used as N\) must be positive but is not at rows 1, 4"),
        (lambda f: f.assign(val_loss=f.val_loss.where(f.index != 0, 0.0)), r"'val_loss' \(used as loss\) must be positive but is not at row 0"),
        (lambda f: f.assign(tokens=f.tokens.where(f.index != 7, 0)), r"'tokens' \(used as D\) must be positive but is not at row 7"),
        (lambda f: f.assign(name=["a", "b", "a"] + [f"r{i}" for i in range(5)]), r"column 'name' must identify runs uniquely but repeats 'a' at rows 0, 2"),
        (lambda f: f.iloc[0:0], r"the run table is empty"),
    ],
    ids=["missing", "non-numeric", "nan", "inf", "negative-N", "zero-loss", "zero-D", "duplicate-id", "empty"],
)
def test_bad_input_names_column_and_rows(change, pattern):
    with pytest.raises(RunTableError, match=pattern):
        bl.load_runs(change(good_frame()), columns=COLUMNS)


def test_missing_required_column_without_mapping():
    with pytest.raises(RunTableError, match=r"required column 'D' \(tokens\) is missing"):
        bl.load_runs(pd.DataFrame({"N": [1e8], "loss": [3.0]}))


def test_fewer_runs_than_parameters_is_refused():
    table = bl.load_runs(good_frame(4), columns=COLUMNS)
    with pytest.raises(RunTableError, match="law 'chinchilla' has 7 parameters but the table has only 4 runs"):
        bl.fit(table, law="chinchilla", progress=False)


def test_law_without_its_columns_is_refused():
    table = bl.load_runs(good_frame().drop(columns="tokens"), columns={"N": "params", "loss": "val_loss"}, required=("N", "loss"))
    with pytest.raises(RunTableError, match=r"law 'chinchilla' needs column\(s\) \['D'\]"):
        bl.fit(table, law="chinchilla", progress=False)


@pytest.mark.parametrize(
    "change, pattern",
    [
        (lambda f: f.assign(params=f.params / 1e6), "N.*below 1e4 parameters: are these millions"),
        (lambda f: f.assign(val_loss=f.val_loss.where(f.index != 6, 25.0)), "row 6 above 20 nats"),
    ],
)
def test_suspicious_units_warn(change, pattern):
    with pytest.warns(UserWarning, match=pattern):
        bl.load_runs(change(good_frame()), columns=COLUMNS)


def test_clean_table_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bl.load_runs(good_frame(), columns=COLUMNS)


def test_diverged_runs_are_marked_not_validated_as_losses():
    """A 'diverged' column (booleans, 1/0 or yes/no) marks runs whose loss measures the divergence:
    theirs may be missing or huge; every other run's loss is checked as before."""
    frame = good_frame().assign(val_loss=lambda f: f.val_loss.where(~f.index.isin([2, 5]), np.nan),
                                blew_up=["no", "No", "yes", "0", "false", 1, False, True])
    given = frame.assign(val_loss=frame.val_loss.where(frame.index != 7, 40.0))
    before = given.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = bl.load_runs(given, columns={**COLUMNS, "diverged": "blew_up"})
    pd.testing.assert_frame_equal(given, before)
    assert table.frame["diverged"].tolist() == [False, False, True, False, False, True, False, True]
    assert table.frame["loss"].isna().tolist() == [False, False, True, False, False, True, False, False]
    with pytest.raises(RunTableError, match=r"column 'blew_up' \(diverged\) must be True/False .* at row 4 \(values 'maybe'\)"):
        bl.load_runs(frame.assign(blew_up=frame.blew_up.where(frame.index != 4, "maybe")), columns={**COLUMNS, "diverged": "blew_up"})
    with pytest.raises(RunTableError, match=r"'val_loss' \(used as loss\) has missing values \(NaN\) at rows 2, 5"):
        bl.load_runs(frame.assign(blew_up=False), columns={**COLUMNS, "diverged": "blew_up"})
    everything = bl.load_runs(frame.assign(val_loss=3.0, blew_up=True), columns={**COLUMNS, "diverged": "blew_up"})
    with pytest.raises(RunTableError, match="every run is marked diverged"):
        bl.fit(everything, progress=False)
