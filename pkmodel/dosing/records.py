"""NONMEM-style records and pkmodel's doses, both ways: every dose a dataset's records imply
(:func:`dataset_doses`, :func:`dataset_regimens`) and the records that give a regimen's doses
(:func:`write_dataset`). The records are read and checked by :mod:`pkmodel.dosing.dataset`; what a
dose then does (F, lag, rate, reset, steady state) is :mod:`pkmodel.dosing.events`' rule.

Units: TIME, II, ALAG and durations in h; AMT in mg; RATE in mg/h.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from pkmodel.dosing.dataset import (
    CMT_WITH_DEPOT,
    CMT_WITHOUT_DEPOT,
    EVENT_EVIDS,
    RowErrors,
    column_numbers,
    individuals,
    read_dataset,
)
from pkmodel.dosing.dose import Dose
from pkmodel.dosing.regimen import Regimen
from pkmodel.errors import PKModelError
from pkmodel.files import write_files

if TYPE_CHECKING:
    import pandas as pd

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
    compartments = dict(CMT_WITH_DEPOT if depot else CMT_WITHOUT_DEPOT)
    if not peripheral:
        compartments = {k: v for k, v in compartments.items() if v != "peripheral"}
    out: dict[Any, list[DoseRecord]] = {}
    for key, start, end in individuals(data):
        records: list[DoseRecord] = []
        for i in range(start, end):
            evid = int(cols["EVID"][i])
            if evid not in EVENT_EVIDS:
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
                try:
                    records.append(DoseRecord(i, Dose(t, 0.0, reset=True)))
                except PKModelError as err:  # a reset past limits.MAX_TIME_H: name its row
                    raise PKModelError(f"row {i + 1}: {err.field}", err.value, err.allowed) from None
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
       simulation's reset (see :func:`pkmodel.dosing.events.regimen_events`).

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
            errors = RowErrors(self.data)
            self.cache[code] = column_numbers(self.data[name], name, errors)
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
    numbers_ = {v: k for k, v in (CMT_WITH_DEPOT if depot else CMT_WITHOUT_DEPOT).items()}
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
    import pandas as pd  # pandas only when a dataset is written

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
