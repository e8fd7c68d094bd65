"""The front door: ``simulate(model, regimen, times)`` -> :class:`Simulation`.

Turns friendly inputs into engine calls and wraps the arrays. Concentrations are kept as one
array (n_subjects, n_times); the tidy DataFrame and the per-compartment amounts are built only
when asked for, so a population of 10,000 subjects stays a 2-D array.

Units: time h, concentration mg/L (= µg/mL), amount mg, AUC mg·h/L.

PREDPP-style conventions: F scales the amount of oral doses and the lag time delays them (IV
doses are complete and immediate); values are right-continuous, so an output at a bolus time
includes the bolus, and troughs are left limits (just before the dose).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import pandas as pd

from pkmodel import exposure
from pkmodel.engine.analytic import CENTRAL, DEPOT, PERIPHERAL, Events, Kinetics, evaluate
from pkmodel.engine.steady import steady_state
from pkmodel.errors import PKModelError
from pkmodel.label import LabelRules, load_label_rules
from pkmodel.label import check_label as warn_label
from pkmodel.model import Model
from pkmodel.params import data_dir
from pkmodel.patients import Patient, PopulationFactors, apply_patient, load_population_factors
from pkmodel.regimen import Regimen
from pkmodel.units import parse_quantity

_CMT = {"iv": CENTRAL, "oral": DEPOT, "peripheral": PERIPHERAL}
_COMPARTMENTS = {DEPOT: "depot", CENTRAL: "central", PERIPHERAL: "peripheral"}
# Grid steps a default time grid chooses from (h): readable numbers that divide common intervals.
_NICE_STEPS = (1 / 60, 1 / 30, 1 / 12, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def regimen_events(model: Model, regimen: Regimen, n_subjects: int) -> Events:
    """Engine events for ``regimen`` given to each of ``n_subjects`` subjects of ``model``.

    PREDPP rules, one per line:
    - Oral doses go to the depot, IV doses to the central compartment, "peripheral" to the
      peripheral one.
    - F (the dose's own ``f``, else the model's F for oral doses, else 1) scales the amount.
    - The lag (the dose's own ``lag``, else the model's lag for oral doses, else 0) shifts the
      dose time; per-subject F and lag (arrays) give per-subject events.
    - A dose with a duration is a zero-order input: +F·amount/duration at its start, the opposite
      at its end. A dose with a rate keeps its rate and lasts F·amount/rate (RATE > 0 with F != 1).
    - ``reset`` empties every compartment and stops every infusion just before the dose; events
      that earlier doses would still cause at or after that time (a lagged dose not yet absorbed,
      the end of an infusion) are dropped with it.
    - ``ss`` adds the closed-form steady state of the dose repeated every ``ii`` (after a reset
      when ss = 1), with the events the earlier doses of that pattern still owe.
    """
    doses = regimen.doses
    oral = np.array([d.route == "oral" for d in doses])
    if oral.any() and model.ka is None:
        raise PKModelError("ka", None, "oral doses need an absorption rate constant ka (1/h) in the model")
    nominal = np.array([d.time for d in doses])
    cmt = np.array([_CMT[d.route] for d in doses])
    # Per-subject F and lag (model arrays) become per-subject columns; scalars keep events shared.
    model_f = np.asarray(model.f, dtype=float)[..., None]
    model_lag = np.asarray(model.tlag, dtype=float)[..., None]
    own_f = np.array([np.nan if d.f is None else d.f for d in doses])
    own_lag = np.array([np.nan if d.lag is None else d.lag for d in doses])
    f = np.where(np.isnan(own_f), np.where(oral, model_f, 1.0), own_f)
    start = nominal + np.where(np.isnan(own_lag), np.where(oral, model_lag, 0.0), own_lag)
    amount = np.array([d.amount for d in doses]) * f
    fixed_rate = np.array([d.rate or 0.0 for d in doses])
    duration = np.where(fixed_rate > 0, amount / np.where(fixed_rate > 0, fixed_rate, 1.0), [d.duration for d in doses])
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
        def join(a, b):
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

        def take(a):
            return np.take_along_axis(np.broadcast_to(a, shape), order, axis=1)

        return Events(
            time=take(self.time),
            cmt=take(self.cmt),
            amount=take(self.amount),
            rate=take(self.rate),
            reset=None if reset is None else take(reset),
        )


def _steady_state_events(model: Model, dose, n: int, amount, lag, duration) -> _Columns:
    """The steady state of ``dose`` repeated every ``dose.ii`` as events at the dose time: its
    amounts in each compartment, then what earlier doses of the pattern still owe."""
    kin = model.kinetics(n)
    cmt = _CMT[dose.route]
    sources = tuple(sorted({cmt, CENTRAL} | ({PERIPHERAL} if np.any(kin.k12 > 0) else set())))
    ss = steady_state(
        kin,
        sources,
        cmt=cmt,
        amount=np.broadcast_to(amount, (n,)),
        tau=dose.ii,
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


def default_times(model: Model, regimen: Regimen) -> np.ndarray:
    """A grid from 0 through the regimen plus a washout of 5 terminal half-lives (median
    subject), with a step that resolves absorption and distribution (about a tenth of the
    fastest time scale), and every bolus and infusion end added so that peaks are on it.
    """
    scales = [float(np.median(model.t_half_alpha))]
    if model.ka is not None and "oral" in regimen.routes:
        scales.append(float(np.median(np.log(2) / np.asarray(model.ka))))
    if regimen.interval is not None:
        scales.append(regimen.interval)
    scales += [d.duration for d in regimen.doses if d.duration > 0]
    end = regimen.end + float(np.max(model.tlag)) + 5 * float(np.median(model.t_half_beta))
    end = float(np.ceil(end))
    step = max([s for s in _NICE_STEPS if s <= min(scales) / 10] or [_NICE_STEPS[0]])
    grid = np.arange(0.0, end + step / 2, step)
    peaks = [d.time + d.duration for d in regimen.doses if d.route == "iv"]
    grid = np.union1d(np.round(grid, 10), peaks)
    return grid


def _times(times: Any) -> np.ndarray:
    if isinstance(times, str):
        raise PKModelError("times", times, "expected a sequence of times in h (numbers or strings such as '12 h')")
    arr = np.atleast_1d(np.asarray(times, dtype=object if _has_strings(times) else float))
    if arr.dtype == object:
        arr = np.array(
            [parse_quantity(t, "time", field="times") if isinstance(t, str) else t for t in arr], dtype=float
        )
    if arr.ndim != 1 or arr.size == 0:
        raise PKModelError("times", times, "expected a non-empty 1-D sequence of times (h)")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = arr[~(np.isfinite(arr) & (arr >= 0))][0]
        raise PKModelError("times", float(bad), "times must be finite and >= 0 h")
    if np.any(np.diff(arr) < 0):
        i = int(np.argmax(np.diff(arr) < 0))
        raise PKModelError("times", f"{arr[i]} then {arr[i + 1]}", "times must be sorted in increasing order")
    return arr


def _has_strings(times: Any) -> bool:
    return not isinstance(times, np.ndarray) and any(
        isinstance(t, str) for t in np.atleast_1d(np.asarray(times, dtype=object))
    )


class Simulation:
    """Result of :func:`simulate`.

    Attributes: ``model``, ``regimen``, ``times`` (h, shape (n_times,)), ``concentration``
    (mg/L, shape (n_subjects, n_times); one row for a single subject), ``n_subjects``.
    """

    def __init__(self, model: Model, regimen: Regimen, times: np.ndarray, *, method: str = "auto") -> None:
        self.model = model
        self.regimen = regimen
        self.times = times
        self.n_subjects = model.n_subjects or 1
        self._kin = model.kinetics(self.n_subjects)
        self._events = regimen_events(model, regimen, self.n_subjects)
        self._conc_weights = _weights(model, self.n_subjects)
        self.concentration = evaluate(self._kin, self._events, times, self._conc_weights, method=method)

    def __repr__(self) -> str:
        who = f"{self.n_subjects} subjects" if self.n_subjects > 1 else "1 subject"
        span = f"{len(self.times)} times from {self.times[0]:g} to {self.times[-1]:g} h"
        return f"<Simulation: {self.regimen}; {who}; {span}>"

    # --- exact values anywhere ---------------------------------------------------------------

    def at(self, times: Any, *, left: bool = False) -> np.ndarray:
        """Concentrations (mg/L) at any sorted times (h): (n_subjects, n_times). ``left=True``
        gives the value just before a dose given at exactly that time."""
        return evaluate(self._kin, self._events, _times(times), self._conc_weights, left=left)

    def auc(self, start: Any = 0.0, end: Any = None) -> np.ndarray:
        """Exact AUC of the concentration from ``start`` to ``end`` (h; default: the last output
        time), mg·h/L, per subject: the integral of the closed form, not a trapezoid sum."""
        t = _times([start, self.times[-1] if end is None else end])
        cumulative = evaluate(self._kin, self._events, t, self._conc_weights, integral=True)
        return cumulative[:, 1] - cumulative[:, 0]

    def amounts(self) -> np.ndarray:
        """Amounts (mg) in depot, central and peripheral: (n_subjects, 3, n_times)."""
        return np.stack(
            [
                evaluate(self._kin, self._events, self.times, _weights(self.model, self.n_subjects, c))
                for c in (DEPOT, CENTRAL, PERIPHERAL)
            ],
            axis=1,
        )

    # --- tables ------------------------------------------------------------------------------

    @cached_property
    def data(self) -> pd.DataFrame:
        """Tidy table: ``time_h``, ``conc_mg_L``, ``<compartment>_mg`` for each compartment the
        model has (depot only with oral doses), and ``subject`` when there are several."""
        n, t = self.n_subjects, len(self.times)
        amounts = self.amounts()
        columns: dict[str, np.ndarray] = {}
        if n > 1:
            columns["subject"] = np.repeat(np.arange(n), t)
        columns["time_h"] = np.tile(self.times, n)
        columns["conc_mg_L"] = self.concentration.ravel()
        for c, name in _COMPARTMENTS.items():
            if c == DEPOT and "oral" not in self.regimen.routes:
                continue
            if c == PERIPHERAL and self.model.n_compartments == 1:
                continue
            columns[f"{name}_mg"] = amounts[:, c, :].ravel()
        return pd.DataFrame(columns)

    def peak(self) -> tuple[np.ndarray, np.ndarray]:
        """(Cmax in mg/L, Tmax in h) per subject, refined on the exact curve (no other metric)."""
        return exposure.peak(self._exposure_inputs())

    def summary(self) -> pd.DataFrame:
        """Exposure metrics per subject (one row each); see :func:`pkmodel.exposure.summarise`."""
        return exposure.summarise(self._exposure_inputs())

    def _exposure_inputs(self) -> exposure.Inputs:
        def value(
            subjects: np.ndarray, t: np.ndarray, *, integral: bool = False, left: bool = False, single: bool = False
        ):
            kin = Kinetics(*(x[subjects] for x in (self._kin.ka, self._kin.k10, self._kin.k12, self._kin.k21)))
            regimen = first_period if single else self.regimen
            sub_model = _subset(self.model, subjects)
            events = regimen_events(sub_model, regimen, len(subjects))
            w = self._conc_weights[:, subjects]
            return evaluate(kin, events, np.asarray(t, dtype=float)[:, None], w, integral=integral, left=left)[:, 0]

        regimen = self.regimen
        last = regimen.last_period()
        period = None if last is None else (float(regimen.dose_times[0]), last[0], regimen.interval)
        tau = regimen.interval or np.inf
        first_period = Regimen(tuple(d for d in regimen.doses if d.time < regimen.doses[0].time + tau))
        in_last = tuple(d for d in regimen.doses if last is not None and d.time >= last[0])
        return exposure.Inputs(
            times=self.times,
            concentration=self.concentration,
            value=value,
            dose_times=regimen.dose_times,
            period=period,
            steady_exposure=_exposure(self.model, in_last or regimen.doses[:1], self.n_subjects),
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Concentration-time plot (see :func:`pkmodel.plot.concentration_time`)."""
        from pkmodel.plot import concentration_time

        return concentration_time(self, ax=ax, **kwargs)


def _weights(model: Model, n: int, compartment: int | None = None) -> np.ndarray:
    """Observation weights: a compartment's amount (mg), or by default the central
    concentration (mg/L: the central amount divided by V1)."""
    w = np.zeros((3, n))
    if compartment is None:
        w[CENTRAL] = 1.0 / np.broadcast_to(np.asarray(model.v1, dtype=float), (n,))
    else:
        w[compartment] = 1.0
    return w


def _subset(model: Model, subjects: np.ndarray) -> Model:
    changes = {k: np.asarray(v)[subjects] for k, v in model._arrays().items() if v is not None and np.ndim(v) == 1}
    return model.replace(**changes) if changes else model


def _exposure(model: Model, doses: tuple, n: int) -> np.ndarray:
    """AUC from 0 to infinity of ``doses`` (mg·h/L per subject): sum of F·amount / CL, which for
    linear kinetics is also their AUC over one period at steady state."""
    f = np.asarray(model.f, dtype=float)
    total = sum((f if d.route == "oral" else 1.0) * d.amount for d in doses)
    return np.broadcast_to(total / np.asarray(model.cl, dtype=float), (n,)).copy()


def _label(path: str) -> tuple[LabelRules, PopulationFactors]:
    """The label rules and population factors of a label file, read once per version of it."""
    return _read_label(path, os.stat(path).st_mtime_ns)


@lru_cache(maxsize=8)
def _read_label(path: str, version: int) -> tuple[LabelRules, PopulationFactors]:
    return load_label_rules(path), load_population_factors(path)


def simulate(
    model: Model,
    regimen: Regimen,
    times: Sequence[float] | np.ndarray | None = None,
    *,
    patient: Patient | None = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
) -> Simulation:
    """Simulate ``regimen`` in ``model``; the one front door of pkmodel.

    ``model``: a :class:`Model` (array parameters give one subject per element);
    ``regimen``: a :class:`Regimen`; ``times``: sorted output times in h (numbers, or strings
    such as "12 h"), by default :func:`default_times`. ``patient``: a
    :class:`pkmodel.patients.Patient` whose renal and hepatic function scale the clearance
    (``factors``: the population factors, by default those of the model's label file). When
    the model has a label (``model.label``, e.g. the shipped mildronate model), every label rule
    the patient or the regimen meets issues a :class:`pkmodel.label.LabelWarning`;
    ``check_label=False`` skips that for regimens that are not prescriptions (published study
    doses to match, trial doses while searching). Returns a :class:`Simulation` whose
    ``concentration`` is in mg/L.
    """
    if not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "expected a pkmodel.Model")
    if not isinstance(regimen, Regimen):
        raise PKModelError("regimen", type(regimen).__name__, "expected a pkmodel.Regimen")
    label = None if model.label is None else _label(str(data_dir() / f"{model.label}.toml"))
    if patient is not None:
        if factors is None and label is None:
            raise PKModelError(
                "factors", None, "this model has no label file: give population factors (load_population_factors(path))"
            )
        factors = factors or label[1]
        model = apply_patient(model, patient, factors)
    if label is not None and check_label:
        warn_label(patient, regimen, rules=label[0], factors=factors, stacklevel=3)
    grid = default_times(model, regimen) if times is None else _times(times)
    return Simulation(model, regimen, grid, method=method)
