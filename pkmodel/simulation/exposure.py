"""Exposure metrics of a simulated regimen, from the closed form rather than from the grid.

The metrics describe the simulated window, the output times from first to last: nothing is
reported about doses or intervals outside it (a 14-day regimen simulated for 1 day reports the
trough and the interval of that day). Definitions (per subject; times h, concentrations mg/L,
AUC mg·h/L). A regimen's *period* is its dosing interval tau (24 h for doses at clock times each
day); the last period is the last full interval inside the window: it ends with the last dose
whose following interval ends by the last output time, and starts at the earliest dose within
one interval before that dose (for a window covering the whole regimen, the last period of
:meth:`pkmodel.dosing.regimen.Regimen.last_period`).
    cmax, tmax      highest concentration and its time: the grid maximum refined by a bracketing
                    minimiser on the exact curve (so a peak between grid points is not missed).
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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

ValueAt = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Inputs:
    """What the metrics need from a simulation.

    ``value(subjects, t, integral=False, left=False, single=False)`` returns, for each subject
    index in ``subjects`` at its own time ``t`` (h), the concentration (mg/L), its left limit, or
    its integral from 0 (mg·h/L), under the whole regimen or under its first period's doses alone.
    ``period`` is (start of the first period, start of the last period, tau) in h, or None;
    ``steady_exposure`` the AUC over one period at steady state per subject (mg·h/L);
    ``trough_time`` the dose time (h) whose left limit is the trough, or None.
    """

    times: np.ndarray
    concentration: np.ndarray
    value: ValueAt
    dose_times: np.ndarray
    period: tuple[float, float, float] | None
    steady_exposure: np.ndarray
    trough_time: float | None = None


def summarise(inp: Inputs) -> pd.DataFrame:
    """One row per subject with the metrics of the module docstring."""
    n = inp.concentration.shape[0]
    everyone = np.arange(n)
    cmax, tmax = peak(inp)

    def auc(a: float, b: float) -> np.ndarray:
        return inp.value(everyone, np.full(n, b), integral=True) - inp.value(everyone, np.full(n, a), integral=True)

    nan = np.full(n, np.nan)
    cmin = nan if inp.trough_time is None else inp.value(everyone, np.full(n, inp.trough_time), left=True)
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
        table.update(auc_tau_mg_h_L=nan, cavg_mg_L=nan, cavg_ss_mg_L=nan, accumulation=nan, t90ss_h=nan)
    return pd.DataFrame(table, index=pd.RangeIndex(n, name="subject"))


def peak(inp: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """(cmax, tmax) per subject: grid maximum refined on the exact curve where it is interior."""
    conc, times = inp.concentration, inp.times
    i = np.argmax(conc, axis=1)
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

    def minus_conc(t: np.ndarray, who: np.ndarray) -> np.ndarray:
        return -inp.value(who.astype(int).ravel(), t.ravel()).reshape(t.shape)

    from scipy.optimize import elementwise  # half a second to import: only when a peak is refined

    res = elementwise.find_minimum(
        minus_conc, (times[j - 1], times[j], times[j + 1]), args=(subjects.astype(float),), tolerances={"xatol": 1e-9}
    )
    better = res.success & (-res.f_x > cmax[subjects])
    cmax[subjects[better]] = -res.f_x[better]
    tmax[subjects[better]] = res.x[better]
    return cmax, tmax


def time_to_fraction_of_steady_state(inp: Inputs, fraction: float) -> np.ndarray:
    """Hours from the first dose until the AUC from 0 to t of the first period's doses reaches
    ``fraction`` of its total (= the fraction of steady state reached by the period AUC under
    repeated dosing)."""
    n = inp.concentration.shape[0]
    everyone = np.arange(n)
    t0 = float(inp.dose_times[0])

    def shortfall(t: np.ndarray, who: np.ndarray) -> np.ndarray:
        who = who.astype(int).ravel()
        reached = inp.value(who, t.ravel(), integral=True, single=True) / inp.steady_exposure[who]
        return (reached - fraction).reshape(t.shape)

    upper = np.full(n, t0 + 24.0)
    for _ in range(60):
        short = shortfall(upper, everyone.astype(float)) < 0
        if not np.any(short):
            break
        upper[short] = t0 + 2 * (upper[short] - t0)
    from scipy.optimize import elementwise

    res = elementwise.find_root(
        shortfall, (np.full(n, t0), upper), args=(everyone.astype(float),), tolerances={"xatol": 1e-9}
    )
    return res.x - t0
