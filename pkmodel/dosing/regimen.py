"""Dosing regimens: immutable, composable lists of doses.

A :class:`Regimen` is a sorted list of doses, held as columns (:mod:`pkmodel.dosing.columns`)
and given as :class:`Dose` values on request, plus what a reader needs to talk about it: the
nominal dosing interval (period) of its last part and a sentence for ``str()``. This module
builds regimens: :meth:`Regimen.single`, :meth:`Regimen.repeated`, :meth:`Regimen.daily` (clock
times) and :meth:`Regimen.parse`, and shows them (views, tables, reprs). Combining (``then``,
``+``, ``courses``) and changing (``miss``, ``late``) live in :mod:`pkmodel.dosing.composition`. Text such as "500 mg IV q12h x 14 d" goes through
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from pkmodel.dosing.columns import DoseColumns
from pkmodel.dosing.composition import Composition
from pkmodel.dosing.dose import FRAME_COLUMNS, ROUTES, TIME_LIMIT, Dose, check_dose_count, dose_time, doses_from_frame
from pkmodel.dosing.text import Part, Then, read_plan
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_TIME_H
from pkmodel.units import format_quantity, parse_clock, parse_quantity

_REPR_ROWS = 10


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Regimen(Composition):
    """A dosing regimen: doses sorted by time; ``interval``, the period (h) after which the
    pattern of its last part repeats (None when it does not repeat); ``text``, its sentence.
    At most :data:`pkmodel.limits.MAX_DOSES` doses; every constructor and combination counts the
    doses before it builds them.

    ``Regimen(doses, interval, text)`` takes a tuple (or list) of :class:`Dose` values. The doses
    are held as columns (:attr:`columns`, one read-only array per field, so that a regimen of
    10,000 doses is built and turned into events without 10,000 objects); :attr:`doses` gives
    them as :class:`Dose` values, made when first asked for. Two regimens are equal when their
    doses, interval and text are."""

    columns: DoseColumns
    interval: float | None
    text: str | None

    def __init__(
        self, doses: Sequence[Dose] | DoseColumns, interval: Any = None, text: str | None = None
    ) -> None:
        given: tuple[Dose, ...] | None = None
        if isinstance(doses, DoseColumns):
            columns = doses
        elif isinstance(doses, (tuple, list)) and all(isinstance(d, Dose) for d in doses):
            given = tuple(doses)
            columns = DoseColumns.of(given)
        else:
            raise PKModelError("doses", type(doses).__name__, "a tuple of Dose records")
        if not len(columns):
            raise PKModelError("doses", doses, "a regimen needs at least one dose")
        check_dose_count(len(columns), "doses", f"{len(columns)} doses")
        ordered = columns.sorted()
        object.__setattr__(self, "columns", ordered)
        if given is not None:  # the Dose values are at hand: keep them rather than make them again
            self.__dict__["doses"] = given if ordered is columns else tuple(sorted(given, key=lambda d: d.time))
        if interval is not None:
            interval = dose_time(interval, "interval", positive=True)
        object.__setattr__(self, "interval", interval)
        object.__setattr__(self, "text", text)

    def _new(self, columns: DoseColumns, interval: float | None, text: str | None) -> Regimen:
        return Regimen(columns, interval, text)

    @cached_property
    def doses(self) -> tuple[Dose, ...]:
        """The doses as :class:`Dose` values, sorted by time (made once, when first asked for)."""
        return self.columns.doses()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Regimen):
            return NotImplemented
        return (self.interval, self.text) == (other.interval, other.text) and self.columns.equals(other.columns)

    def __hash__(self) -> int:
        return hash((self.interval, self.text, self.columns.key()))

    @property
    def n_doses(self) -> int:
        """The number of doses."""
        return len(self.columns)

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
        # One dose is checked as a Dose; the others differ only in time (checked above: the last
        # is within MAX_TIME_H) and, for a list, in amount (each checked as Dose checks it).
        per_dose = None
        if amounts is not None:
            per_dose = np.array([parse_quantity(a, "amount", field="amount", positive=True) for a in amounts])
        first = Dose(t0, amount if amounts is None else amounts[0], route, **infusion)
        if loading is not None:
            per_dose = np.full(n_doses, first.amount)
            per_dose[0] = loading
        columns = DoseColumns.repeat(first, t0 + np.arange(n_doses) * tau, per_dose)
        if steady_state:
            columns = DoseColumns.concat((DoseColumns.of((replace(first, ss=1, interval=tau),)), columns.take(slice(1, None))))
        if amounts is None:
            what = first.describe()
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
        return cls(columns, interval=tau, text=text)

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
        first = Dose(start_day * 24.0 + clock[0], amount, route, **infusion)
        day_starts = (start_day + np.arange(days)) * 24.0
        columns = DoseColumns.repeat(first, (day_starts[:, None] + np.array(clock)[None, :]).ravel())
        times = ",".join(_clock_text(c) for c in clock)
        text = f"{first.describe()} at {times} daily for {days} d"
        if start_day:
            text += f" from day {start_day}"
        return cls(columns, interval=24.0, text=text)

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

    # --- views ------------------------------------------------------------------------------

    @property
    def dose_times(self) -> np.ndarray:
        """Nominal dose times, h."""
        return self.columns.time.copy()

    @property
    def routes(self) -> set[str]:
        return {ROUTES[c] for c in np.unique(self.columns.route).tolist()}

    @property
    def daily_totals(self) -> tuple[np.ndarray, np.ndarray]:
        """(days, totals): each calendar day on which a dose starts (day 0 starts at time 0) and the
        total amount (mg) started on it, days in increasing order. numpy only: the label check
        runs on every simulation."""
        days, first = np.unique(np.floor(self.columns.time / 24.0).astype(int), return_index=True)
        # Times are sorted, so each day's doses are one run starting at its first index.
        return days, np.add.reduceat(self.columns.amount, first)

    @property
    def daily_doses(self) -> Any:
        """Total amount (mg) started on each calendar day (day 0 starts at time 0), a pandas Series
        indexed by day (:attr:`daily_totals` as a table)."""
        import pandas as pd  # pandas only for those who ask for a table

        days, totals = self.daily_totals
        return pd.Series(totals, index=pd.Index(days, name="day"))

    def to_frame(self) -> Any:
        """The event table (a pandas DataFrame), one row per dose and a column per field of
        :class:`Dose`: time_h, amount_mg, route, duration_h, rate_mg_h, ss, interval_h, f, tlag_h,
        reset. A field that is not given (rate, interval, f, tlag) is an empty cell (NaN)."""
        return self.columns.frame()

    @classmethod
    def from_frame(cls, frame: Any, *, interval: Any = None) -> Regimen:
        """A regimen from an event table (a pandas DataFrame) as written by :meth:`to_frame`:
        time_h, amount_mg and route are required; the other columns are optional, and an empty cell
        (NaN, None) in them means "not given" (duration 0, no rate, ss 0, no interval, the model's F
        and lag, no reset). ``ss`` must be a whole number and ``reset`` True/False (or 1/0); nothing
        is rounded."""
        return cls(tuple(doses_from_frame(frame)), interval)

    def __str__(self) -> str:
        if self.text:
            return self.text
        if self.n_doses == 1:
            return self.columns.dose(0).describe()
        return f"{len(self.doses)} doses: " + "; ".join(
            f"{d.describe()} at {format_quantity(d.time, 'time')}" for d in self.doses
        )

    def _summary(self) -> str:
        n, times = self.n_doses, self.columns.time
        first, last = format_quantity(float(times[0]), "time"), format_quantity(float(times[-1]), "time")
        return f"{n} dose{'s' * (n != 1)}" + (f" from {first} to {last}" if n > 1 else f" at {first}")

    def __repr__(self) -> str:
        """Short, whatever the number of doses: the sentence, the count and the span of dose times
        (``to_frame()`` lists the doses)."""
        return f"Regimen({_shorten(str(self), 200)!r}; {self._summary()})"

    def _repr_html_(self) -> str:
        """For notebooks: the sentence, the count and span, and the first rows of the event table."""
        head = self.columns.take(slice(0, _REPR_ROWS)).frame()
        # Columns that say nothing for these doses (all empty, zero or False) only widen the table.
        quiet = [c for c in FRAME_COLUMNS[3:] if not head[c].fillna(0).astype(bool).any()]
        head = head.drop(columns=quiet)
        more = self.n_doses - _REPR_ROWS
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


def _amount_list(amounts: Sequence[Any]) -> str:
    return ", ".join(
        format_quantity(parse_quantity(a, "amount", field="amount", positive=True), "amount") for a in amounts
    )
