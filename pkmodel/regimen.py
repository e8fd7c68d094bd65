"""Dosing regimens: immutable, composable lists of doses.

A :class:`Regimen` is a sorted tuple of :class:`Dose` records plus what a reader needs to talk
about it: the nominal dosing interval (period) of its last part and a sentence for ``str()``.
Build one with :meth:`Regimen.single`, :meth:`Regimen.repeated` or :meth:`Regimen.daily` (clock
times), combine with ``then`` (sequence), ``+`` (merge) and ``courses`` (repeated courses with
breaks), and change with ``miss`` and ``late``. Units: amounts mg, times h.

Routes:
    "iv"          into the central compartment: a bolus, or a zero-order infusion when ``duration > 0``.
    "oral"        into the absorption depot; the model's F scales the amount and its lag delays it.
    "peripheral"  into the peripheral compartment (NONMEM datasets may dose any compartment).

Steady state (NONMEM's SS): a dose with ``ss=1`` resets the system to the steady state reached
by repeating that dose every ``ii`` hours forever, then gives it; ``ss=2`` adds that steady state
to the current state instead of resetting. It is computed in closed form by the engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pkmodel.errors import PKModelError
from pkmodel.units import format_quantity, parse_quantity

ROUTES = ("iv", "oral", "peripheral")
_ROUTE_WORDS = {"iv": "IV", "oral": "oral", "peripheral": "into the peripheral compartment"}
_FRAME_COLUMNS = ("time_h", "amount_mg", "route", "duration_h", "ss", "ii_h")


@dataclass(frozen=True)
class Dose:
    """One administration: ``amount`` mg at ``time`` h by ``route``.

    ``duration`` (h) > 0 makes it a zero-order input over that time; alternatively ``rate`` (mg/h)
    fixes the infusion rate, and the duration follows from the amount actually given (F·amount /
    rate, NONMEM's rule for RATE > 0). ``f`` and ``lag`` (h) override the model's bioavailability
    and lag time for this dose (by default they apply to oral doses only). ``ss`` 0, 1 or 2 and
    ``ii`` (h) as in NONMEM (see the module docstring). ``reset=True`` empties every compartment
    and stops every infusion just before this dose (NONMEM EVID 4); with ``amount=0`` it is a reset
    alone (EVID 3).
    """

    time: float
    amount: float
    route: str = "iv"
    duration: float = 0.0
    ss: int = 0
    ii: float | None = None
    rate: float | None = None
    f: float | None = None
    lag: float | None = None
    reset: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "time", parse_quantity(self.time, "time", field="time", positive=False))
        set_(self, "amount", parse_quantity(self.amount, "amount", field="amount", positive=not self.reset))
        set_(self, "duration", parse_quantity(self.duration, "time", field="duration", positive=False))
        route = self.route.lower() if isinstance(self.route, str) else self.route
        if route not in ROUTES:
            raise PKModelError("route", self.route, f"allowed routes: {', '.join(ROUTES)}")
        set_(self, "route", route)
        if self.ss not in (0, 1, 2) or isinstance(self.ss, bool):
            raise PKModelError("ss", self.ss, "allowed: 0 (none), 1 (reset to steady state), 2 (add steady state)")
        if self.ss:
            if self.ii is None:
                raise PKModelError("ii", None, "a steady-state dose needs its interval ii (h, > 0)")
            set_(self, "ii", parse_quantity(self.ii, "time", field="ii", positive=True))
        elif self.ii is not None:
            raise PKModelError("ii", self.ii, "ii is only meaningful with ss = 1 or 2")
        if self.rate is not None:
            if self.duration:
                raise PKModelError("duration/rate", (self.duration, self.rate), "give a duration or a rate, not both")
            set_(self, "rate", parse_quantity(self.rate, "infusion_rate", field="rate", positive=True))
        if self.f is not None and not (isinstance(self.f, (int, float)) and 0 < self.f <= 1):
            raise PKModelError("f", self.f, "a bioavailability in (0, 1]")
        if self.lag is not None:
            set_(self, "lag", parse_quantity(self.lag, "time", field="lag", positive=False))

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


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: doses sorted by time; ``interval``, the period (h) after which the
    pattern of its last part repeats (None when it does not repeat); ``text``, its sentence."""

    doses: tuple[Dose, ...]
    interval: float | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if not self.doses:
            raise PKModelError("doses", self.doses, "a regimen needs at least one dose")
        object.__setattr__(self, "doses", tuple(sorted(self.doses, key=lambda d: d.time)))
        if self.interval is not None:
            object.__setattr__(self, "interval", parse_quantity(self.interval, "time", field="interval", positive=True))

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def single(
        cls, amount: Any, route: str = "iv", *, duration: Any = 0.0, rate: Any = None, time: Any = 0.0
    ) -> Regimen:
        """One dose of ``amount`` (mg, or a string such as "500 mg") at ``time`` (h); an IV
        infusion is given by its ``duration`` (h) or its ``rate`` (mg/h)."""
        dose = Dose(time, amount, route, _infusion_length(amount, duration, rate))
        return cls((dose,), text=dose.describe() + (f" at {format_quantity(dose.time, 'time')}" if dose.time else ""))

    @classmethod
    def repeated(
        cls,
        amount: Any,
        interval: Any,
        *,
        n_doses: int | None = None,
        over: Any = None,
        route: str = "iv",
        duration: Any = 0.0,
        rate: Any = None,
        start: Any = 0.0,
        steady_state: bool = False,
    ) -> Regimen:
        """``amount`` every ``interval``, either ``n_doses`` times or for a treatment length
        ``over`` (every dose that starts before its end: "14 d" at 12 h is 28 doses).

        ``amount`` may be a sequence, one amount per dose (then ``n_doses`` is its length).
        ``steady_state=True`` starts already at steady state (the first dose has ss=1).
        """
        tau = parse_quantity(interval, "time", field="interval", positive=True)
        t0 = parse_quantity(start, "time", field="start", positive=False)
        amounts = list(amount) if isinstance(amount, (list, tuple, np.ndarray)) else None
        if amounts is not None and n_doses is None and over is None:
            n_doses = len(amounts)
        if (n_doses is None) == (over is None):
            raise PKModelError("n_doses/over", (n_doses, over), "give exactly one of n_doses or over")
        if over is not None:
            length = parse_quantity(over, "time", field="over", positive=True)
            # A rounding residue must not add or drop a dose when `over` is a multiple of tau.
            n_doses = max(1, math.ceil(length / tau - 1e-9))
        if isinstance(n_doses, bool) or not isinstance(n_doses, (int, np.integer)) or n_doses < 1:
            raise PKModelError("n_doses", n_doses, "must be a whole number >= 1")
        if amounts is not None and len(amounts) != n_doses:
            raise PKModelError("amount", amounts, f"one amount per dose: expected {n_doses} amounts")
        per_dose = amounts or [amount] * int(n_doses)
        first = Dose(t0, per_dose[0], route, _infusion_length(per_dose[0], duration, rate))
        doses = [Dose(t0 + i * tau, a, route, _infusion_length(a, duration, rate)) for i, a in enumerate(per_dose)]
        if steady_state:
            doses[0] = replace(doses[0], ss=1, ii=tau)
        what = first.describe() if amounts is None else f"{len(amounts)} doses ({_amount_list(amounts)}) {route}"
        text = f"{what} every {format_quantity(tau, 'time')}"
        text += f", {n_doses} doses ({format_quantity(n_doses * tau, 'time')})" if n_doses > 1 else ", 1 dose"
        if steady_state:
            text += ", from steady state"
        if t0:
            text += f", from {format_quantity(t0, 'time')}"
        return cls(tuple(doses), interval=tau, text=text)

    @classmethod
    def daily(
        cls,
        amount: Any,
        at: Sequence[str | float],
        *,
        days: int | None = None,
        over: Any = None,
        route: str = "oral",
        duration: Any = 0.0,
        start_day: int = 0,
    ) -> Regimen:
        """``amount`` at clock times ``at`` each day ("08:00", "14:00", or hours after midnight),
        for ``days`` days or a treatment length ``over``. Time 0 is midnight of day 0."""
        clock = sorted(_clock(t) for t in at)
        if not clock or len(set(clock)) != len(clock):
            raise PKModelError("at", list(at), "one or more distinct clock times, e.g. ['08:00', '14:00']")
        if (days is None) == (over is None):
            raise PKModelError("days/over", (days, over), "give exactly one of days or over")
        if over is not None:
            days = max(1, math.ceil(parse_quantity(over, "time", field="over", positive=True) / 24.0 - 1e-9))
        if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
            raise PKModelError("days", days, "must be a whole number >= 1")
        length = _infusion_length(amount, duration, None)
        doses = tuple(Dose((start_day + d) * 24.0 + c, amount, route, length) for d in range(int(days)) for c in clock)
        times = ",".join(_clock_text(c) for c in clock)
        text = f"{doses[0].describe()} at {times} daily for {days} d"
        return cls(doses, interval=24.0, text=text)

    @classmethod
    def parse(cls, text: str) -> Regimen:
        """A regimen from text such as "500 mg IV q12h x 14 d" (see :mod:`pkmodel.regimen_text`)."""
        from pkmodel.regimen_text import parse_regimen

        return parse_regimen(text)

    # --- composition -------------------------------------------------------------------------

    @property
    def next_time(self) -> float:
        """When the next period would start (h): the start of the last period + interval (for a
        regimen at clock times, the first clock time of the next day), or the end of the last
        administration when the regimen does not repeat."""
        period = self.last_period()
        return period[1] if period is not None else self.end

    def shifted(self, by: Any) -> Regimen:
        """The same regimen ``by`` hours later."""
        h = parse_quantity(by, "time", field="by") if isinstance(by, str) else float(by)
        return Regimen(tuple(d.shifted(h) for d in self.doses), self.interval, self.text)

    def then(self, other: Regimen, *, gap: Any = 0.0) -> Regimen:
        """``other`` started when this regimen's next dose would be due (plus ``gap``), as in
        "IV for 10 days, then oral"."""
        pause = parse_quantity(gap, "time", field="gap", positive=False)
        start = self.next_time + pause - other.doses[0].time
        later = other.shifted(start)
        text = f"{self} then {other}" + (f" after a break of {format_quantity(pause, 'time')}" if pause else "")
        return Regimen(self.doses + later.doses, other.interval, text)

    def __add__(self, other: Regimen) -> Regimen:
        """Both regimens at once, at the times each gives."""
        if not isinstance(other, Regimen):
            return NotImplemented
        interval = self.interval if self.interval == other.interval else None
        return Regimen(self.doses + other.doses, interval, f"{self} + {other}")

    def courses(self, n: int, *, every: Any) -> Regimen:
        """``n`` courses of this regimen, one starting every ``every`` (start to start), as in
        "a course of 4-6 weeks, repeated 2-3 times a year"."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise PKModelError("n", n, "must be a whole number >= 1")
        period = parse_quantity(every, "time", field="every", positive=True)
        length = self.next_time - self.doses[0].time
        if period < length:
            raise PKModelError("every", every, f"courses must not overlap: at least {format_quantity(length, 'time')}")
        doses = tuple(d.shifted(k * period) for k in range(int(n)) for d in self.doses)
        return Regimen(doses, self.interval, f"{n} courses of ({self}), one every {format_quantity(period, 'time')}")

    # --- changes ------------------------------------------------------------------------------

    def miss(
        self, numbers: Iterable[int] | None = None, *, probability: float | None = None, seed: Any = None
    ) -> Regimen:
        """The regimen with some doses not taken: explicit dose ``numbers`` (1 = first dose), or
        each dose missed with ``probability`` using ``numpy.random.default_rng(seed)``."""
        n = len(self.doses)
        if (numbers is None) == (probability is None):
            raise PKModelError("numbers/probability", (numbers, probability), "give exactly one of them")
        if probability is not None:
            if not 0 <= probability < 1:
                raise PKModelError("probability", probability, "must be in [0, 1)")
            missed = set((np.flatnonzero(np.random.default_rng(seed).random(n) < probability) + 1).tolist())
        else:
            missed = set(_dose_numbers(numbers, n, "numbers"))
        kept = tuple(d for i, d in enumerate(self.doses, start=1) if i not in missed)
        if not kept:
            raise PKModelError("numbers", sorted(missed), "cannot miss every dose")
        return Regimen(kept, self.interval, f"{self}, {len(missed)} dose(s) missed ({_list(sorted(missed))})")

    def late(self, delays: Mapping[int, Any]) -> Regimen:
        """The regimen with doses taken late: {dose number (1 = first): delay in h or "2 h"}."""
        numbers = _dose_numbers(delays.keys(), len(self.doses), "delays")
        by = {k: parse_quantity(delays[k], "time", field=f"delays[{k}]", positive=False) for k in numbers}
        doses = tuple(d.shifted(by.get(i, 0.0)) for i, d in enumerate(self.doses, start=1))
        said = ", ".join(f"dose {k} {format_quantity(v, 'time')} late" for k, v in by.items())
        return Regimen(doses, self.interval, f"{self}, {said}")

    # --- views ------------------------------------------------------------------------------

    @property
    def dose_times(self) -> np.ndarray:
        """Nominal dose times, h."""
        return np.array([d.time for d in self.doses])

    @property
    def end(self) -> float:
        """Time the last administration ends (nominally: before lag and F), h."""
        return max(d.time + (d.amount / d.rate if d.rate else d.duration) for d in self.doses)

    @property
    def routes(self) -> set[str]:
        return {d.route for d in self.doses}

    @property
    def daily_doses(self) -> pd.Series:
        """Total amount (mg) started on each calendar day (day 0 starts at time 0)."""
        days = np.floor(self.dose_times / 24.0).astype(int)
        amounts = pd.Series([d.amount for d in self.doses], index=pd.Index(days, name="day"))
        return amounts.groupby(level=0).sum()

    def last_period(self) -> tuple[float, float] | None:
        """(start, end) of the last full period of the repeating pattern, h: from the earliest
        dose within one interval before the last dose, for one interval. None without interval."""
        if self.interval is None:
            return None
        times = self.dose_times
        start = float(times[times > times[-1] - self.interval].min())
        return start, start + self.interval

    def to_frame(self) -> pd.DataFrame:
        """The event table: one row per dose, columns time_h, amount_mg, route, duration_h, ss, ii_h."""
        rows = [(d.time, d.amount, d.route, d.duration, d.ss, d.ii if d.ii is not None else np.nan) for d in self.doses]
        return pd.DataFrame(rows, columns=list(_FRAME_COLUMNS))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, interval: Any = None) -> Regimen:
        """A regimen from an event table as written by :meth:`to_frame` (``duration_h``, ``ss`` and
        ``ii_h`` optional)."""
        missing = [c for c in ("time_h", "amount_mg", "route") if c not in frame.columns]
        if missing:
            raise PKModelError("frame", list(frame.columns), f"missing column(s): {', '.join(missing)}")
        doses = []
        for i, row in enumerate(frame.to_dict("records")):
            ii = row.get("ii_h")
            ss = row.get("ss", 0)
            try:
                doses.append(
                    Dose(
                        row["time_h"],
                        row["amount_mg"],
                        row["route"],
                        row.get("duration_h", 0.0),
                        int(ss) if ss == ss else 0,
                        None if ii is None or ii != ii else ii,
                    )
                )
            except PKModelError as err:
                raise PKModelError(f"row {i}: {err.field}", err.value, err.allowed) from None
        return cls(tuple(doses), interval)

    def __str__(self) -> str:
        if self.text:
            return self.text
        if len(self.doses) == 1:
            return self.doses[0].describe()
        return f"{len(self.doses)} doses: " + "; ".join(
            f"{d.describe()} at {format_quantity(d.time, 'time')}" for d in self.doses
        )


def _infusion_length(amount: Any, duration: Any, rate: Any) -> float:
    """Infusion duration (h) from a duration or a rate (mg/h); 0 for a bolus."""
    if rate is None:
        return parse_quantity(duration, "time", field="duration", positive=False)
    if duration not in (0, 0.0, None):
        raise PKModelError("duration/rate", (duration, rate), "give an infusion's duration or its rate, not both")
    r = parse_quantity(rate, "infusion_rate", field="rate", positive=True)
    return parse_quantity(amount, "amount", field="amount", positive=True) / r


def _clock(value: str | float) -> float:
    """Hours after midnight from "08:00" or a number of hours in [0, 24)."""
    if isinstance(value, str):
        parts = value.strip().split(":")
        try:
            hours, minutes = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (None, None)
        except ValueError:
            hours, minutes = None, None
        if hours is None or not (0 <= hours < 24 and 0 <= minutes < 60):
            raise PKModelError("at", value, "clock times are written HH:MM, from 00:00 to 23:59")
        return hours + minutes / 60.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 24:
        raise PKModelError("at", value, "a clock time 'HH:MM' or hours after midnight in [0, 24)")
    return float(value)


def _clock_text(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _dose_numbers(numbers: Iterable[Any], n: int, field: str) -> list[int]:
    out = []
    for k in numbers:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            raise PKModelError(field, k, f"dose numbers run from 1 to {n}")
        out.append(int(k))
    return out


def _list(numbers: Sequence[int]) -> str:
    return "dose " + ", ".join(str(k) for k in numbers) if len(numbers) < 6 else f"{len(numbers)} doses"


def _amount_list(amounts: Sequence[Any]) -> str:
    return ", ".join(
        format_quantity(parse_quantity(a, "amount", field="amount", positive=True), "amount") for a in amounts
    )
