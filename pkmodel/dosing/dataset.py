"""NONMEM-style event tables: read and check them (:mod:`pkmodel.dosing.records` turns records
into doses and doses into records).

A dataset has one row per record: ``ID`` and ``TIME`` (h) always; ``EVID`` (0 observation,
1 dose, 2 other, 3 reset, 4 reset and dose), ``AMT`` (mg), ``CMT``, ``RATE`` (mg/h, or -1/-2),
``II`` (h), ``ADDL``, ``SS``, ``F`` (bioavailability of that dose) and ``ALAG`` (lag of that
dose, h) when needed; every other column (covariates, DV, MDV, ...) is kept as it is.

The semantics are NONMEM's PREDPP (Users Guide VI, chapter V, and the EVID/ADDL/SS help pages);
each rule is written where it is applied (:func:`read_dataset` for the records,
:func:`pkmodel.dosing.records.dataset_regimens` for the doses) and has a test in ``tests/test_dataset.py``. Timing of
observations against doses at the same TIME is handled by
:func:`pkmodel.simulation.simulate_dataset.simulate_dataset`. Nothing here simulates.

Units: TIME, II, ALAG and durations in h; AMT in mg; RATE in mg/h.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_DOSES
from pkmodel.units import read_number

if TYPE_CHECKING:
    import pandas as pd

#: Columns with a meaning in PREDPP; every other column is carried along untouched.
STANDARD_COLUMNS = ("ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS", "F", "ALAG")
#: Largest ADDL accepted: one record adds no more doses than a regimen may hold.
MAX_ADDL = MAX_DOSES
_DOSE_EVIDS = (1, 4)
EVENT_EVIDS = (1, 3, 4)
# Compartment numbers as in NONMEM's ADVANs (Users Guide VI, chapter VII).
CMT_WITH_DEPOT = {1: "oral", 2: "iv", 3: "peripheral"}  # ADVAN2, ADVAN4
CMT_WITHOUT_DEPOT = {1: "iv", 2: "peripheral"}  # ADVAN1, ADVAN3


# --- reading and checking ----------------------------------------------------------------------


def read_dataset(source: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """The records of a NONMEM-style dataset, checked, with PREDPP's defaults filled in.

    ``source``: a CSV file (path) or a :class:`pandas.DataFrame`. Column names are matched
    case-insensitively and returned in upper case. Returns a new frame (a DataFrame keeps its
    index) in which the standard columns present are numbers: ``EVID``, ``CMT``, ``SS`` and
    ``ADDL`` integers, ``TIME``, ``AMT``, ``RATE``, ``II``, ``F`` and ``ALAG`` floats. Running it
    again on its own result changes nothing.

    Missing values: an empty cell, NaN or NONMEM's ``.`` is read as PREDPP reads a blank: 0 in
    ``AMT``, ``RATE``, ``II``, ``ADDL``, ``SS`` and ``CMT`` (CMT 0 is the default compartment),
    and "not given" in ``F`` and ``ALAG`` (the model's value applies). ``ID``, ``TIME`` and, when
    the column exists, ``EVID`` must be filled in every row.

    No ``EVID`` column: it is made up as NM-TRAN does, 1 (dose) where ``AMT`` > 0, else 0
    (observation); where an ``MDV`` column says 1 and AMT is 0, the record is 2 (other type).

    Checks (each failure raises :class:`PKModelError` naming the 1-based data row, the column,
    the value and what is allowed):

    - ``ID`` filled (a number or a text); the records of one ID are contiguous.
    - ``TIME`` a finite number >= 0, non-decreasing within an ID.
    - ``EVID`` one of 0, 1, 2, 3, 4.
    - ``AMT`` finite and >= 0; > 0 on dose records (EVID 1 and 4); 0 on the others.
    - ``RATE`` 0 (bolus), > 0 (infusion rate, mg/h), -1 (rate from a data column) or -2
      (duration from a data column); 0 on records that are not doses.
    - ``SS`` 0, 1 or 2; ``ADDL`` a whole number >= 0 (at most ``MAX_ADDL``); both 0 on records
      that are not doses.
    - ``II`` finite and >= 0; > 0 when SS > 0 or ADDL > 0; 0 on records that are not doses (on
      a dose with SS = 0 and ADDL = 0 it means nothing and is allowed).
    - ``CMT`` a whole number >= 0 (whether the model has that compartment is checked by
      :func:`pkmodel.dosing.records.dataset_regimens`).
    - ``F`` in (0, 1]; ``ALAG`` finite and >= 0.

    Not supported (refused with the rules above): steady-state infusions (SS > 0 with AMT 0),
    times that decrease after a reset, clock times ("08:30").
    """
    frame, raw = _frame(source)
    if len(frame) == 0:
        raise PKModelError("dataset", "no rows", "a dataset needs at least one record")
    for name in ("ID", "TIME"):
        if name not in frame.columns:
            raise PKModelError("columns", list(frame.columns), f"the required column {name} is missing")
    errors = RowErrors(raw)

    ids = _ids(frame["ID"], errors)
    values: dict[str, np.ndarray] = {}
    for name in STANDARD_COLUMNS[1:]:
        if name in frame.columns:
            values[name] = column_numbers(frame[name], name, errors)
    n = len(frame)

    def given(name: str, default: float) -> np.ndarray:
        return np.where(np.isnan(values[name]), default, values[name]) if name in values else np.full(n, default)

    time = values["TIME"]
    errors.check(np.isnan(time), "TIME", "a time in h is required in every row")
    errors.check(~np.isnan(time) & ~(np.isfinite(time) & (time >= 0)), "TIME", "must be a finite number of hours >= 0")
    amt = given("AMT", 0.0)
    errors.check(~(np.isfinite(amt) & (amt >= 0)), "AMT", "must be a finite amount in mg >= 0")
    if "EVID" in values:
        evid = values["EVID"]
        errors.check(np.isnan(evid), "EVID", "the EVID column must be filled in every row (0, 1, 2, 3 or 4)")
        errors.check(~np.isnan(evid) & ~np.isin(evid, (0, 1, 2, 3, 4)), "EVID", "allowed: 0, 1, 2, 3, 4")
    else:
        mdv = _mdv(frame, errors)
        evid = np.where(amt > 0, 1.0, np.where(mdv == 1, 2.0, 0.0))
    rate = given("RATE", 0.0)
    rate_ok = (rate == 0) | (np.isfinite(rate) & (rate > 0)) | (rate == -1) | (rate == -2)
    errors.check(~rate_ok, "RATE", "allowed: 0 (bolus), > 0 (rate in mg/h), -1 (modelled rate), -2 (modelled duration)")
    ss = given("SS", 0.0)
    errors.check(~np.isin(ss, (0, 1, 2)), "SS", "allowed: 0, 1 (reset to steady state), 2 (add steady state)")
    addl = given("ADDL", 0.0)
    addl_ok = np.isfinite(addl) & (addl >= 0) & (addl == np.floor(addl)) & (addl <= MAX_ADDL)
    errors.check(~addl_ok, "ADDL", f"must be a whole number from 0 to {MAX_ADDL}")
    ii = given("II", 0.0)
    errors.check(~(np.isfinite(ii) & (ii >= 0)), "II", "must be a finite interval in h >= 0")
    cmt = given("CMT", 0.0)
    cmt_ok = np.isfinite(cmt) & (cmt >= 0) & (cmt == np.floor(cmt)) & (cmt < 2**31)
    errors.check(~cmt_ok, "CMT", "must be a compartment number: a whole number >= 0 (0: the default)")
    if "F" in values:
        f = values["F"]
        errors.check(~np.isnan(f) & ~((f > 0) & (f <= 1)), "F", "a bioavailability in (0, 1]")
    if "ALAG" in values:
        lag = values["ALAG"]
        errors.check(~np.isnan(lag) & ~(np.isfinite(lag) & (lag >= 0)), "ALAG", "must be a finite lag in h >= 0")
    errors.raise_first()  # the value checks above make the record checks below meaningful

    dose = np.isin(evid, _DOSE_EVIDS)
    errors.check(dose & (amt <= 0), "AMT", "a dose record (EVID 1 or 4) needs an amount > 0 mg")
    errors.check(dose & ((ss > 0) | (addl > 0)) & (ii <= 0), "II", "SS > 0 or ADDL > 0 needs an interval II > 0 h")
    kind = "observation, other-type and reset records (EVID 0, 2, 3)"
    for name, column in (("AMT", amt), ("RATE", rate), ("SS", ss), ("ADDL", addl), ("II", ii)):
        errors.check(~dose & (column != 0), name, f"must be 0 (or empty) on {kind}")
    _check_order(ids, time, errors)
    errors.raise_first()

    out = frame.copy()
    out["ID"] = ids
    out["TIME"] = time
    out["EVID"] = evid.astype(np.int64)
    for name, column, integer in (
        ("AMT", amt, False),
        ("RATE", rate, False),
        ("II", ii, False),
        ("ADDL", addl, True),
        ("SS", ss, True),
        ("CMT", cmt, True),
    ):
        if name in frame.columns:
            out[name] = column.astype(np.int64) if integer else column
    for name in ("F", "ALAG"):
        if name in frame.columns:
            out[name] = values[name]
    return out


def _frame(source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table with upper-case column names, and the table as given (for error messages)."""
    import pandas as pd  # pandas only when a table is read or written

    if isinstance(source, pd.DataFrame):
        raw = source
    elif isinstance(source, (str, os.PathLike)):
        raw = _read_csv(source)
    else:
        raise PKModelError("source", type(source).__name__, "a CSV file path or a pandas DataFrame")
    names = [str(c).strip().upper() for c in raw.columns]
    seen: set[str] = set()
    for original, name in zip(raw.columns, names, strict=True):
        if name in seen:
            raise PKModelError("columns", original, f"column {name} appears twice (names are not case-sensitive)")
        seen.add(name)
    frame = raw.copy()
    frame.columns = names
    return frame, raw


def _read_csv(source: str | os.PathLike[str]) -> pd.DataFrame:
    """A CSV file as a table of its cells; every failure to read it is a PKModelError naming it."""
    import pandas as pd  # pandas only when a table is read or written

    name = str(source)
    try:
        with open(source, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise PKModelError("source", name, "no such file") from None
    except UnicodeDecodeError as err:
        raise PKModelError("source", name, f"not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise PKModelError("source", name, f"cannot read the file ({err.strerror or err})") from None
    _check_row_lengths(name, text)
    try:
        # index_col=False: rows with one field more than the header must never turn the first
        # column into an index and shift every other column (refused above anyway).
        return pd.read_csv(io.StringIO(text), na_values=["."], index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise PKModelError("source", name, f"not a readable CSV file ({err})") from None


def _check_row_lengths(name: str, text: str) -> None:
    """Every data row has as many fields as the header: a row with more or fewer is refused,
    naming it (1-based data row, blank lines not counted, as in the other messages)."""
    rows = csv.reader(io.StringIO(text))
    try:
        header = next((row for row in rows if row), None)
        if header is None:
            return  # no header: read_csv reports the empty file
        number = 0
        for row in rows:
            if not row:
                continue  # a blank line, skipped by read_csv too
            number += 1
            if len(row) != len(header):
                raise PKModelError(
                    f"row {number}",
                    ",".join(row),
                    f"has {len(row)} fields, the header {len(header)} ({','.join(header)}); every row needs one "
                    "field per column (an empty one, or '.', where a value is missing)",
                )
    except csv.Error as err:
        raise PKModelError("source", name, f"not a readable CSV file ({err})") from None


class RowErrors:
    """Collects the first failing row of each check; reports the earliest row."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.raw = raw
        self.positions = {str(c).strip().upper(): i for i, c in enumerate(raw.columns)}
        self.found: list[tuple[int, int, str, Any, str]] = []

    def check(self, bad: np.ndarray, column: str, allowed: str, value: Any = None) -> None:
        if np.any(bad):
            row = int(np.argmax(bad))
            self.add(row, column, allowed, self.cell(row, column) if value is None else value)

    def add(self, row: int, column: str, allowed: str, value: Any) -> None:
        self.found.append((row, self.positions.get(column, len(self.positions)), column, value, allowed))

    def cell(self, row: int, column: str) -> Any:
        value = self.raw.iat[row, self.positions[column]] if column in self.positions else None
        return value.item() if isinstance(value, np.generic) else value

    def raise_first(self) -> None:
        if self.found:
            row, _, column, value, allowed = min(self.found, key=lambda e: (e[0], e[1]))
            raise PKModelError(f"row {row + 1}, column {column}", value, allowed)


def column_numbers(column: pd.Series, name: str, errors: RowErrors) -> np.ndarray:
    """A column as floats: numbers as they are, missing cells (empty, NaN, ".") as NaN; anything
    else (text, booleans) is an error naming the row."""
    import pandas as pd  # pandas only when a table is read or written

    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=float, na_value=np.nan)
    out = np.empty(len(column))
    for i, cell in enumerate(column.to_numpy(dtype=object)):
        number = _number(cell)
        if number is None:
            errors.add(i, name, "expected a number (or an empty cell / '.')", errors.cell(i, name))
            number = math.nan
        out[i] = number
    return out


def _number(cell: Any) -> float | None:
    import pandas as pd  # already imported by whoever holds the table

    if cell is None or cell is pd.NA or cell is pd.NaT:
        return math.nan
    if isinstance(cell, (bool, np.bool_)):
        return None
    if isinstance(cell, numbers.Real):
        try:
            return float(cell)
        except (OverflowError, ValueError):
            return None
    if isinstance(cell, str):
        text = cell.strip()
        if text in ("", "."):
            return math.nan
        read = read_number(text)
        return read[0] if read is not None and read[1] == "" else None
    return None


def _ids(column: pd.Series, errors: RowErrors) -> np.ndarray:
    """IDs as given (numbers or texts); whole-number floats become integers."""
    import pandas as pd  # pandas only when a table is read or written

    values = column.to_numpy(dtype=object)
    for i, v in enumerate(values):
        missing = v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
        bad_text = isinstance(v, str) and v.strip() in ("", ".")
        bad_number = isinstance(v, (bool, np.bool_)) or (
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and not math.isfinite(float(v))
        )
        if missing or bad_text or bad_number or not isinstance(v, (str, numbers.Real)):
            errors.add(i, "ID", "every record needs an ID (a finite number or a text)", errors.cell(i, "ID"))
    if errors.found:
        return values
    numeric = [isinstance(v, numbers.Real) for v in values]
    if all(numeric):
        floats = np.array(values, dtype=float)
        if np.all(floats == np.floor(floats)) and np.all(np.abs(floats) < 2**53):
            return floats.astype(np.int64)
        return floats
    return values


def _mdv(frame: pd.DataFrame, errors: RowErrors) -> np.ndarray:
    if "MDV" not in frame.columns:
        return np.zeros(len(frame))
    mdv = column_numbers(frame["MDV"], "MDV", errors)
    errors.check(~np.isnan(mdv) & ~np.isin(mdv, (0, 1)), "MDV", "allowed: 0, 1")
    return mdv


def _check_order(ids: np.ndarray, time: np.ndarray, errors: RowErrors) -> None:
    """Records of one ID are contiguous and in time order (NONMEM starts a new individual when
    the ID changes; a repeated ID later on would silently be a second individual there)."""
    starts = _starts(ids)
    first_rows: dict[Any, int] = {}  # ID (a number or a text) -> its first row
    for s in starts:
        key = ids[s]
        if key in first_rows:
            before = first_rows[key] + 1
            errors.add(
                int(s), "ID", f"the records of one ID must be contiguous (ID seen before in row {before})",
                errors.cell(int(s), "ID"),
            )
            break
        first_rows[key] = int(s)
    same = np.zeros(len(ids), dtype=bool)
    same[1:] = ids[1:] == ids[:-1]
    back = np.zeros(len(ids), dtype=bool)
    back[1:] = same[1:] & (time[1:] < time[:-1])
    if np.any(back):
        row = int(np.argmax(back))
        previous = float(time[row - 1])
        errors.add(
            row, "TIME", f"times must not decrease within an ID (previous record: {previous!r} h)",
            errors.cell(row, "TIME"),
        )


def _starts(ids: np.ndarray) -> np.ndarray:
    change = np.ones(len(ids), dtype=bool)
    change[1:] = ids[1:] != ids[:-1]
    return np.flatnonzero(change)


def individuals(df: pd.DataFrame) -> list[tuple[Any, int, int]]:
    """(ID, first row, end row) of each individual in a frame from :func:`read_dataset`, in
    order; rows are 0-based positions, the end excluded."""
    ids = df["ID"].to_numpy()
    starts = _starts(ids)
    ends = np.append(starts[1:], len(ids))
    return [(_key(ids[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def _key(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
