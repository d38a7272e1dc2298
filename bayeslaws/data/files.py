"""Reading a table of runs from a file, with one clear line for every file that is not one.

CSV (UTF-8, comma-separated), Parquet (with pyarrow installed) and JSON are read; a folder, an
Excel workbook, binary data, text in another encoding, a CSV with another separator and a CSV
with repeated headers are refused, each with what the file is and what is expected.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

EXPECTED = "a CSV (UTF-8, comma-separated), Parquet or JSON table with one row per run"
SNIFF_BYTES = 65536


class TableFileError(ValueError):
    """A file that cannot be read as a table of runs; the message says what it is."""


def read_table(path: Path) -> pd.DataFrame:
    """The file's table, or a TableFileError naming the file, what it is and what is expected."""
    if not path.exists():
        raise TableFileError(f"no such file: {path}")
    if path.is_dir():
        raise TableFileError(f"{path} is a folder, not a file; expected {EXPECTED}")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xls", ".xlsm"):
        raise TableFileError(f"{path} is an Excel workbook (or another zip archive); save the sheet as CSV, or "
                             "read it with pandas.read_excel and pass the DataFrame")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path, head)
    text = _decode(path, head)
    if suffix == ".json":
        try:
            return pd.read_json(path)
        except ValueError as error:
            raise TableFileError(f"{path} is not a JSON table ({error}); expected {EXPECTED}") from None
    return _read_csv(path, text)


def _read_parquet(path: Path, head: bytes) -> pd.DataFrame:
    if not head.startswith(b"PAR1"):
        raise TableFileError(f"{path} is named .parquet but is not a Parquet file; expected {EXPECTED}")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise TableFileError(f"reading {path} needs pyarrow: pip install 'bayeslaws[parquet]' (or pyarrow), "
                             "or save the table as CSV") from None
    return pd.read_parquet(path)


def _decode(path: Path, head: bytes) -> str:
    """The file's first bytes as text, refusing binary data and encodings other than UTF-8."""
    if b"\x00" in head:
        raise TableFileError(f"{path} holds binary data, not text; expected {EXPECTED}")
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        if len(head) == SNIFF_BYTES and error.start >= len(head) - 4:  # a character cut by the sniff
            return head[: error.start].decode("utf-8")
        latin = head.decode("latin-1")
        if sum(c.isprintable() or c in "\r\n\t" for c in latin) > 0.95 * len(latin):
            raise TableFileError(f"{path} is not UTF-8 text (it looks like Latin-1 or another 8-bit encoding, "
                                 f"byte {error.start}); save it as UTF-8") from None
        raise TableFileError(f"{path} holds binary data, not text; expected {EXPECTED}") from None


def _read_csv(path: Path, text: str) -> pd.DataFrame:
    header = next(csv.reader(io.StringIO(text)), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise TableFileError(f"{path} repeats the column header(s) {repeated}; every column needs its own name")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise TableFileError(f"{path} is not a readable CSV ({str(error).splitlines()[0]}); expected {EXPECTED}") from None
    except pd.errors.EmptyDataError:
        raise TableFileError(f"{path} is empty; expected {EXPECTED}") from None
    if frame.shape[1] == 1:
        for separator in (";", "\t", "|"):
            if separator in str(frame.columns[0]):
                shown = "tab" if separator == "\t" else f"'{separator}'"
                raise TableFileError(f"{path} has one column: its separator looks like {shown}, not ','; save it "
                                     f"comma-separated or read it with pandas.read_csv(sep=...) and pass the DataFrame")
    return frame
