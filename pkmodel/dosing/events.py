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

from pkmodel.dosing.dose import Dose
from pkmodel.dosing.regimen import Regimen
from pkmodel.engine.analytic import CENTRAL, DEPOT, PERIPHERAL, Events
from pkmodel.engine.steady import steady_state
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_DOSES, MAX_TIME_H
from pkmodel.model import Model

COMPARTMENT = {"iv": CENTRAL, "oral": DEPOT, "peripheral": PERIPHERAL}

Value = float | np.ndarray


# --- the rules, dose by dose ---------------------------------------------------------------------


def bioavailability(doses: Sequence[Dose], model_f: Value = 1.0) -> np.ndarray:
    """F of each dose: its own ``f``, else ``model_f`` (the model's F, scalar or per subject)
    for oral doses, else 1. Shape (n_doses,), or (n_subjects, n_doses) for per-subject F."""
    oral = np.array([d.route == "oral" for d in doses], dtype=bool)
    own = np.array([np.nan if d.f is None else d.f for d in doses], dtype=float)
    model = np.asarray(model_f, dtype=float)[..., None]
    return np.where(np.isnan(own), np.where(oral, model, 1.0), own)


def bioavailable_amounts(doses: Sequence[Dose], model_f: Value = 1.0) -> np.ndarray:
    """F·amount (mg) of each dose, shaped as :func:`bioavailability`."""
    return bioavailability(doses, model_f) * np.array([d.amount for d in doses], dtype=float)


def lags(doses: Sequence[Dose], model_lag: Value = 0.0) -> np.ndarray:
    """Lag (h) of each dose: its own ``tlag``, else ``model_lag`` for oral doses, else 0."""
    oral = np.array([d.route == "oral" for d in doses], dtype=bool)
    own = np.array([np.nan if d.tlag is None else d.tlag for d in doses], dtype=float)
    model = np.asarray(model_lag, dtype=float)[..., None]
    return np.where(np.isnan(own), np.where(oral, model, 0.0), own)


def arrival_times(doses: Sequence[Dose], model_lag: Value = 0.0) -> np.ndarray:
    """When each dose arrives (h): its time plus its lag (:func:`lags`)."""
    return np.array([d.time for d in doses], dtype=float) + lags(doses, model_lag)


def durations(doses: Sequence[Dose], model_f: Value = 1.0) -> np.ndarray:
    """How long each dose is given over (h): its ``duration``, or F·amount/rate for a fixed
    ``rate``; 0 for a bolus."""
    amount = bioavailable_amounts(doses, model_f)
    fixed_rate = np.array([d.rate or 0.0 for d in doses], dtype=float)
    given = np.array([d.duration for d in doses], dtype=float)
    return np.where(fixed_rate > 0, amount / np.where(fixed_rate > 0, fixed_rate, 1.0), given)


def infusion_ends(doses: Sequence[Dose], model_f: Value = 1.0, model_lag: Value = 0.0) -> np.ndarray:
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
        if _open_doses(dose, lag, 0.0) > MAX_DOSES:
            raise PKModelError("interval", dose.interval, f"a steady-state dose whose lag spans at most {MAX_DOSES} intervals")
        k = 1
        while lag - k * dose.interval >= 0:
            times.add(dose.time + lag - k * dose.interval)
            k += 1
    return times


def _worst_case(model: Model, regimen: Regimen) -> list[tuple[Dose, float, float]]:
    """Each dose with the longest lag (h) and the longest input time (h) any subject gives it:
    the rules of :func:`lags` and :func:`durations` with the model's largest lag and F <= 1
    (so amount/rate bounds a rate dose's duration). Scalars, whatever the number of subjects."""
    top_lag = float(np.max(np.asarray(model.tlag, dtype=float), initial=0.0))
    return [
        (d, float(lags((d,), top_lag)[0]), d.amount / d.rate if d.rate else d.duration) for d in regimen.doses
    ]


def latest_time(model: Model, regimen: Regimen) -> float:
    """An upper bound (h) on when anything in ``regimen`` happens in ``model``: the latest
    arrival or infusion end over every subject (F <= 1, so amount/rate bounds a rate dose's
    duration). Cheap: scalars per dose, whatever the number of subjects."""
    return max((d.time + lag + length for d, lag, length in _worst_case(model, regimen)), default=0.0)


def _open_doses(dose: Dose, lag: float, length: float) -> float:
    """How many earlier doses of a steady-state dose's pattern are still in progress at its time
    (not yet arrived or still infusing): ceil((lag + length) / ii) - 1."""
    assert dose.interval is not None
    return float(max(np.ceil((lag + length) / dose.interval) - 1, 0))


def event_count(model: Model, regimen: Regimen) -> int:
    """An upper bound on the number of engine events ``regimen`` makes (per subject), without
    building them: one per dose, one more per infusion, and for each steady-state dose its
    state (3), a reset and the events of the doses of its pattern still in progress."""
    count = 0
    for d, lag, length in _worst_case(model, regimen):
        count += 2 if d.infusion else 1
        if d.reset or d.ss == 1:
            count += 1
        if d.ss and d.interval:
            count += 3 + 3 * int(min(_open_doses(d, lag, length), 1e15))
    return count


def check(model: Model, regimen: Regimen) -> None:
    """Refuse a regimen the model cannot take, before any event is built: oral doses without an
    absorption rate constant, infusions too short for a finite rate, steady-state doses whose
    lag and infusion span more than :data:`pkmodel.limits.MAX_DOSES` intervals, or doses (with
    their lags and infusions) beyond :data:`pkmodel.limits.MAX_TIME_H`."""
    if model.ka is None and any(d.route == "oral" for d in regimen.doses):
        raise PKModelError("ka", None, "oral doses need an absorption rate constant ka (1/h) in the model")
    for d in regimen.doses:
        if d.duration > 0 and not np.isfinite(d.amount / d.duration):
            raise PKModelError(
                "duration", d.duration, f"an infusion of {d.amount:g} mg needs a duration giving a finite rate (mg/h)"
            )
    for d, lag, length in _worst_case(model, regimen):
        if d.ss and d.interval:
            open_doses = _open_doses(d, lag, length)
            if open_doses > MAX_DOSES:
                raise PKModelError(
                    "interval",
                    d.interval,
                    f"a steady-state dose whose lag and infusion span at most {MAX_DOSES} intervals "
                    f"(limits.MAX_DOSES); here {open_doses:.6g}: give a longer interval",
                )
    latest = latest_time(model, regimen)
    if not latest <= MAX_TIME_H:
        raise PKModelError(
            "regimen",
            f"doses (with their lags and infusions) until {latest:.6g} h",
            f"everything must happen by {MAX_TIME_H:g} h (limits.MAX_TIME_H); shorten the regimen "
            "or give infusions a faster rate",
        )


# --- engine events --------------------------------------------------------------------------------


def regimen_events(model: Model, regimen: Regimen, n_subjects: int) -> Events:
    """Engine events for ``regimen`` given to each of ``n_subjects`` subjects of ``model``,
    following the rules of the module docstring."""
    check(model, regimen)
    doses = regimen.doses
    nominal = np.array([d.time for d in doses])
    cmt = np.array([COMPARTMENT[d.route] for d in doses])
    start = arrival_times(doses, model.tlag)
    amount = bioavailable_amounts(doses, model.f)
    duration = durations(doses, model.f)
    infusion = np.array([d.infusion for d in doses])
    rate = np.where(infusion, amount / np.where(duration > 0, duration, 1.0), 0.0)
    bolus = np.where(infusion, 0.0, amount)
    # An infusion also needs its stop event.
    stop = (start + duration)[..., infusion]
    columns = _Columns(
        time=np.concatenate([start, stop], axis=-1),
        cmt=np.concatenate([cmt, cmt[infusion]]),
        amount=np.concatenate([bolus, np.zeros_like(bolus[..., infusion])], axis=-1),
        rate=np.concatenate([rate, -rate[..., infusion]], axis=-1),
        origin=np.concatenate([nominal, nominal[infusion]]),
        reset=np.zeros(len(nominal) + int(infusion.sum()), dtype=bool),
    )
    for i, dose in enumerate(doses):
        if dose.reset or dose.ss == 1:
            columns = columns.reset_at(dose.time)
        if dose.ss:
            columns = columns.plus(
                _steady_state_events(
                    model, dose, n_subjects, amount[..., i], start[..., i] - dose.time, duration[..., i]
                )
            )
    return columns.events(n_subjects)


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

    def reset_at(self, t: float) -> _Columns:
        """Drop what earlier doses would still cause at or after ``t`` and add a reset event."""
        keep = ~((self.origin < t) & np.all(np.atleast_2d(self.time) >= t, axis=0))
        kept = _Columns(*(c[..., keep] for c in dataclasses.astuple(self)))
        return kept.plus(_Columns(*(np.array(v) for v in ([t], [CENTRAL], [0.0], [0.0], [t], [True]))))

    def plus(self, other: _Columns) -> _Columns:
        def join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            if a.ndim == b.ndim:
                return np.concatenate([a, b], axis=-1)
            rows = max(a.shape[0] if a.ndim == 2 else 1, b.shape[0] if b.ndim == 2 else 1)
            return np.concatenate(
                [np.broadcast_to(a, (rows, a.shape[-1])), np.broadcast_to(b, (rows, b.shape[-1]))], axis=-1
            )

        return _Columns(
            *(join(a, b) for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True))
        )

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
