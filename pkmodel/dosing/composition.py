"""Combining and changing regimens: ``then`` (one after the other), ``+`` (both at once),
``courses`` (repeated courses with breaks), ``shifted``, and the changes of real life, ``miss``
and ``late``.

:class:`Composition` is the part of :class:`pkmodel.dosing.regimen.Regimen` that makes new
regimens out of existing ones; it works on the regimen's dose columns
(:class:`~pkmodel.dosing.columns.DoseColumns`) and knows the regimen only through them, its
``interval`` and its sentence, so it imports nothing from regimen.py. Times in h.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any, Self

import numpy as np

from pkmodel.dosing.columns import DoseColumns
from pkmodel.dosing.dose import check_dose_count, dose_time
from pkmodel.errors import PKModelError
from pkmodel.units import format_quantity, parse_quantity


class Composition:
    """``then``, ``+``, ``courses``, ``shifted``, ``miss`` and ``late`` of a regimen, and when it
    ends or would go on (:attr:`end`, :meth:`last_period`, :attr:`next_time`)."""

    columns: DoseColumns
    interval: float | None
    text: str | None

    def _new(self, columns: DoseColumns, interval: float | None, text: str | None) -> Self:
        """A regimen of the same class (Regimen's constructor)."""
        raise NotImplementedError

    # --- where the regimen is in time -----------------------------------------------------------

    @property
    def end(self) -> float:
        """Time the last administration ends, h: nominally, before lag and F (a dose given by its
        rate lasts amount/rate here; the engine infuses F·amount at that rate)."""
        c = self.columns
        with np.errstate(invalid="ignore"):
            length = np.where(np.isnan(c.rate), c.duration, c.amount / c.rate)
        return float(np.max(c.time + length))

    def last_period(self) -> tuple[float, float] | None:
        """(start, end) of the last full period of the repeating pattern, h: from the earliest
        dose within one interval before the last dose, for one interval. None without interval."""
        if self.interval is None:
            return None
        times = self.columns.time
        start = float(times[times > times[-1] - self.interval].min())
        return start, start + self.interval

    @property
    def next_time(self) -> float:
        """When the next period would start (h): the start of the last period + interval (for a
        regimen at clock times, the first clock time of the next day), or the end of the last
        administration when the regimen does not repeat."""
        period = self.last_period()
        return period[1] if period is not None else self.end

    # --- composition -------------------------------------------------------------------------

    def shifted(self, by: Any) -> Self:
        """The same regimen ``by`` hours later."""
        h = parse_quantity(by, "time", field="by")
        return self._new(self.columns.shifted(h), self.interval, self.text)

    def then(self, other: Self, *, gap: Any = None) -> Self:
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
        if not isinstance(other, Composition):
            raise PKModelError("other", type(other).__name__, "then() takes a Regimen")
        n, m = len(self.columns), len(other.columns)
        check_dose_count(n + m, "then", f"{n} + {m} doses")
        if gap is not None:
            pause = dose_time(gap, "gap")
            start = self.next_time + pause
        elif self.interval is not None:
            pause, start = 0.0, self.next_time
        elif other.interval is not None:
            pause, start = 0.0, max(float(self.columns.time[-1]) + other.interval, self.end)
        else:
            raise PKModelError(
                "gap", None, "neither regimen repeats, so nothing says when the second starts: give then(..., "
                "gap=...), the break (h) between the end of the first and the second"
            )
        later = other.shifted(start - float(other.columns.time[0]))
        text = f"{self} then {other}" + (f" after a break of {format_quantity(pause, 'time')}" if pause else "")
        return self._new(DoseColumns.concat((self.columns, later.columns)), other.interval, text)

    def __add__(self, other: Self) -> Self:
        """Both regimens at once, at the times each gives."""
        if not isinstance(other, Composition):
            return NotImplemented
        n, m = len(self.columns), len(other.columns)
        check_dose_count(n + m, "+", f"{n} + {m} doses")
        interval = self.interval if self.interval == other.interval else None
        return self._new(DoseColumns.concat((self.columns, other.columns)), interval, f"{self} + {other}")

    def courses(self, n: int, *, every: Any) -> Self:
        """``n`` courses of this regimen, one starting every ``every`` (start to start), as in
        "a course of 4-6 weeks, repeated 2-3 times a year"."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise PKModelError("n", n, "must be a whole number >= 1")
        n = int(n)
        size = len(self.columns)
        check_dose_count(n * size, "n", n, f" ({n} courses of {size} doses)")
        period = dose_time(every, "every", positive=True)
        length = self.next_time - float(self.columns.time[0])
        if period < length:
            raise PKModelError("every", every, f"courses must not overlap: at least {format_quantity(length, 'time')}")
        doses = self.columns.tiled(np.arange(n) * period)
        return self._new(doses, self.interval, f"{n} courses of ({self}), one every {format_quantity(period, 'time')}")

    # --- changes ------------------------------------------------------------------------------

    def miss(
        self, numbers: Iterable[int] | None = None, *, probability: float | None = None, seed: Any = None
    ) -> Self:
        """The regimen with some doses not taken: explicit dose ``numbers`` (1 = first dose), or
        each dose missed with ``probability`` using ``numpy.random.default_rng(seed)``."""
        n = len(self.columns)
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
        kept = np.ones(n, dtype=bool)
        kept[np.array(sorted(missed), dtype=int) - 1] = False
        if not kept.any():
            raise PKModelError("numbers", sorted(missed), "cannot miss every dose")
        return self._new(
            self.columns.take(kept), self.interval, f"{self}, {len(missed)} dose(s) missed ({_list(sorted(missed))})"
        )

    def late(self, delays: Mapping[int, Any]) -> Self:
        """The regimen with doses taken late: {dose number (1 = first): delay in h or "2 h"}."""
        if not isinstance(delays, Mapping):
            raise PKModelError("delays", delays, "a mapping {dose number: delay}, e.g. {2: '3 h'}")
        numbers = _dose_numbers(delays.keys(), len(self.columns), "delays")
        by = {k: dose_time(delays[k], f"delays[{k}]") for k in numbers}
        shift = np.zeros(len(self.columns))
        shift[np.array(list(by), dtype=int) - 1] = list(by.values())
        said = ", ".join(f"dose {k} {format_quantity(v, 'time')} late" for k, v in by.items())
        return self._new(self.columns.shifted(shift), self.interval, f"{self}, {said}")


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
