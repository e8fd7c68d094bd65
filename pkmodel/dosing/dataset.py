"""NONMEM-style event tables: read, check, write, and turn into :class:`Regimen` values.

A dataset has one row per record: ``ID`` and ``TIME`` (h) always; ``EVID`` (0 observation,
1 dose, 2 other, 3 reset, 4 reset and dose), ``AMT`` (mg), ``CMT``, ``RATE`` (mg/h, or -1/-2),
``II`` (h), ``ADDL``, ``SS``, ``F`` (bioavailability of that dose) and ``ALAG`` (lag of that
dose, h) when needed; every other column (covariates, DV, MDV, ...) is kept as it is.

The semantics are NONMEM's PREDPP (Users Guide VI, chapter V, and the EVID/ADDL/SS help pages);
each rule is written where it is applied (:func:`read_dataset` for the records,
:func:`dataset_regimens` for the doses) and has a test in ``tests/test_dataset.py``. Timing of
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from pkmodel.dosing.regimen import Dose, Regimen
from pkmodel.errors import PKModelError
from pkmodel.files import write_files
from pkmodel.units import read_number

#: Columns with a meaning in PREDPP; every other column is carried along untouched.
STANDARD_COLUMNS = ("ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS", "F", "ALAG")
#: Largest ADDL accepted: a guard against a typo expanding into millions of doses.
MAX_ADDL = 100_000
_DOSE_EVIDS = (1, 4)
_EVENT_EVIDS = (1, 3, 4)
# Compartment numbers as in NONMEM's ADVANs (Users Guide VI, chapter VII).
_CMT_WITH_DEPOT = {1: "oral", 2: "iv", 3: "peripheral"}  # ADVAN2, ADVAN4
_CMT_WITHOUT_DEPOT = {1: "iv", 2: "peripheral"}  # ADVAN1, ADVAN3


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
      :func:`dataset_regimens`).
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
    errors = _Errors(raw)

    ids = _ids(frame["ID"], errors)
    values: dict[str, np.ndarray] = {}
    for name in STANDARD_COLUMNS[1:]:
        if name in frame.columns:
            values[name] = _numbers(frame[name], name, errors)
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


class _Errors:
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


def _numbers(column: pd.Series, name: str, errors: _Errors) -> np.ndarray:
    """A column as floats: numbers as they are, missing cells (empty, NaN, ".") as NaN; anything
    else (text, booleans) is an error naming the row."""
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


def _ids(column: pd.Series, errors: _Errors) -> np.ndarray:
    """IDs as given (numbers or texts); whole-number floats become integers."""
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


def _mdv(frame: pd.DataFrame, errors: _Errors) -> np.ndarray:
    if "MDV" not in frame.columns:
        return np.zeros(len(frame))
    mdv = _numbers(frame["MDV"], "MDV", errors)
    errors.check(~np.isnan(mdv) & ~np.isin(mdv, (0, 1)), "MDV", "allowed: 0, 1")
    return mdv


def _check_order(ids: np.ndarray, time: np.ndarray, errors: _Errors) -> None:
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


# --- records to doses --------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseRecord:
    """One dose a dataset implies: ``dose``; ``row``, the 0-based position of the record that
    gave it (an ADDL dose has its initiating record's row); ``cancelled_by``, the row of a later
    reset (EVID 3, 4) or SS=1 record that cancels it before it is given, else None."""

    row: int
    dose: Dose
    cancelled_by: int | None = None


def dataset_doses(
    df: pd.DataFrame | str | os.PathLike[str],
    *,
    depot: bool,
    peripheral: bool = True,
    rate_column: str = "R",
    duration_column: str = "D",
) -> dict[Any, list[DoseRecord]]:
    """Every dose of every ID with the record it comes from; see :func:`dataset_regimens` for the
    rules and the arguments. Cancelled doses are listed too (``cancelled_by`` set), so that a
    caller can tell what the records before a given row imply."""
    data = read_dataset(df)
    n = len(data)

    def column(name: str, default: float) -> np.ndarray:
        return data[name].to_numpy(dtype=float) if name in data.columns else np.full(n, default)

    cols = {
        "EVID": column("EVID", 0),
        "TIME": column("TIME", 0),
        "AMT": column("AMT", 0),
        "CMT": column("CMT", 0),
        "RATE": column("RATE", 0),
        "II": column("II", 0),
        "ADDL": column("ADDL", 0),
        "SS": column("SS", 0),
        "F": column("F", np.nan),
        "ALAG": column("ALAG", np.nan),
    }
    extra = _Extra(data, rate_column, duration_column)
    compartments = dict(_CMT_WITH_DEPOT if depot else _CMT_WITHOUT_DEPOT)
    if not peripheral:
        compartments = {k: v for k, v in compartments.items() if v != "peripheral"}
    out: dict[Any, list[DoseRecord]] = {}
    for key, start, end in individuals(data):
        records: list[DoseRecord] = []
        for i in range(start, end):
            evid = int(cols["EVID"][i])
            if evid not in _EVENT_EVIDS:
                continue
            t = float(cols["TIME"][i])
            ss = int(cols["SS"][i])
            if evid in (3, 4) or ss == 1:
                # A reset, a reset-dose or an SS=1 dose wipes the system: doses of earlier records
                # not yet given (ADDL doses at or after t, same-time records above this one) are
                # cancelled ("deactivated", Users Guide VI, V.K).
                records = [
                    DoseRecord(r.row, r.dose, i) if r.cancelled_by is None and r.dose.time >= t else r for r in records
                ]
            if evid == 3:
                records.append(DoseRecord(i, Dose(t, 0.0, reset=True)))
                continue
            records.extend(DoseRecord(i, d) for d in _doses(i, cols, extra, compartments, depot))
        if records:
            out[key] = records
    return out


def dataset_regimens(
    df: pd.DataFrame | str | os.PathLike[str],
    *,
    depot: bool,
    peripheral: bool = True,
    rate_column: str = "R",
    duration_column: str = "D",
) -> dict[Any, Regimen]:
    """One :class:`Regimen` per ID from its dose records (EVID 1, 4) and resets (EVID 3).

    ``df``: a dataset (frame or CSV path; it is checked with :func:`read_dataset`). ``depot``:
    whether the model has an absorption depot (NONMEM ADVAN2/4) or not (ADVAN1/3).
    ``peripheral``: whether it has a peripheral compartment (False refuses doses into it).
    ``rate_column`` / ``duration_column``: the columns read for RATE = -1 / -2 (case-insensitive).
    IDs without any dose or reset record are absent from the result. Rules:

    1. CMT numbers the compartments as NONMEM's ADVANs do: with a depot, 1 depot (route "oral"),
       2 central ("iv"), 3 peripheral; without, 1 central ("iv"), 2 peripheral. CMT 0 or missing
       is the default dose compartment: the depot with a depot, else the central one. Any other
       number raises an error naming the row.
    2. ``F`` (when given on the record) is the bioavailability of that dose and scales its amount
       (``Dose.f``); ``ALAG`` (when given) shifts its time (``Dose.tlag``). Missing, the model's F
       and lag apply to depot doses, and none to the others.
    3. ``ADDL`` = n adds n doses, every ``II`` h after the record's TIME (TIME + k·II, k = 1..n),
       with the same amount, compartment, rate or duration, F and ALAG; the SS flag and the reset
       of an EVID 4 record belong to the first dose only.
    4. ``RATE`` > 0 is a zero-order input at that rate (mg/h); with F != 1 the rate is kept and
       the duration is F·AMT/RATE (``Dose.rate``). RATE = -1 takes the rate from ``rate_column``
       (same rule); RATE = -2 takes the duration (h) from ``duration_column``, and F then scales
       the rate (``Dose.duration``). The column must exist and hold a value > 0 on that row.
    5. ``SS`` = 1 resets the system and starts it at the steady state of the dose repeated every
       ``II`` h, the record's dose being the last of that series; SS = 2 adds that steady state to
       the current state (``Dose.ss``, ``Dose.interval``).
    6. EVID 3 empties every compartment and stops every infusion (``Dose(amount=0,
       reset=True)``); EVID 4 does the same and then gives its dose (``reset=True``).
    7. A reset (EVID 3, 4) or an SS = 1 record cancels what earlier records have not yet given:
       their ADDL doses at or after its TIME, and dose records at the same TIME above it (they
       would be wiped at once). Lagged doses still due and running infusions are stopped by the
       simulation's reset (see :func:`pkmodel.simulation.simulate.regimen_events`).

    EVID 0 and 2 records give no doses.
    """
    return {
        key: Regimen(tuple(r.dose for r in records if r.cancelled_by is None))
        for key, records in dataset_doses(
            df, depot=depot, peripheral=peripheral, rate_column=rate_column, duration_column=duration_column
        ).items()
    }


class _Extra:
    """The rate (RATE = -1) and duration (RATE = -2) columns, read only when needed."""

    def __init__(self, data: pd.DataFrame, rate_column: str, duration_column: str) -> None:
        self.data = data
        self.names = {-1: str(rate_column).strip().upper(), -2: str(duration_column).strip().upper()}
        self.cache: dict[int, np.ndarray] = {}

    def value(self, row: int, code: int) -> float:
        name = self.names[code]
        what = "rate (mg/h)" if code == -1 else "duration (h)"
        if name not in self.data.columns:
            raise PKModelError(
                f"row {row + 1}, column RATE",
                code,
                f"RATE = {code} takes the {what} from column {name}, which the dataset does not have",
            )
        if code not in self.cache:
            errors = _Errors(self.data)
            self.cache[code] = _numbers(self.data[name], name, errors)
        value = self.cache[code][row]
        if not (math.isfinite(value) and value > 0):
            cell = self.data[name].iloc[row]
            raise PKModelError(
                f"row {row + 1}, column {name}",
                cell.item() if isinstance(cell, np.generic) else cell,
                f"RATE = {code} needs a {what} > 0 here",
            )
        return float(value)


def _doses(i: int, cols: dict[str, np.ndarray], extra: _Extra, compartments: dict[int, str], depot: bool) -> list[Dose]:
    """The doses of dose record ``i`` (EVID 1 or 4): itself and its ADDL doses."""
    cmt = int(cols["CMT"][i])
    if cmt == 0:
        cmt = 1  # the default dose compartment is number 1 in every one of these ADVANs
    if cmt not in compartments:
        numbers_ = ", ".join(f"{k} ({v})" for k, v in compartments.items())
        model = "with a depot (ADVAN2/4)" if depot else "without a depot (ADVAN1/3)"
        raise PKModelError(f"row {i + 1}, column CMT", cmt, f"a model {model} doses CMT 0 (default), {numbers_}")
    route = compartments[cmt]
    code = float(cols["RATE"][i])
    rate = extra.value(i, -1) if code == -1 else (code if code > 0 else None)
    duration = extra.value(i, -2) if code == -2 else 0.0
    f = None if math.isnan(cols["F"][i]) else float(cols["F"][i])
    lag = None if math.isnan(cols["ALAG"][i]) else float(cols["ALAG"][i])
    t, amount, ii = float(cols["TIME"][i]), float(cols["AMT"][i]), float(cols["II"][i])
    ss = int(cols["SS"][i])
    dose = partial(Dose, route=route, duration=duration, rate=rate, f=f, tlag=lag)
    try:
        first = dose(t, amount, ss=ss, interval=ii if ss else None, reset=int(cols["EVID"][i]) == 4)
        more = [dose(t + k * ii, amount) for k in range(1, int(cols["ADDL"][i]) + 1)]
    except PKModelError as err:
        raise PKModelError(f"row {i + 1}: {err.field}", err.value, err.allowed) from None
    return [first, *more]


# --- writing -----------------------------------------------------------------------------------


def write_dataset(
    regimens: Regimen | Mapping[Any, Regimen],
    path: str | os.PathLike[str],
    *,
    observation_times: Sequence[float] | np.ndarray | Mapping[Any, Sequence[float]],
    depot: bool,
) -> None:
    """Write regimens as a NONMEM-style CSV: one individual per regimen (a single regimen is
    ID 1), with observation records at ``observation_times`` (h; one sequence for every ID, or
    a mapping ID -> times).

    Columns: ID, TIME, EVID, AMT, CMT, RATE, II, ADDL, SS, MDV, plus D when a dose has a
    duration, F and ALAG when a dose has its own bioavailability or lag. Every dose is a record
    of its own (ADDL = 0). CMT follows :func:`dataset_regimens` (``depot`` chooses the
    numbering); observation records have the central compartment. A dose with a rate is written
    with RATE = rate; a dose with a duration with RATE = -2 and the duration in D (so that F
    scales the rate as in the regimen); a reset with amount 0 is EVID 3, a reset with a dose
    EVID 4. Empty cells are written as ".". Records are sorted by ID, then TIME; at one time,
    resets and SS = 1 doses first (a regimen resets before everything else at that time), then
    the other doses, then observations. The file is written atomically by
    :func:`pkmodel.files.write_files` (missing folders are created; a failure leaves ``path`` as
    it was and raises :class:`PKModelError` naming it), so a reader never sees half a file.

    Round trip: ``dataset_regimens(read_dataset(path), depot=depot)`` gives the same doses, a
    reset alone coming back as ``Dose(time, 0, reset=True)``.
    """
    if isinstance(regimens, Regimen):
        regimens = {1: regimens}
    if not isinstance(regimens, Mapping) or not regimens:
        raise PKModelError("regimens", type(regimens).__name__, "a Regimen or a non-empty mapping ID -> Regimen")
    numbers_ = {v: k for k, v in (_CMT_WITH_DEPOT if depot else _CMT_WITHOUT_DEPOT).items()}
    central = numbers_["iv"]
    rows: list[dict[str, Any]] = []
    for key, regimen in regimens.items():
        if not isinstance(regimen, Regimen):
            raise PKModelError(f"regimens[{key!r}]", type(regimen).__name__, "expected a pkmodel.Regimen")
        times = observation_times.get(key, ()) if isinstance(observation_times, Mapping) else observation_times
        obs = _observation_times(times)
        first_at: set[float] = set()
        for order, dose in enumerate(regimen.doses):
            resets = dose.reset or dose.ss == 1
            if resets and dose.time in first_at:
                raise PKModelError(
                    f"regimens[{key!r}]",
                    dose.time,
                    "at most one reset or SS = 1 dose at one time (a dataset would apply them one after the other)",
                )
            if resets:
                first_at.add(dose.time)
            rows.append(_dose_row(key, dose, numbers_, depot, 0 if resets else 1, order))
        rows.extend(
            {"ID": key, "TIME": t, "EVID": 0, "AMT": 0.0, "CMT": central, "RATE": 0.0, "II": 0.0, "ADDL": 0,
             "SS": 0, "MDV": 0, "_rank": 2, "_order": j}
            for j, t in enumerate(obs)
        )
    table = pd.DataFrame(rows)
    position = {key: i for i, key in enumerate(regimens)}
    table["_id"] = table["ID"].map(position)
    table = table.sort_values(["_id", "TIME", "_rank", "_order"], kind="stable")
    table = table.drop(columns=["_id", "_rank", "_order"])
    columns = ["ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS", "MDV"]
    columns += [c for c in ("D", "F", "ALAG") if c in table.columns]
    table = table[columns]
    write_files([("path", path, lambda temp: table.to_csv(temp, index=False, na_rep="."))])


def _dose_row(key: Any, dose: Dose, numbers_: dict[str, int], depot: bool, rank: int, order: int) -> dict[str, Any]:
    if dose.reset and dose.amount == 0:
        return {"ID": key, "TIME": dose.time, "EVID": 3, "AMT": 0.0, "CMT": 0, "RATE": 0.0, "II": 0.0, "ADDL": 0,
                "SS": 0, "MDV": 1, "_rank": rank, "_order": order}
    if dose.route not in numbers_:
        raise PKModelError(
            "route", dose.route, "an oral dose needs depot=True (the ADVAN2/4 numbering has the depot as CMT 1)"
        )
    row = {
        "ID": key,
        "TIME": dose.time,
        "EVID": 4 if dose.reset else 1,
        "AMT": dose.amount,
        "CMT": numbers_[dose.route],
        "RATE": dose.rate if dose.rate is not None else (-2.0 if dose.duration > 0 else 0.0),
        "II": dose.interval if dose.ss else 0.0,
        "ADDL": 0,
        "SS": dose.ss,
        "MDV": 1,
        "_rank": rank,
        "_order": order,
    }
    if dose.duration > 0:
        row["D"] = dose.duration
    if dose.f is not None:
        row["F"] = float(dose.f)
    if dose.tlag is not None:
        row["ALAG"] = dose.tlag
    return row


def _observation_times(times: Any) -> np.ndarray:
    if isinstance(times, str):
        raise PKModelError("observation_times", times, "a sequence of times in h")
    try:
        arr = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise PKModelError("observation_times", times, "a sequence of times in h") from None
    if arr.ndim != 1:
        raise PKModelError("observation_times", times, "a 1-D sequence of times in h")
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if np.any(bad):
        raise PKModelError("observation_times", float(arr[bad][0]), "times must be finite and >= 0 h")
    return np.sort(arr)
