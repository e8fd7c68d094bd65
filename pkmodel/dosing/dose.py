"""One administration, :class:`Dose`, and the reading of the event table of doses (one row per
dose, one column per field) that :meth:`pkmodel.dosing.regimen.Regimen.to_frame` writes and
:meth:`~pkmodel.dosing.regimen.Regimen.from_frame` reads back without loss. Units: amounts mg,
times h, rates mg/h. pandas is imported only when a table is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from numbers import Real
from typing import Any

import numpy as np

from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_DOSES, MAX_TIME_H
from pkmodel.units import format_quantity, parse_quantity

ROUTES = ("iv", "oral", "peripheral")
_ROUTE_WORDS = {"iv": "IV", "oral": "oral", "peripheral": "into the peripheral compartment"}
# Every field of a Dose has a column, so that from_frame(to_frame()) gives the same doses back.
FRAME_COLUMNS = ("time_h", "amount_mg", "route", "duration_h", "rate_mg_h", "ss", "interval_h", "f", "tlag_h", "reset")


@dataclass(frozen=True)
class Dose:
    """One administration: ``amount`` mg at ``time`` h by ``route``.

    ``duration`` (h) > 0 makes it a zero-order input over that time; alternatively ``rate`` (mg/h)
    fixes the infusion rate, and the duration follows from the amount actually given (F·amount /
    rate, NONMEM's rule for RATE > 0). Any route may be infused here (NONMEM datasets may infuse
    into the depot); the friendly constructors of :class:`Regimen` infuse IV only. ``f`` and
    ``tlag`` (h) override the model's bioavailability and lag time for this dose (by default they
    apply to oral doses only). ``ss`` 0, 1 or 2 and ``interval`` (h, NONMEM's SS and II; see the module
    docstring). ``reset=True`` empties every compartment and stops every infusion just before this
    dose (NONMEM EVID 4); with ``amount=0`` it is a reset alone (EVID 3). Times, durations,
    intervals and lag times are at most :data:`pkmodel.limits.MAX_TIME_H`.
    """

    time: float
    amount: float
    route: str = "iv"
    duration: float = 0.0
    ss: int = 0
    interval: float | None = None
    rate: float | None = None
    f: float | None = None
    tlag: float | None = None
    reset: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.reset, (bool, np.bool_)):
            raise PKModelError("reset", self.reset, "True or False")
        set_(self, "reset", bool(self.reset))
        set_(self, "time", dose_time(self.time, "time"))
        set_(self, "amount", parse_quantity(self.amount, "amount", field="amount", positive=not self.reset))
        set_(self, "duration", dose_time(self.duration, "duration"))
        route = self.route.lower() if isinstance(self.route, str) else self.route
        if route not in ROUTES:
            raise PKModelError("route", self.route, f"allowed routes: {', '.join(ROUTES)}")
        set_(self, "route", route)
        ss_allowed = "allowed: 0 (none), 1 (reset to steady state), 2 (add steady state)"
        if isinstance(self.ss, bool) or not isinstance(self.ss, (int, np.integer)) or self.ss not in (0, 1, 2):
            raise PKModelError("ss", self.ss, ss_allowed)
        set_(self, "ss", int(self.ss))
        if self.ss:
            if self.interval is None:
                raise PKModelError("interval", None, "a steady-state dose needs its interval (h, > 0)")
            set_(self, "interval", dose_time(self.interval, "interval", positive=True))
        elif self.interval is not None:
            raise PKModelError("interval", self.interval, "an interval is only meaningful with ss = 1 or 2")
        if self.rate is not None:
            if self.duration:
                raise PKModelError("duration/rate", (self.duration, self.rate), "give a duration or a rate, not both")
            set_(self, "rate", parse_quantity(self.rate, "infusion_rate", field="rate", positive=True))
        if self.f is not None:
            if isinstance(self.f, bool) or not isinstance(self.f, Real) or not 0 < self.f <= 1:
                raise PKModelError("f", self.f, "a bioavailability in (0, 1]")
            set_(self, "f", float(self.f))
        if self.tlag is not None:
            set_(self, "tlag", dose_time(self.tlag, "tlag"))

    @property
    def infusion(self) -> bool:
        return self.duration > 0 or self.rate is not None

    def shifted(self, by: float) -> Dose:
        return replace(self, time=self.time + by)

    def describe(self) -> str:
        if self.reset and self.amount == 0:
            return "reset"
        how = _ROUTE_WORDS[self.route]
        if self.duration > 0:
            how += f" over {format_quantity(self.duration, 'time')}"
        elif self.rate is not None:
            how += f" at {format_quantity(self.rate, 'infusion_rate')}"
        return f"{format_quantity(self.amount, 'amount')} {how}"


TIME_LIMIT = f"times are at most {MAX_TIME_H:g} h (pkmodel.limits.MAX_TIME_H, about 114 years)"


def dose_time(value: Any, field: str, *, positive: bool = False) -> float:
    """A time (h) of a dose or regimen, at most MAX_TIME_H."""
    hours = parse_quantity(value, "time", field=field, positive=positive)
    if hours > MAX_TIME_H:
        raise PKModelError(field, value, TIME_LIMIT)
    return hours


def check_dose_count(n: float, field: str, value: Any, how: str = "") -> None:
    """Refuse more than MAX_DOSES doses before any of them is built."""
    if n > MAX_DOSES:
        count = f"{n:.0f}" if n < 1e15 else f"{n:.3g}"
        raise PKModelError(
            field, value, f"that is {count} doses{how}, more than the limit of {MAX_DOSES} doses in one regimen "
            "(pkmodel.limits.MAX_DOSES); give fewer doses, a shorter treatment or a longer interval"
        )


def doses_from_frame(frame: Any) -> list[Dose]:
    """The doses of an event table as :meth:`DoseColumns.frame` writes it: time_h, amount_mg and route
    are required; the other columns are optional, and an empty cell (NaN, None) in them means "not
    given". ``ss`` must be a whole number and ``reset`` True/False (or 1/0); nothing is rounded."""
    import pandas as pd  # only for those who read a table

    if not isinstance(frame, pd.DataFrame):
        raise PKModelError("frame", type(frame).__name__, "a pandas DataFrame with the columns of to_frame()")
    missing = [c for c in ("time_h", "amount_mg", "route") if c not in frame.columns]
    if missing:
        raise PKModelError("frame", list(frame.columns), f"missing column(s): {', '.join(missing)}")
    unknown = [c for c in frame.columns if c not in FRAME_COLUMNS]
    if unknown:
        raise PKModelError("frame", unknown, f"unknown column(s); the columns are {', '.join(FRAME_COLUMNS)}")
    check_dose_count(len(frame), "frame", f"{len(frame)} rows")
    doses = []
    for i, row in enumerate(frame.to_dict("records")):
        try:
            ss = _whole_cell(row.get("ss"), "ss", 0)
            reset = _whole_cell(row.get("reset"), "reset", 0)
            if reset not in (0, 1):
                raise PKModelError("reset", row.get("reset"), "True or False (or 1 or 0)")
            doses.append(
                Dose(
                    row["time_h"],
                    row["amount_mg"],
                    row["route"],
                    _cell(row.get("duration_h"), 0.0),
                    ss,
                    _cell(row.get("interval_h")),
                    _cell(row.get("rate_mg_h")),
                    _cell(row.get("f")),
                    _cell(row.get("tlag_h")),
                    bool(reset),
                )
            )
        except PKModelError as err:
            raise PKModelError(f"row {i}: {err.field}", err.value, err.allowed) from None
    return doses


def _cell(value: Any, default: Any = None) -> Any:
    """An optional cell of an event table: empty (None, NaN, pandas.NA) means ``default``."""
    import pandas as pd  # already imported by whoever holds a table

    return default if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else value


def _whole_cell(value: Any, field: str, default: int) -> int:
    """A whole-number cell (ss, reset): 1 and 1.0 are 1; 1.5 is refused, not truncated."""
    value = _cell(value, default)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise PKModelError(field, value, "a whole number" if field == "ss" else "True or False (or 1 or 0)")
