"""A regimen's doses as columns: one read-only numpy array per field of :class:`Dose`.

A regimen of 10,000 doses is ten arrays, not 10,000 objects: building, shifting, joining and
repeating regimens and turning them into engine events (:mod:`pkmodel.dosing.events`) work on
whole columns. The :class:`Dose` values are made only for those who ask for them
(:meth:`DoseColumns.doses`). Units as in :class:`Dose`: times h, amounts mg, rates mg/h.

Columns are built only from values that have passed :class:`Dose`'s checks (a checked
:class:`Dose` as the pattern of a repeated dose, or a list of checked doses); times that a
shift moves are checked again by :func:`check_times`, with :func:`~pkmodel.dosing.dose.dose_time`'s rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from pkmodel.dosing.dose import FRAME_COLUMNS, ROUTES, Dose, dose_time
from pkmodel.limits import MAX_TIME_H

ORAL = ROUTES.index("oral")
#: Route code of each route name (the ``route`` column holds ``ROUTES.index(name)``).
ROUTE_CODE = {name: code for code, name in enumerate(ROUTES)}


@dataclass(frozen=True, eq=False)
class DoseColumns:
    """The doses of a regimen, one array per field of :class:`Dose` (all of one length, read-only).

    ``route`` holds codes into :data:`pkmodel.dosing.dose.ROUTES`; ``rate``, ``interval``, ``f``
    and ``tlag`` hold NaN where the dose does not give them (None in :class:`Dose`)."""

    time: np.ndarray  # h, float64
    amount: np.ndarray  # mg, float64
    route: np.ndarray  # int8 codes into ROUTES
    duration: np.ndarray  # h, float64
    ss: np.ndarray  # int8: 0, 1 or 2
    interval: np.ndarray  # h, float64, NaN: none
    rate: np.ndarray  # mg/h, float64, NaN: none
    f: np.ndarray  # float64, NaN: the model's
    tlag: np.ndarray  # h, float64, NaN: the model's
    reset: np.ndarray  # bool

    def __post_init__(self) -> None:
        for column in self._arrays():
            column.flags.writeable = False

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def __reduce__(self) -> tuple[Any, ...]:
        # Through the constructor, so that a copy or an unpickled regimen is read-only too.
        return (DoseColumns, self._arrays())

    # --- building ----------------------------------------------------------------------------

    @classmethod
    def of(cls, doses: Sequence[Dose]) -> DoseColumns:
        """The columns of checked :class:`Dose` values, in the order given."""

        def opt(x: float | None) -> float:
            return np.nan if x is None else x

        return cls(
            time=np.array([d.time for d in doses], dtype=float),
            amount=np.array([d.amount for d in doses], dtype=float),
            route=np.array([ROUTE_CODE[d.route] for d in doses], dtype=np.int8),
            duration=np.array([d.duration for d in doses], dtype=float),
            ss=np.array([d.ss for d in doses], dtype=np.int8),
            interval=np.array([opt(d.interval) for d in doses], dtype=float),
            rate=np.array([opt(d.rate) for d in doses], dtype=float),
            f=np.array([opt(d.f) for d in doses], dtype=float),
            tlag=np.array([opt(d.tlag) for d in doses], dtype=float),
            reset=np.array([d.reset for d in doses], dtype=bool),
        )

    @classmethod
    def repeat(cls, dose: Dose, times: np.ndarray, amounts: np.ndarray | None = None) -> DoseColumns:
        """``dose`` (checked) given at each of ``times`` (h, checked by the caller), with
        ``amounts`` (mg, checked) in place of its amount when given."""
        n = len(times)
        one = cls.of((dose,))
        columns = {f.name: np.repeat(getattr(one, f.name), n) for f in fields(cls)}
        columns["time"] = np.array(times, dtype=float)
        if amounts is not None:
            columns["amount"] = np.array(amounts, dtype=float)
        return cls(**columns)

    @classmethod
    def concat(cls, parts: Sequence[DoseColumns]) -> DoseColumns:
        """The doses of ``parts`` one after the other (not sorted)."""
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def take(self, index: Any) -> DoseColumns:
        """The doses at ``index`` (a slice, a boolean mask or positions), as new columns."""
        return DoseColumns(*(np.array(column[index]) for column in self._arrays()))

    def with_times(self, time: np.ndarray) -> DoseColumns:
        """The same doses at ``time`` (h), each checked as :class:`Dose` checks its time."""
        check_times(time)
        return DoseColumns(np.array(time, dtype=float), *self._arrays()[1:])

    def shifted(self, by: float | np.ndarray) -> DoseColumns:
        """The doses ``by`` hours later (one number, or one per dose)."""
        return self.with_times(self.time + by)

    def tiled(self, starts: np.ndarray) -> DoseColumns:
        """These doses again at each of ``starts`` (h, added to their times), course after course."""
        n = len(starts)
        time = (np.asarray(starts, dtype=float)[:, None] + self.time[None, :]).ravel()
        check_times(time)
        return DoseColumns(time, *(np.tile(column, n) for column in self._arrays()[1:]))

    def sorted(self) -> DoseColumns:
        """The doses in time order; doses at one time keep their order."""
        if len(self.time) < 2 or bool(np.all(self.time[1:] >= self.time[:-1])):
            return self
        return self.take(np.argsort(self.time, kind="stable"))

    # --- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.time)

    @property
    def infusion(self) -> np.ndarray:
        """Which doses are zero-order inputs (a duration or a rate), as :attr:`Dose.infusion`."""
        return (self.duration > 0) | ~np.isnan(self.rate)

    @property
    def oral(self) -> np.ndarray:
        return self.route == ORAL

    def dose(self, i: int) -> Dose:
        """Dose number ``i`` (0-based) as a :class:`Dose`."""
        return self.doses(slice(i, i + 1))[0]

    def doses(self, index: slice = slice(None)) -> tuple[Dose, ...]:
        """The doses as :class:`Dose` values. Their fields were checked when these columns were
        built, so they are set as they are, not checked again (one dose costs about 1 µs, not 10)."""

        def opt(values: np.ndarray) -> list[float | None]:
            return [None if x != x else x for x in values.tolist()]

        rows = zip(
            self.time[index].tolist(),
            self.amount[index].tolist(),
            [ROUTES[c] for c in self.route[index].tolist()],
            self.duration[index].tolist(),
            self.ss[index].tolist(),
            opt(self.interval[index]),
            opt(self.rate[index]),
            opt(self.f[index]),
            opt(self.tlag[index]),
            self.reset[index].tolist(),
            strict=True,
        )
        names = ("time", "amount", "route", "duration", "ss", "interval", "rate", "f", "tlag", "reset")
        made = []
        for row in rows:
            dose = object.__new__(Dose)
            dose.__dict__.update(zip(names, row, strict=True))
            made.append(dose)
        return tuple(made)

    def equals(self, other: DoseColumns) -> bool:
        """The same doses in the same order (NaN, "not given", equals NaN)."""
        return len(self) == len(other) and all(
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
            for a, b in zip(self._arrays(), other._arrays(), strict=True)
        )

    def key(self) -> tuple[bytes, ...]:
        """Bytes that equal columns share (for hashing): -0.0 is written as 0.0."""
        return tuple((a + 0.0 if a.dtype.kind == "f" else a).tobytes() for a in self._arrays())

    def frame(self) -> Any:
        """The event table (a pandas DataFrame), one row per dose, with the columns
        :data:`pkmodel.dosing.dose.FRAME_COLUMNS`; a field not given is an empty cell (NaN)."""
        import pandas as pd  # pandas only for those who ask for a table

        values = (
            self.time, self.amount, np.array(ROUTES, dtype=object)[self.route], self.duration, self.rate,
            self.ss.astype(int), self.interval, self.f, self.tlag, self.reset,
        )
        return pd.DataFrame({name: np.array(v) for name, v in zip(FRAME_COLUMNS, values, strict=True)})


def check_times(time: np.ndarray) -> None:
    """Refuse dose times (h) that :class:`Dose` would refuse (negative, not finite, beyond
    :data:`pkmodel.limits.MAX_TIME_H`): the first such time, in the order given, is passed to
    :func:`~pkmodel.dosing.dose.dose_time`, which raises its error."""
    time = np.asarray(time, dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~((time >= 0) & (time <= MAX_TIME_H))
    if bad.any():
        dose_time(float(time[int(np.argmax(bad))]), "time")
