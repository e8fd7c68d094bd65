"""Dosing regimens: immutable lists of doses with a route each.

This is the minimal form the engine issue needs (a single or a repeated dose); the regimen issue
grows it (text syntax, composition, steady state, datasets). Units: amount mg, times h.

Routes:
    "iv"    into the central compartment: a bolus, or a zero-order infusion when ``duration > 0``.
    "oral"  into the absorption depot; the model's F scales the amount and its lag delays it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pkmodel.errors import PKModelError
from pkmodel.units import format_quantity, parse_quantity

ROUTES = ("iv", "oral")
_ROUTE_WORDS = {"iv": "IV", "oral": "oral"}


def _quantity(value: Any, kind: str, field: str, *, positive: bool) -> float:
    number = parse_quantity(value, kind, field=field)  # type: ignore[arg-type]
    if positive and not number > 0:
        raise PKModelError(field, value, "must be > 0")
    if not positive and not number >= 0:
        raise PKModelError(field, value, "must be >= 0")
    return number


@dataclass(frozen=True)
class Dose:
    """One administration: ``amount`` mg at ``time`` h by ``route``, over ``duration`` h
    (0 for a bolus or an oral dose taken at once)."""

    time: float
    amount: float
    route: str = "iv"
    duration: float = 0.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "time", _quantity(self.time, "time", "time", positive=False))
        set_(self, "amount", _quantity(self.amount, "amount", "amount", positive=True))
        set_(self, "duration", _quantity(self.duration, "time", "duration", positive=False))
        route = self.route.lower() if isinstance(self.route, str) else self.route
        if route not in ROUTES:
            raise PKModelError("route", self.route, f"allowed routes: {', '.join(ROUTES)}")
        set_(self, "route", route)

    @property
    def rate(self) -> float:
        """Infusion rate, mg/h (infinite for a bolus)."""
        return self.amount / self.duration if self.duration > 0 else math.inf


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: doses sorted by time, and the nominal dosing interval (h) when the
    doses repeat at one interval (None otherwise)."""

    doses: tuple[Dose, ...]
    interval: float | None = None

    def __post_init__(self) -> None:
        if not self.doses:
            raise PKModelError("doses", self.doses, "a regimen needs at least one dose")
        object.__setattr__(self, "doses", tuple(sorted(self.doses, key=lambda d: d.time)))
        if self.interval is not None:
            object.__setattr__(self, "interval", _quantity(self.interval, "time", "interval", positive=True))

    @classmethod
    def single(cls, amount: Any, route: str = "iv", *, duration: Any = 0.0, time: Any = 0.0) -> Regimen:
        """One dose of ``amount`` (mg or a string such as "500 mg") at ``time`` (h)."""
        return cls((Dose(time, amount, route, duration),))

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
        start: Any = 0.0,
    ) -> Regimen:
        """``amount`` every ``interval``, either ``n_doses`` times or for a treatment length ``over``
        (e.g. "14 d": every dose that starts before its end, 28 doses at 12 h).
        """
        tau = _quantity(interval, "time", "interval", positive=True)
        t0 = _quantity(start, "time", "start", positive=False)
        if (n_doses is None) == (over is None):
            raise PKModelError("n_doses/over", (n_doses, over), "give exactly one of n_doses or over")
        if over is not None:
            length = _quantity(over, "time", "over", positive=True)
            # A rounding residue must not add or drop a dose when `over` is a multiple of tau.
            n_doses = max(1, math.ceil(length / tau - 1e-9))
        if isinstance(n_doses, bool) or not isinstance(n_doses, (int, np.integer)) or n_doses < 1:
            raise PKModelError("n_doses", n_doses, "must be a whole number >= 1")
        doses = tuple(Dose(t0 + i * tau, amount, route, duration) for i in range(int(n_doses)))
        return cls(doses, interval=tau if n_doses > 1 else None)

    @property
    def dose_times(self) -> np.ndarray:
        """Nominal dose times, h."""
        return np.array([d.time for d in self.doses])

    @property
    def end(self) -> float:
        """Time the last administration ends, h."""
        return max(d.time + d.duration for d in self.doses)

    @property
    def routes(self) -> set[str]:
        return {d.route for d in self.doses}

    def __str__(self) -> str:
        first = self.doses[0]
        how = _ROUTE_WORDS[first.route]
        if first.duration > 0:
            how += f" over {format_quantity(first.duration, 'time')}"
        uniform = all(
            (d.amount, d.route, d.duration) == (first.amount, first.route, first.duration) for d in self.doses
        )
        if len(self.doses) == 1:
            text = f"{format_quantity(first.amount, 'amount')} {how}"
            return text if first.time == 0 else f"{text} at {format_quantity(first.time, 'time')}"
        if uniform and self.interval is not None:
            total = len(self.doses) * self.interval
            return (
                f"{format_quantity(first.amount, 'amount')} {how} every {format_quantity(self.interval, 'time')}, "
                f"{len(self.doses)} doses ({format_quantity(total, 'time')})"
            )
        return f"{len(self.doses)} doses: " + "; ".join(
            f"{format_quantity(d.amount, 'amount')} {_ROUTE_WORDS[d.route]} at {format_quantity(d.time, 'time')}"
            for d in self.doses
        )
