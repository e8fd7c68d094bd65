"""Exposure metrics of a simulated regimen, from the closed form rather than from the grid.

Definitions (per subject; times h, concentrations mg/L, AUC mg·h/L):
    cmax, tmax      highest concentration and its time: the grid maximum refined by a bracketing
                    minimiser on the exact curve (so a peak between grid points is not missed).
    cmin            trough: concentration just before the last dose (left limit). NaN for one dose.
    auc             exact AUC from the first to the last output time.
    auc_tau         exact AUC over the last dosing interval [last dose, last dose + tau].
    cavg            auc_tau / tau, the average concentration over the last interval.
    cavg_ss         average concentration at steady state, F·dose / (CL·tau).
    accumulation    AUC over an interval at steady state / AUC over the first interval. For linear
                    kinetics the steady-state interval AUC equals the single-dose AUC from 0 to
                    infinity, F·dose/CL, so no simulation to steady state is needed.
    t90ss_h         time from the first dose until the interval AUC reaches 90 % of its steady-state
                    value, i.e. until the single-dose AUC from 0 to t reaches 90 % of AUC0-inf
                    (superposition: the AUC of the interval ending at t under repeated dosing
                    equals the single-dose AUC from 0 to t, for a dosing time grid).
The interval metrics are NaN for a regimen without a regular interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import elementwise

ValueAt = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Inputs:
    """What the metrics need from a simulation.

    ``value(subjects, t, integral=False, left=False, single=False)`` returns, for each subject
    index in ``subjects`` at its own time ``t`` (h), the concentration (mg/L), its left limit, or
    its integral from 0 (mg·h/L), under the whole regimen or under its first dose alone.
    """

    times: np.ndarray
    concentration: np.ndarray
    value: ValueAt
    dose_times: np.ndarray
    interval: float | None
    first_dose_exposure: np.ndarray


def summarise(inp: Inputs) -> pd.DataFrame:
    """One row per subject with the metrics of the module docstring."""
    n = inp.concentration.shape[0]
    everyone = np.arange(n)
    cmax, tmax = peak(inp)
    t_first, t_last = inp.dose_times[0], inp.dose_times[-1]

    def auc(a: float, b: float) -> np.ndarray:
        return inp.value(everyone, np.full(n, b), integral=True) - inp.value(everyone, np.full(n, a), integral=True)

    nan = np.full(n, np.nan)
    cmin = inp.value(everyone, np.full(n, t_last), left=True) if len(inp.dose_times) > 1 else nan
    table = {
        "cmax_mg_L": cmax,
        "tmax_h": tmax,
        "cmin_mg_L": cmin,
        "auc_mg_h_L": auc(inp.times[0], inp.times[-1]),
    }
    tau = inp.interval
    if tau is not None:
        auc_tau = auc(t_last, t_last + tau)
        table.update(
            auc_tau_mg_h_L=auc_tau,
            cavg_mg_L=auc_tau / tau,
            cavg_ss_mg_L=inp.first_dose_exposure / tau,
            accumulation=inp.first_dose_exposure / auc(t_first, t_first + tau),
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

    res = elementwise.find_minimum(
        minus_conc, (times[j - 1], times[j], times[j + 1]), args=(subjects.astype(float),), tolerances={"xatol": 1e-9}
    )
    better = res.success & (-res.f_x > cmax[subjects])
    cmax[subjects[better]] = -res.f_x[better]
    tmax[subjects[better]] = res.x[better]
    return cmax, tmax


def time_to_fraction_of_steady_state(inp: Inputs, fraction: float) -> np.ndarray:
    """Hours from the first dose until the single-dose AUC from 0 to t reaches ``fraction`` of
    AUC0-inf (= the fraction of steady state reached by the interval AUC under repeated dosing)."""
    n = inp.concentration.shape[0]
    everyone = np.arange(n)
    t0 = float(inp.dose_times[0])

    def shortfall(t: np.ndarray, who: np.ndarray) -> np.ndarray:
        who = who.astype(int).ravel()
        reached = inp.value(who, t.ravel(), integral=True, single=True) / inp.first_dose_exposure[who]
        return (reached - fraction).reshape(t.shape)

    upper = np.full(n, t0 + 24.0)
    for _ in range(60):
        short = shortfall(upper, everyone.astype(float)) < 0
        if not np.any(short):
            break
        upper[short] = t0 + 2 * (upper[short] - t0)
    res = elementwise.find_root(
        shortfall, (np.full(n, t0), upper), args=(everyone.astype(float),), tolerances={"xatol": 1e-9}
    )
    return res.x - t0
