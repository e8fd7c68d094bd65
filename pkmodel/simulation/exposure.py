"""Exposure metrics of a simulated regimen, from the closed form rather than from the grid.

The metrics describe the simulated window, the output times from first to last: nothing is
reported about doses or intervals outside it (a 14-day regimen simulated for 1 day reports the
trough and the interval of that day). Definitions (per subject; times h, concentrations mg/L,
AUC mg·h/L). A regimen's *period* is its dosing interval tau (24 h for doses at clock times each
day); the last period is the last full interval inside the window: it ends with the last dose
whose following interval ends by the last output time, and starts at the earliest dose within
one interval before that dose (for a window covering the whole regimen, the last period of
:meth:`pkmodel.dosing.regimen.Regimen.last_period`).
    cmax, tmax      highest concentration and its time: the grid maximum refined on the exact curve
                    (Newton on C' = 0 inside the grid step, so a peak between grid points is not
                    missed).
    cmin            trough: concentration just before the last dose inside the window (left
                    limit), not counting the regimen's first dose. NaN when there is none.
    auc             exact AUC from the first to the last output time.
    auc_tau         exact AUC over the last period.
    cavg            auc_tau / tau, the average concentration over the last period.
    cavg_ss         average concentration at steady state of the last period's doses,
                    F·(amount per period) / (CL·tau), with each dose's own F (see
                    :mod:`pkmodel.dosing.events`).
    accumulation    AUC over a period at steady state / AUC over the first period. For linear
                    kinetics the steady-state period AUC equals the AUC from 0 to infinity of one
                    period's doses, F·amount/CL, so no simulation to steady state is needed.
    t90ss_h         time from the first dose until the period AUC reaches 90 % of its steady-state
                    value, i.e. until the AUC from 0 to t of the first period's doses alone reaches
                    90 % of its total (superposition: under repeated dosing the AUC of the period
                    ending at t equals that single-period AUC from 0 to t). Like accumulation it
                    is a property of the dosing pattern and may lie beyond the window.
The period metrics (auc_tau, cavg, cavg_ss, accumulation, t90ss_h) are NaN for a regimen without
a regular interval, or when no full period lies inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pkmodel.dosing import events
from pkmodel.dosing.columns import DoseColumns
from pkmodel.dosing.events import regimen_events
from pkmodel.dosing.regimen import Regimen
from pkmodel.engine.curve import Curve
from pkmodel.model import Model

if TYPE_CHECKING:
    import pandas as pd

# Grid rows per block when the maxima are taken over a time-major (subject-strided) matrix.
_ROWS_PER_BLOCK = 64


@dataclass(frozen=True)
class Inputs:
    """What the metrics need from a simulation.

    ``curve``: the concentration (mg/L) of every subject under the whole regimen, and
    ``first_period``: under its first period's doses alone, each queried at per-subject times
    (:class:`pkmodel.engine.curve.Curve`). ``concentration``: the concentration on the grid
    ``times`` (h), (n_subjects, n_times).
    ``period`` is (start of the first period, start of the last period, tau) in h, or None;
    ``steady_exposure`` the AUC over one period at steady state per subject (mg·h/L);
    ``trough_time`` the dose time (h) whose left limit is the trough, or None.
    """

    times: np.ndarray
    concentration: np.ndarray
    curve: Curve
    first_period: Curve | None
    dose_times: np.ndarray
    period: tuple[float, float, float] | None
    steady_exposure: np.ndarray
    trough_time: float | None = None


def inputs(model: Model, regimen: Regimen, times: np.ndarray, concentration: np.ndarray, curve: Curve) -> Inputs:
    """The :class:`Inputs` of a simulation of ``regimen`` in ``model`` on ``times`` (h), whose
    concentration (mg/L) on that grid is ``concentration`` and everywhere ``curve``."""
    n = concentration.shape[0]
    start, end = float(times[0]), float(times[-1])
    dose_times = regimen.dose_times
    window = _last_full_period(regimen, start, end)
    period = None if window is None else (float(dose_times[0]), window[0], window[1])
    first_period = None
    if period is not None:
        tau = period[2]
        doses = Regimen(regimen.columns.take(dose_times < dose_times[0] + tau))
        first_period = Curve(curve.kin, regimen_events(model, doses, n), curve.weights)
    # The trough is taken before the last dose inside the window (not before the first dose).
    later = dose_times[(dose_times > max(start, dose_times[0])) & (dose_times <= end)]
    # Whole columns, not Dose values: a regimen may hold limits.MAX_DOSES doses.
    in_last = (
        regimen.columns.take((dose_times >= window[0]) & (dose_times < window[0] + window[1]))
        if window is not None
        else regimen.columns.take(slice(0, 0))
    )
    return Inputs(
        times=times,
        concentration=concentration,
        curve=curve,
        first_period=first_period,
        dose_times=dose_times,
        period=period,
        steady_exposure=_exposure(model, in_last if len(in_last) else regimen.columns.take(slice(0, 1)), n),
        trough_time=float(later[-1]) if later.size else None,
    )


def _last_full_period(regimen: Regimen, start: float, end: float) -> tuple[float, float] | None:
    """(start, tau) in h of the last full period of ``regimen`` inside the window [start, end]:
    the last dose whose following interval ends within the window gives the period's end, which
    starts at the earliest dose within one interval before it (as :meth:`Regimen.last_period`
    does for the whole regimen). None without an interval or without a full period inside."""
    tau = regimen.interval
    if tau is None:
        return None
    dose_times = regimen.dose_times
    # A rounding residue must not push a period that ends exactly at the last output time out.
    slack = 1e-9 * max(1.0, end)
    fits = dose_times[(dose_times >= start) & (dose_times + tau <= end + slack)]
    if fits.size == 0:
        return None
    last = fits[-1]
    first = float(dose_times[(dose_times > last - tau) & (dose_times >= start)].min())
    return first, float(tau)


def _exposure(model: Model, doses: DoseColumns, n: int) -> np.ndarray:
    """AUC from 0 to infinity of ``doses`` (mg·h/L per subject): sum of F·amount / CL, which for
    linear kinetics is also their AUC over one period at steady state."""
    total = events.bioavailable_amounts(doses, model.f).sum(axis=-1)
    return np.broadcast_to(total / np.asarray(model.cl, dtype=float), (n,)).copy()


def metrics(inp: Inputs) -> dict[str, np.ndarray]:
    """The metrics of the module docstring, in their order, each one value per subject
    (n_subjects,); without pandas (the command line prints them without loading it)."""
    n = inp.concentration.shape[0]
    cmax, tmax = peak(inp)
    curve = inp.curve

    def auc(a: float, b: float) -> np.ndarray:
        return curve.integral(np.full(n, a), np.full(n, b))

    def nan() -> np.ndarray:  # an array of its own for each metric: the caller may write in one
        return np.full(n, np.nan)

    cmin = nan() if inp.trough_time is None else curve.value(np.full(n, inp.trough_time), left=True)
    table = {
        "cmax_mg_L": cmax,
        "tmax_h": tmax,
        "cmin_mg_L": cmin,
        "auc_mg_h_L": auc(inp.times[0], inp.times[-1]),
    }
    if inp.period is not None:
        first, last, tau = inp.period
        # A metric beyond the float range is honestly inf (cavg_ss = F·dose/(CL·tau) or the
        # accumulation ~ 1/(k·tau) for a tiny k·tau, whose first-period AUC underflows to 0),
        # not a warning.
        with np.errstate(over="ignore", divide="ignore"):
            auc_tau = auc(last, last + tau)
            table.update(
                auc_tau_mg_h_L=auc_tau,
                cavg_mg_L=auc_tau / tau,
                cavg_ss_mg_L=inp.steady_exposure / tau,
                accumulation=inp.steady_exposure / auc(first, first + tau),
                t90ss_h=time_to_fraction_of_steady_state(inp, 0.9),
            )
    else:
        table.update(auc_tau_mg_h_L=nan(), cavg_mg_L=nan(), cavg_ss_mg_L=nan(), accumulation=nan(), t90ss_h=nan())
    return table


def frame(table: dict[str, np.ndarray]) -> pd.DataFrame:
    """The :func:`metrics` of ``n`` subjects as a DataFrame: one row per subject (index
    ``subject``, 0 to n - 1), one column per metric in the same order."""
    import pandas as pd

    n = len(next(iter(table.values())))
    return pd.DataFrame(table, index=pd.RangeIndex(n, name="subject"))


def summarise(inp: Inputs) -> pd.DataFrame:
    """One row per subject with the metrics of the module docstring (:func:`metrics` as a
    DataFrame)."""
    return frame(metrics(inp))


def grid_argmax(conc: np.ndarray) -> np.ndarray:
    """Index of each row's first maximum, (n_subjects,). A matrix stored time-major (the
    transpose of a C-contiguous array) is reduced block by block along its contiguous rows, then
    searched within each subject's best block, instead of an argmax across strided rows."""
    if conc.flags.c_contiguous or not conc.T.flags.c_contiguous:
        return np.argmax(conc, axis=1)
    by_time = conc.T
    n_t, n = by_time.shape
    starts = np.arange(0, n_t, _ROWS_PER_BLOCK)
    block_max = np.maximum.reduceat(by_time, starts, axis=0)  # (n_blocks, n)
    best = np.argmax(block_max, axis=0)  # the first block holding each subject's maximum
    rows = starts[best][None, :] + np.arange(_ROWS_PER_BLOCK)[:, None]
    inside = rows < n_t
    values = np.where(inside, by_time[np.minimum(rows, n_t - 1), np.arange(n)], -np.inf)
    return starts[best] + np.argmax(values, axis=0)


def peak(inp: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """(cmax, tmax) per subject: the grid maximum, refined on the exact curve where it is an
    interior local maximum of the grid. The two grid steps around it are cut into smooth pieces
    (at the middle grid point and at dose events); in each piece where the curve rises then
    falls, Newton on C' = 0 (bisection where Newton leaves the bracket) finds the peak. The dose
    events inside are candidates as well (the peak of a bolus or of an infusion's end can fall
    between grid points)."""
    conc, times = inp.concentration, inp.times
    i = grid_argmax(conc)
    rows = np.arange(conc.shape[0])
    cmax, tmax = conc[rows, i].copy(), times[i].copy()
    inner = (i > 0) & (i < len(times) - 1)
    if not np.any(inner):
        return cmax, tmax
    subjects, j = rows[inner], i[inner]
    left, mid, right = conc[subjects, j - 1], conc[subjects, j], conc[subjects, j + 1]
    ok = (left <= mid) & (mid >= right) & ((left < mid) | (mid > right))
    subjects, j = subjects[ok], j[ok]
    if subjects.size == 0:
        return cmax, tmax
    curve = inp.curve
    lo, mid_t, hi = times[j - 1], times[j], times[j + 1]
    # The curve is smooth between dose events: the two grid steps are cut at the middle grid
    # point and at every event inside them, and each piece is searched on its own.
    cuts = [lo, mid_t]
    first = curve.last_event(lo, subjects) + 1
    event_times = curve.states.time
    n_ev = event_times.shape[1]
    events = []
    for k in range(n_ev):
        e = first + k
        at = event_times[subjects, np.minimum(e, n_ev - 1)]
        inside = (e < n_ev) & (at < hi)
        if not np.any(inside):
            break
        events.append(np.where(inside, at, np.nan))
        cuts.append(np.where(inside, at, hi))
    cuts.append(hi)
    bounds = np.sort(np.stack(cuts, axis=1), axis=1)
    candidates = events
    for k in range(bounds.shape[1] - 1):
        p, q = bounds[:, k], bounds[:, k + 1]
        piece = np.flatnonzero(q > p)
        found = np.full(len(subjects), np.nan)
        found[piece] = curve.peak_between(p[piece], q[piece], subjects[piece])
        candidates.append(found)
    best_c, best_t = cmax[subjects], tmax[subjects]
    for t in candidates:
        valid = np.isfinite(t)
        if not np.any(valid):
            continue
        value = np.full(len(subjects), -np.inf)
        value[valid] = curve.value(t[valid], subjects[valid])
        better = value > best_c
        best_c = np.where(better, value, best_c)
        best_t = np.where(better, t, best_t)
    cmax[subjects], tmax[subjects] = best_c, best_t
    return cmax, tmax


def time_to_fraction_of_steady_state(inp: Inputs, fraction: float) -> np.ndarray:
    """Hours from the first dose until the AUC from 0 to t of the first period's doses reaches
    ``fraction`` of its total (= the fraction of steady state reached by the period AUC under
    repeated dosing). NaN where that total is not a positive finite number."""
    n = inp.concentration.shape[0]
    t0 = float(inp.dose_times[0])
    if inp.first_period is None:
        return np.full(n, np.nan)
    target = fraction * inp.steady_exposure
    usable = np.isfinite(target) & (target > 0)
    out = np.full(n, np.nan)
    if np.any(usable):
        reached = inp.first_period.time_to_integral(np.full(n, t0), np.where(usable, target, 1.0))
        out[usable] = reached[usable] - t0
    return out
