"""The dosing rules (NONMEM/PREDPP), in one place: a :class:`Regimen` becomes engine events.

Every other module that needs to know what a dose does (the simulation, the exposure summary,
dataset simulation, dose suggestion, default time grids) asks this module. Units: amounts mg,
times h, rates mg/h.

The rules, one per line:

- **Route -> compartment.** Oral doses go to the depot, IV doses to the central compartment,
  "peripheral" to the peripheral one.
- **F.** The dose's own ``f``, else the model's F for oral doses, else 1, scales the amount:
  the bioavailable amount is F·amount (:func:`bioavailable_amounts`).
- **Lag.** The dose's own ``tlag``, else the model's lag for oral doses, else 0, shifts the time:
  the dose arrives at time + lag (:func:`arrival_times`). Per-subject F and lag (model arrays)
  give per-subject events.
- **Duration.** A dose with a duration is a zero-order input at rate F·amount/duration from its
  arrival, for that duration.
- **Rate.** A dose with a fixed ``rate`` keeps that rate and lasts F·amount/rate (NONMEM RATE > 0
  with F != 1). The infusion ends at arrival + duration (:func:`infusion_ends`).
- **Reset.** ``reset`` empties every compartment and stops every infusion just before the dose;
  what earlier doses would still cause at or after that time (a lagged dose not yet absorbed, the
  end of an infusion) is dropped with it.
- **Steady state.** ``ss=1`` resets, then sets the closed-form steady state of the dose repeated
  every ``interval`` h forever; ``ss=2`` adds that steady state to the current state. Either way the
  earlier doses of that pattern still owe events (lagged doses not yet arrived, infusions still
  running), which are added (:func:`bolus_arrival_times` lists the lagged ones).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pkmodel.dosing.columns import ROUTE_CODE, DoseColumns
from pkmodel.dosing.dose import Dose
from pkmodel.dosing.regimen import Regimen
from pkmodel.engine.analytic import CENTRAL, DEPOT, PERIPHERAL, Events
from pkmodel.engine.steady import steady_state
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_DOSES, MAX_TIME_H
from pkmodel.model import Model

COMPARTMENT = {"iv": CENTRAL, "oral": DEPOT, "peripheral": PERIPHERAL}
# The compartment of each route code of DoseColumns.route.
_COMPARTMENT_OF_CODE = np.array([COMPARTMENT[route] for route in sorted(ROUTE_CODE, key=ROUTE_CODE.__getitem__)])

Value = float | np.ndarray
#: Doses as the rules take them: a regimen, its columns, or Dose values. The rules work on whole
#: columns, never dose by dose.
Doses = Regimen | DoseColumns | Sequence[Dose]


def columns(doses: Doses) -> DoseColumns:
    """The dose columns of ``doses`` (made from Dose values only when those are given)."""
    if isinstance(doses, Regimen):
        return doses.columns
    if isinstance(doses, DoseColumns):
        return doses
    return DoseColumns.of(doses)


# --- the rules, over whole columns of doses -----------------------------------------------------


def bioavailability(doses: Doses, model_f: Value = 1.0) -> np.ndarray:
    """F of each dose: its own ``f``, else ``model_f`` (the model's F, scalar or per subject)
    for oral doses, else 1. Shape (n_doses,), or (n_subjects, n_doses) for per-subject F."""
    c = columns(doses)
    model = np.asarray(model_f, dtype=float)[..., None]
    return np.where(np.isnan(c.f), np.where(c.oral, model, 1.0), c.f)


def bioavailable_amounts(doses: Doses, model_f: Value = 1.0) -> np.ndarray:
    """F·amount (mg) of each dose, shaped as :func:`bioavailability`."""
    return bioavailability(doses, model_f) * columns(doses).amount


def lags(doses: Doses, model_lag: Value = 0.0) -> np.ndarray:
    """Lag (h) of each dose: its own ``tlag``, else ``model_lag`` for oral doses, else 0."""
    c = columns(doses)
    model = np.asarray(model_lag, dtype=float)[..., None]
    return np.where(np.isnan(c.tlag), np.where(c.oral, model, 0.0), c.tlag)


def arrival_times(doses: Doses, model_lag: Value = 0.0) -> np.ndarray:
    """When each dose arrives (h): its time plus its lag (:func:`lags`)."""
    return columns(doses).time + lags(doses, model_lag)


def durations(doses: Doses, model_f: Value = 1.0) -> np.ndarray:
    """How long each dose is given over (h): its ``duration``, or F·amount/rate for a fixed
    ``rate``; 0 for a bolus."""
    c = columns(doses)
    amount = bioavailable_amounts(c, model_f)
    fixed_rate = np.nan_to_num(c.rate, nan=0.0)
    return np.where(fixed_rate > 0, amount / np.where(fixed_rate > 0, fixed_rate, 1.0), c.duration)


def infusion_ends(doses: Doses, model_f: Value = 1.0, model_lag: Value = 0.0) -> np.ndarray:
    """When each dose has been given completely (h): arrival + duration (the arrival for a bolus)."""
    return arrival_times(doses, model_lag) + durations(doses, model_f)


def bolus_arrival_times(dose: Dose, model_lag: float = 0.0) -> set[float]:
    """Times (h) at which ``dose`` puts an amount into the body at once: a bolus arriving after
    its lag and, for a steady-state dose, the lagged doses of its pattern still due then (every
    ``interval`` before its own arrival, from its time on). Empty for an infusion or a reset alone."""
    if dose.infusion or (dose.reset and dose.amount == 0):
        return set()
    lag = float(lags((dose,), model_lag)[0])
    times = {dose.time + lag}
    if dose.ss and dose.interval:
        if _open_doses(np.array(dose.interval), np.array(lag), np.array(0.0)) > MAX_DOSES:
            raise PKModelError("interval", dose.interval, f"a steady-state dose whose lag spans at most {MAX_DOSES} intervals")
        k = 1
        while lag - k * dose.interval >= 0:
            times.add(dose.time + lag - k * dose.interval)
            k += 1
    return times


def _worst_case(model: Model, regimen: Regimen) -> tuple[np.ndarray, np.ndarray]:
    """The longest lag (h) and the longest input time (h) any subject gives each dose: the rules
    of :func:`lags` and :func:`durations` with the model's largest lag and F <= 1 (so
    amount/rate bounds a rate dose's duration). One number per dose, whatever the number of
    subjects."""
    top_lag = float(np.max(np.asarray(model.tlag, dtype=float), initial=0.0))
    c = regimen.columns
    with np.errstate(invalid="ignore"):
        length = np.where(np.isnan(c.rate), c.duration, c.amount / c.rate)
    return lags(c, top_lag), length


def latest_time(model: Model, regimen: Regimen) -> float:
    """An upper bound (h) on when anything in ``regimen`` happens in ``model``: the latest
    arrival or infusion end over every subject (F <= 1, so amount/rate bounds a rate dose's
    duration). Cheap: one number per dose, whatever the number of subjects."""
    return _latest(regimen.columns, *_worst_case(model, regimen))


def _latest(c: DoseColumns, lag: np.ndarray, length: np.ndarray) -> float:
    return float(np.max(c.time + lag + length, initial=0.0))


def _open_doses(interval: np.ndarray, lag: np.ndarray, length: np.ndarray) -> np.ndarray:
    """How many earlier doses of a steady-state dose's pattern are still in progress at its time
    (not yet arrived or still infusing): ceil((lag + length) / ii) - 1, per dose."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(np.ceil((lag + length) / interval) - 1, 0)


def _steady(c: DoseColumns) -> np.ndarray:
    """Steady-state doses with their interval (Dose guarantees one for every ss dose)."""
    return (c.ss > 0) & (c.interval > 0)


def event_count(model: Model, regimen: Regimen) -> int:
    """An upper bound on the number of engine events ``regimen`` makes (per subject), without
    building them: one per dose, one more per infusion, and for each steady-state dose its
    state (3), a reset and the events of the doses of its pattern still in progress."""
    c = regimen.columns
    lag, length = _worst_case(model, regimen)
    steady = _steady(c)
    open_doses = np.minimum(_open_doses(c.interval[steady], lag[steady], length[steady]), 1e15)
    return (
        len(c) + int(np.count_nonzero(c.infusion)) + int(np.count_nonzero(c.reset | (c.ss == 1)))
        + int(np.sum(3 + 3 * np.floor(open_doses)))
    )


def check(model: Model, regimen: Regimen) -> None:
    """Refuse a regimen the model cannot take, before any event is built: oral doses without an
    absorption rate constant, infusions too short for a finite rate, steady-state doses whose
    lag and infusion span more than :data:`pkmodel.limits.MAX_DOSES` intervals, or doses (with
    their lags and infusions) beyond :data:`pkmodel.limits.MAX_TIME_H`."""
    c = regimen.columns
    if model.ka is None and bool(np.any(c.oral)):
        raise PKModelError("ka", None, "oral doses need an absorption rate constant ka (1/h) in the model")
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        infinite = (c.duration > 0) & ~np.isfinite(c.amount / np.where(c.duration > 0, c.duration, 1.0))
    if infinite.any():
        i = int(np.argmax(infinite))
        raise PKModelError(
            "duration", float(c.duration[i]),
            f"an infusion of {c.amount[i]:g} mg needs a duration giving a finite rate (mg/h)",
        )
    lag, length = _worst_case(model, regimen)
    steady = np.flatnonzero(_steady(c))
    open_doses = _open_doses(c.interval[steady], lag[steady], length[steady])
    if np.any(open_doses > MAX_DOSES):
        i = int(np.argmax(open_doses > MAX_DOSES))
        raise PKModelError(
            "interval",
            float(c.interval[steady[i]]),
            f"a steady-state dose whose lag and infusion span at most {MAX_DOSES} intervals "
            f"(limits.MAX_DOSES); here {open_doses[i]:.6g}: give a longer interval",
        )
    latest = _latest(c, lag, length)  # latest_time(), from the worst case computed above
    if not latest <= MAX_TIME_H:
        raise PKModelError(
            "regimen",
            f"doses (with their lags and infusions) until {latest:.6g} h",
            f"everything must happen by {MAX_TIME_H:g} h (limits.MAX_TIME_H); shorten the regimen "
            "or give infusions a faster rate",
        )


# --- engine events --------------------------------------------------------------------------------


def regimen_events(model: Model, regimen: Regimen, n_subjects: int, *, checked: bool = False) -> Events:
    """Engine events for ``regimen`` given to each of ``n_subjects`` subjects of ``model``,
    following the rules of the module docstring. Whole columns at once; only steady-state doses
    are visited one by one (each needs its own closed-form state from the engine).
    ``checked``: :func:`check` has passed for this model and regimen already (else it runs
    here)."""
    if not checked:
        check(model, regimen)
    c = regimen.columns
    cmt = _COMPARTMENT_OF_CODE[c.route]
    # Per-subject F or lag make some columns (n_subjects, n_doses) while others stay (n_doses,):
    # give them one shape so that the events of every subject line up.
    start, amount, duration = np.broadcast_arrays(
        arrival_times(c, model.tlag), bioavailable_amounts(c, model.f), durations(c, model.f)
    )
    infusion = c.infusion
    rate = np.where(infusion, amount / np.where(duration > 0, duration, 1.0), 0.0)
    bolus = np.where(infusion, 0.0, amount)
    # An infusion also needs its stop event.
    stop = (start + duration)[..., infusion]
    pieces = [
        _Columns(
            time=np.concatenate([start, stop], axis=-1),
            cmt=np.concatenate([cmt, cmt[infusion]]),
            amount=np.concatenate([bolus, np.zeros_like(bolus[..., infusion])], axis=-1),
            rate=np.concatenate([rate, -rate[..., infusion]], axis=-1),
            origin=np.concatenate([c.time, c.time[infusion]]),
            reset=np.zeros(len(c) + int(infusion.sum()), dtype=bool),
        )
    ]
    resets = c.reset | (c.ss == 1)
    # Events in the order dose by dose would give them (a dose's reset, then its steady state), so
    # that events at one time reach the engine in the same order.
    if not np.any(c.ss):
        pieces.append(_Columns.resets(c.time[resets]))
    for i in np.flatnonzero(resets | (c.ss > 0)) if np.any(c.ss) else ():
        if resets[i]:
            pieces.append(_Columns.resets(c.time[i : i + 1]))
        if c.ss[i]:
            t = float(c.time[i])
            pieces.append(
                _steady_state_events(model, c.dose(int(i)), n_subjects, amount[..., i], start[..., i] - t, duration[..., i])
            )
    return _Columns.join(pieces).without_reset_past(c.time[resets]).events(n_subjects)


@dataclass(frozen=True)
class _Columns:
    """Event columns before sorting: time (h), cmt, amount (mg), rate change (mg/h), the nominal
    time of the dose that caused the event, and the reset flag. Arrays are (n_events,) or, for
    per-subject values, (n_subjects, n_events)."""

    time: np.ndarray
    cmt: np.ndarray
    amount: np.ndarray
    rate: np.ndarray
    origin: np.ndarray
    reset: np.ndarray

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

    @classmethod
    def resets(cls, times: np.ndarray) -> _Columns:
        """A reset event at each of ``times`` (h)."""
        n = len(times)
        return cls(times, np.full(n, CENTRAL), np.zeros(n), np.zeros(n), times, np.ones(n, dtype=bool))

    def without_reset_past(self, resets: np.ndarray) -> _Columns:
        """Drop what a dose would still cause at or after a later reset (at one of the sorted
        ``resets``, h): an event is dropped when a reset falls after its dose's time and at or
        before the event, for every subject. The first reset after the dose decides."""
        if not len(resets):
            return self
        first_after = np.searchsorted(resets, self.origin, side="right")
        nxt = np.append(resets, np.inf)[first_after]
        keep = ~(nxt <= np.min(np.atleast_2d(self.time), axis=0))
        if keep.all():
            return self
        return _Columns(*(a[..., keep] for a in self._arrays()))

    @classmethod
    def join(cls, pieces: Sequence[_Columns]) -> _Columns:
        """The events of ``pieces`` one after the other; per-subject columns widen shared ones."""
        if len(pieces) == 1:
            return pieces[0]
        joined = []
        for arrays in zip(*(p._arrays() for p in pieces), strict=True):
            if len({a.ndim for a in arrays}) > 1:
                rows = max(a.shape[0] for a in arrays if a.ndim == 2)
                arrays = tuple(np.broadcast_to(a, (rows, a.shape[-1])) for a in arrays)
            joined.append(np.concatenate(arrays, axis=-1))
        return cls(*joined)

    def events(self, n: int) -> Events:
        """Sorted engine events; a reset goes before everything else at its time."""
        reset = self.reset if np.any(self.reset) else None
        if self.time.ndim == 1:
            order = np.lexsort((~self.reset, self.time))
            return Events(
                time=self.time[order],
                cmt=self.cmt[order],
                amount=self.amount[..., order],
                rate=self.rate[..., order],
                reset=None if reset is None else reset[order],
            )
        shape = (n, self.time.shape[-1])
        order = np.lexsort((np.broadcast_to(~self.reset, shape), self.time))

        def take(a: np.ndarray) -> np.ndarray:
            return np.take_along_axis(np.broadcast_to(a, shape), order, axis=1)

        return Events(
            time=take(self.time),
            cmt=take(self.cmt),
            amount=take(self.amount),
            rate=take(self.rate),
            reset=None if reset is None else take(reset),
        )


def _steady_state_events(
    model: Model, dose: Dose, n: int, amount: np.ndarray, lag: np.ndarray, duration: np.ndarray
) -> _Columns:
    """The steady state of ``dose`` repeated every ``dose.interval`` as events at the dose time: its
    amounts in each compartment, then what earlier doses of the pattern still owe."""
    assert dose.interval is not None  # Dose guarantees ii for ss doses
    kin = model.kinetics(n)
    cmt = COMPARTMENT[dose.route]
    sources = tuple(sorted({cmt, CENTRAL} | ({PERIPHERAL} if np.any(kin.k12 > 0) else set())))
    ss = steady_state(
        kin,
        sources,
        cmt=cmt,
        amount=np.broadcast_to(amount, (n,)),
        tau=dose.interval,
        lag=np.broadcast_to(lag, (n,)),
        duration=np.broadcast_to(duration, (n,)),
    )
    rows = [(0.0, c, ss.state[c], 0.0) for c in range(3)] + list(ss.pending)
    times = np.stack([np.broadcast_to(dose.time + np.asarray(r[0], dtype=float), (n,)) for r in rows], axis=-1)
    return _Columns(
        time=times[0] if np.all(times == times[0]) else times,
        cmt=np.array([r[1] for r in rows]),
        amount=np.stack([np.broadcast_to(np.asarray(r[2], dtype=float), (n,)) for r in rows], axis=-1),
        rate=np.stack([np.broadcast_to(np.asarray(r[3], dtype=float), (n,)) for r in rows], axis=-1),
        origin=np.full(len(rows), dose.time),
        reset=np.zeros(len(rows), dtype=bool),
    )
