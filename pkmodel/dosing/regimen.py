"""Dosing regimens: immutable, composable lists of doses.

A :class:`Regimen` is a sorted tuple of :class:`Dose` records plus what a reader needs to talk
about it: the nominal dosing interval (period) of its last part and a sentence for ``str()``.
Build one with :meth:`Regimen.single`, :meth:`Regimen.repeated` or :meth:`Regimen.daily` (clock
times), combine with ``then`` (sequence; after a single or loading dose the next part starts one
of its own intervals later), ``+`` (merge) and ``courses`` (repeated courses with breaks), and
change with ``miss`` and ``late``. Text such as "500 mg IV q12h x 14 d" goes through
:meth:`Regimen.parse`: :mod:`pkmodel.dosing.text` (the layer below, which imports nothing from
here) reads the words into constructor calls, and ``parse`` makes them with this class. Units:
amounts mg, times h. A regimen holds at most :data:`pkmodel.limits.MAX_DOSES` doses, at times up
to :data:`pkmodel.limits.MAX_TIME_H`.

Infusions: ``duration`` (h) or ``rate`` (mg/h). A rate is kept as the dose's rate, NONMEM's
meaning: with F < 1 the dose lasts F·amount/rate. The constructors infuse IV only; a zero-order
input into the depot is a :class:`Dose` with ``route="oral"`` and a ``duration``.

Routes:
    "iv"          into the central compartment: a bolus, or a zero-order infusion when ``duration > 0``.
    "oral"        into the absorption depot; the model's F scales the amount and its lag delays it.
    "peripheral"  into the peripheral compartment (NONMEM datasets may dose any compartment).

Steady state (NONMEM's SS): a dose with ``ss=1`` resets the system to the steady state reached
by repeating that dose every ``interval`` hours forever, then gives it; ``ss=2`` adds that steady state
to the current state instead of resetting. It is computed in closed form by the engine.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from pkmodel.dosing.dose import (
    FRAME_COLUMNS,
    TIME_LIMIT,
    Dose,
    check_dose_count,
    dose_time,
    doses_frame,
    doses_from_frame,
)
from pkmodel.dosing.text import Part, Then, read_plan
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_TIME_H
from pkmodel.units import format_quantity, parse_clock, parse_quantity

_REPR_ROWS = 10


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: doses sorted by time; ``interval``, the period (h) after which the
    pattern of its last part repeats (None when it does not repeat); ``text``, its sentence.
    At most :data:`pkmodel.limits.MAX_DOSES` doses; every constructor and combination counts the
    doses before it builds them."""

    doses: tuple[Dose, ...]
    interval: float | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.doses, (tuple, list)) or not all(isinstance(d, Dose) for d in self.doses):
            raise PKModelError("doses", type(self.doses).__name__, "a tuple of Dose records")
        if not self.doses:
            raise PKModelError("doses", self.doses, "a regimen needs at least one dose")
        check_dose_count(len(self.doses), "doses", f"{len(self.doses)} doses")
        object.__setattr__(self, "doses", tuple(sorted(self.doses, key=lambda d: d.time)))
        if self.interval is not None:
            object.__setattr__(self, "interval", dose_time(self.interval, "interval", positive=True))

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def single(
        cls, amount: Any, route: str = "iv", *, duration: Any = 0.0, rate: Any = None, time: Any = 0.0
    ) -> Regimen:
        """One dose of ``amount`` (mg, or a string such as "500 mg") at ``time`` (h); an IV
        infusion is given by its ``duration`` (h) or its ``rate`` (mg/h, kept as the dose's rate as
        in NONMEM: with F < 1 it lasts F·amount/rate)."""
        dose = Dose(time, amount, route, **_infusion(route, duration, rate))
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
        loading: Any = None,
    ) -> Regimen:
        """``amount`` every ``interval``, either ``n_doses`` times or for a treatment length
        ``over`` (every dose that starts before its end: "14 d" at 12 h is 28 doses).

        ``amount`` may be a sequence, one amount per dose (then ``n_doses`` is its length).
        ``loading`` (mg or "1 g"): the first dose has this amount, the others ``amount``; the
        count ``n_doses`` includes it. ``steady_state=True`` starts already at steady state (the
        first dose has ss=1). An IV infusion is given by ``duration`` (h) or ``rate`` (mg/h).
        """
        tau = dose_time(interval, "interval", positive=True)
        t0 = dose_time(start, "start")
        infusion = _infusion(route, duration, rate)
        amounts = list(amount) if isinstance(amount, (list, tuple, np.ndarray)) else None
        if amounts is not None and n_doses is None and over is None:
            n_doses = len(amounts)
        if (n_doses is None) == (over is None):
            raise PKModelError("n_doses/over", (n_doses, over), "give exactly one of n_doses or over")
        if over is not None:
            length = dose_time(over, "over", positive=True)
            # A rounding residue must not add or drop a dose when `over` is a multiple of tau.
            count = length / tau - 1e-9
            check_dose_count(count, "over", over, f" (one every {format_quantity(tau, 'time')})")
            n_doses = max(1, math.ceil(count))
        if isinstance(n_doses, bool) or not isinstance(n_doses, (int, np.integer)) or n_doses < 1:
            raise PKModelError("n_doses", n_doses, "must be a whole number >= 1")
        n_doses = int(n_doses)
        check_dose_count(n_doses, "n_doses", n_doses)
        if t0 + (n_doses - 1) * tau > MAX_TIME_H:
            last = format_quantity(t0 + (n_doses - 1) * tau, "time")
            raise PKModelError("n_doses/over", n_doses, f"the last dose would be at {last}; {TIME_LIMIT}")
        if amounts is not None and len(amounts) != n_doses:
            raise PKModelError("amount", amounts, f"one amount per dose: expected {n_doses} amounts")
        if loading is not None:
            if amounts is not None:
                raise PKModelError("loading", loading, "give one maintenance amount with a loading dose, not a list")
            if steady_state:
                raise PKModelError("loading", loading, "a regimen that starts at steady state has no loading dose")
            loading = parse_quantity(loading, "amount", field="loading", positive=True)
        per_dose = amounts or [amount] * n_doses
        if loading is not None:
            per_dose = [loading, *per_dose[1:]]
        doses = [Dose(t0 + i * tau, a, route, **infusion) for i, a in enumerate(per_dose)]
        if steady_state:
            doses[0] = replace(doses[0], ss=1, interval=tau)
        if amounts is None:
            what = Dose(t0, amount, route, **infusion).describe()
        else:
            what = f"{len(amounts)} doses ({_amount_list(amounts)}) {route}"
        text = f"{what} every {format_quantity(tau, 'time')}"
        text += f", {n_doses} doses ({format_quantity(n_doses * tau, 'time')})" if n_doses > 1 else ", 1 dose"
        if loading is not None:
            text += f", the first {format_quantity(loading, 'amount')} (loading dose)"
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
        rate: Any = None,
        start_day: int = 0,
    ) -> Regimen:
        """``amount`` at clock times ``at`` each day ("08:00", "14:00", or hours after midnight in
        [0, 24)), for ``days`` days or a treatment length ``over``, from day ``start_day`` (a whole
        number >= 0). Time 0 is midnight of day 0. An IV infusion is given by ``duration`` (h) or
        ``rate`` (mg/h)."""
        if isinstance(at, (str, bytes)) or not isinstance(at, Iterable):
            raise PKModelError("at", at, "a list of clock times, e.g. ['08:00', '14:00']")
        at = list(at)
        clock = sorted(parse_clock(t, field="at") for t in at)
        if not clock or len(set(clock)) != len(clock):
            raise PKModelError("at", at, "one or more distinct clock times, e.g. ['08:00', '14:00']")
        if isinstance(start_day, bool) or not isinstance(start_day, (int, np.integer)) or start_day < 0:
            raise PKModelError("start_day", start_day, "a whole number of days >= 0 (day 0 starts at time 0)")
        start_day = int(start_day)
        infusion = _infusion(route, duration, rate)
        if (days is None) == (over is None):
            raise PKModelError("days/over", (days, over), "give exactly one of days or over")
        if over is not None:
            count = dose_time(over, "over", positive=True) / 24.0 - 1e-9
            check_dose_count(count * len(clock), "over", over, f" ({len(clock)} a day)")
            days = max(1, math.ceil(count))
        if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
            raise PKModelError("days", days, "must be a whole number >= 1")
        days = int(days)
        check_dose_count(days * len(clock), "days", days, f" ({len(clock)} a day)")
        if (start_day + days - 1) * 24.0 + clock[-1] > MAX_TIME_H:
            raise PKModelError("days", days, f"the last dose would be on day {start_day + days - 1}; {TIME_LIMIT}")
        doses = tuple(Dose((start_day + d) * 24.0 + c, amount, route, **infusion) for d in range(days) for c in clock)
        times = ",".join(_clock_text(c) for c in clock)
        text = f"{doses[0].describe()} at {times} daily for {days} d"
        if start_day:
            text += f" from day {start_day}"
        return cls(doses, interval=24.0, text=text)

    @classmethod
    def parse(cls, text: str) -> Regimen:
        """A regimen from text such as "500 mg IV q12h x 14 d" (grammar in :mod:`pkmodel.dosing.text`).

        text.py reads the words into steps; each is carried out here, in the order read, with the
        constructors, ``then`` and ``+``. An error they raise goes back to the step, which reports
        it at its words (``PKModelError`` with field "regimen")."""
        constructors: dict[str, Callable[..., Regimen]] = {
            "single": cls.single, "repeated": cls.repeated, "daily": cls.daily,
        }
        built: list[Regimen] = []  # postfix: Then and Plus join the two regimens built last
        for step in read_plan(text):
            try:
                if isinstance(step, Part):
                    built.append(constructors[step.constructor](*step.args, **dict(step.kwargs)))
                    continue
                second, first = built.pop(), built.pop()
                built.append(first.then(second, gap=step.gap) if isinstance(step, Then) else first + second)
            except PKModelError as err:
                step.refuse(err)
        (regimen,) = built
        return regimen

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
        h = parse_quantity(by, "time", field="by")
        return Regimen(tuple(d.shifted(h) for d in self.doses), self.interval, self.text)

    def then(self, other: Regimen, *, gap: Any = None) -> Regimen:
        """``other`` after this regimen, as in "IV for 10 days, then oral".

        When ``other`` starts (its first dose; the rest keep their spacing):

        * this regimen repeats (it has an ``interval``): when its next dose would be due
          (:attr:`next_time`), plus ``gap`` if given;
        * it does not repeat (a single dose, a loading dose) and no ``gap`` is given: one of
          ``other``'s intervals after this regimen's last dose, and not before that dose ends.
          This is what a prescriber means by "500 mg, then 250 mg q12h": 500 mg at 0 h, 250 mg
          from 12 h. If ``other`` does not repeat either, a ``gap`` is required;
        * it does not repeat and ``gap`` is given: ``gap`` after its last administration ends.
        """
        if not isinstance(other, Regimen):
            raise PKModelError("other", type(other).__name__, "then() takes a Regimen")
        check_dose_count(len(self.doses) + len(other.doses), "then", f"{len(self.doses)} + {len(other.doses)} doses")
        if gap is not None:
            pause = dose_time(gap, "gap")
            start = self.next_time + pause
        elif self.interval is not None:
            pause, start = 0.0, self.next_time
        elif other.interval is not None:
            pause, start = 0.0, max(self.doses[-1].time + other.interval, self.end)
        else:
            raise PKModelError(
                "gap", None, "neither regimen repeats, so nothing says when the second starts: give then(..., "
                "gap=...), the break (h) between the end of the first and the second"
            )
        later = other.shifted(start - other.doses[0].time)
        text = f"{self} then {other}" + (f" after a break of {format_quantity(pause, 'time')}" if pause else "")
        return Regimen(self.doses + later.doses, other.interval, text)

    def __add__(self, other: Regimen) -> Regimen:
        """Both regimens at once, at the times each gives."""
        if not isinstance(other, Regimen):
            return NotImplemented
        check_dose_count(len(self.doses) + len(other.doses), "+", f"{len(self.doses)} + {len(other.doses)} doses")
        interval = self.interval if self.interval == other.interval else None
        return Regimen(self.doses + other.doses, interval, f"{self} + {other}")

    def courses(self, n: int, *, every: Any) -> Regimen:
        """``n`` courses of this regimen, one starting every ``every`` (start to start), as in
        "a course of 4-6 weeks, repeated 2-3 times a year"."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise PKModelError("n", n, "must be a whole number >= 1")
        n = int(n)
        check_dose_count(n * len(self.doses), "n", n, f" ({n} courses of {len(self.doses)} doses)")
        period = dose_time(every, "every", positive=True)
        length = self.next_time - self.doses[0].time
        if period < length:
            raise PKModelError("every", every, f"courses must not overlap: at least {format_quantity(length, 'time')}")
        doses = tuple(d.shifted(k * period) for k in range(n) for d in self.doses)
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
            if isinstance(probability, bool) or not isinstance(probability, Real) or not 0 <= probability < 1:
                raise PKModelError("probability", probability, "must be a number in [0, 1)")
            try:
                rng = np.random.default_rng(seed)
            except (TypeError, ValueError) as err:
                raise PKModelError("seed", seed, f"a seed numpy.random.default_rng accepts ({err})") from None
            missed = set((np.flatnonzero(rng.random(n) < probability) + 1).tolist())
        else:
            assert numbers is not None  # exactly one of the two is given
            missed = set(_dose_numbers(numbers, n, "numbers"))
        kept = tuple(d for i, d in enumerate(self.doses, start=1) if i not in missed)
        if not kept:
            raise PKModelError("numbers", sorted(missed), "cannot miss every dose")
        return Regimen(kept, self.interval, f"{self}, {len(missed)} dose(s) missed ({_list(sorted(missed))})")

    def late(self, delays: Mapping[int, Any]) -> Regimen:
        """The regimen with doses taken late: {dose number (1 = first): delay in h or "2 h"}."""
        if not isinstance(delays, Mapping):
            raise PKModelError("delays", delays, "a mapping {dose number: delay}, e.g. {2: '3 h'}")
        numbers = _dose_numbers(delays.keys(), len(self.doses), "delays")
        by = {k: dose_time(delays[k], f"delays[{k}]") for k in numbers}
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
        """Time the last administration ends, h: nominally, before lag and F (a dose given by its
        rate lasts amount/rate here; the engine infuses F·amount at that rate)."""
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
        """The event table, one row per dose and a column per field of :class:`Dose`: time_h,
        amount_mg, route, duration_h, rate_mg_h, ss, interval_h, f, tlag_h, reset. A field that is not
        given (rate, interval, f, tlag) is an empty cell (NaN)."""
        return doses_frame(self.doses)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, interval: Any = None) -> Regimen:
        """A regimen from an event table as written by :meth:`to_frame`: time_h, amount_mg and
        route are required; the other columns are optional, and an empty cell (NaN, None) in them
        means "not given" (duration 0, no rate, ss 0, no interval, the model's F and lag, no reset).
        ``ss`` must be a whole number and ``reset`` True/False (or 1/0); nothing is rounded."""
        return cls(tuple(doses_from_frame(frame)), interval)

    def __str__(self) -> str:
        if self.text:
            return self.text
        if len(self.doses) == 1:
            return self.doses[0].describe()
        return f"{len(self.doses)} doses: " + "; ".join(
            f"{d.describe()} at {format_quantity(d.time, 'time')}" for d in self.doses
        )

    def _summary(self) -> str:
        n = len(self.doses)
        first, last = format_quantity(self.doses[0].time, "time"), format_quantity(self.doses[-1].time, "time")
        return f"{n} dose{'s' * (n != 1)}" + (f" from {first} to {last}" if n > 1 else f" at {first}")

    def __repr__(self) -> str:
        """Short, whatever the number of doses: the sentence, the count and the span of dose times
        (``to_frame()`` lists the doses)."""
        return f"Regimen({_shorten(str(self), 200)!r}; {self._summary()})"

    def _repr_html_(self) -> str:
        """For notebooks: the sentence, the count and span, and the first rows of the event table."""
        head = doses_frame(self.doses[:_REPR_ROWS])
        # Columns that say nothing for these doses (all empty, zero or False) only widen the table.
        quiet = [c for c in FRAME_COLUMNS[3:] if not head[c].fillna(0).astype(bool).any()]
        head = head.drop(columns=quiet)
        more = len(self.doses) - _REPR_ROWS
        return (
            f"<p><b>Regimen</b>: {html.escape(_shorten(str(self), 1000))}<br>{self._summary()}</p>"
            + head.to_html(index=False, na_rep="")
            + (f"<p>… and {more} more dose{'s' * (more != 1)} (<code>to_frame()</code> lists them all)</p>"
               if more > 0 else "")
        )


def _infusion(route: Any, duration: Any, rate: Any) -> dict[str, Any]:
    """Dose keywords for an IV infusion given by its ``duration`` (h) or its ``rate`` (mg/h), kept
    as given (NONMEM's meaning of a rate); a bolus when neither is given. The friendly
    constructors infuse IV only: an oral "infusion" is refused, not quietly given into the depot."""
    length = 0.0 if duration is None else dose_time(duration, "duration")
    if rate is None:
        infusion: dict[str, Any] = {"duration": length}
    elif length:
        raise PKModelError("duration/rate", (duration, rate), "give an infusion's duration or its rate, not both")
    else:
        infusion = {"rate": parse_quantity(rate, "infusion_rate", field="rate", positive=True)}
    if (length or rate is not None) and isinstance(route, str) and route.lower() == "oral":
        field, value = ("rate", rate) if rate is not None else ("duration", duration)
        raise PKModelError(
            field, value, "an infusion is an IV dose (route 'iv'); a zero-order input into the depot is written "
            "with Dose(..., route='oral', duration=...)"
        )
    return infusion


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clock_text(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _dose_numbers(numbers: Iterable[Any], n: int, field: str) -> list[int]:
    if isinstance(numbers, (str, bytes)) or not isinstance(numbers, Iterable):
        raise PKModelError(field, numbers, f"a list of dose numbers from 1 to {n}")
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
