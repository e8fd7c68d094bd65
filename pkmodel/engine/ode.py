"""Independent numerical reference for the linear depot/central/peripheral model.

This module deliberately avoids eigenvalues, matrix exponentials and closed forms: it only
integrates the ODEs with :func:`scipy.integrate.solve_ivp`, so that it can serve as an
independent check of the analytic engine.

Units: amounts in mg, times in h, rate constants in 1/h, infusion rates in mg/h, AUC in mg*h.
Compartments: 0 depot (gut), 1 central, 2 peripheral.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp

_N_CMT = 3
# Pieces shorter than this many h per h of clock time are stepped, not handed to solve_ivp.
_SLIVER = 1e3 * np.finfo(float).eps


def _integrate(
    ka: float,
    k10: float,
    k12: float,
    k21: float,
    ev_time: ArrayLike,
    ev_cmt: ArrayLike,
    ev_amount: ArrayLike,
    ev_rate: ArrayLike,
    times: ArrayLike,
    initial: ArrayLike | None,
    rtol: float,
    atol: float,
    method: str,
) -> np.ndarray:
    """Return the augmented state [A0, A1, A2, AUC1] (mg, mg, mg, mg*h) at each output time."""
    ev_time = np.asarray(ev_time, dtype=float)
    ev_cmt = np.asarray(ev_cmt, dtype=int)
    ev_amount = np.asarray(ev_amount, dtype=float)
    ev_rate = np.asarray(ev_rate, dtype=float)
    times = np.asarray(times, dtype=float)
    out = np.full((times.size, _N_CMT + 1), np.nan)
    if times.size == 0:
        return out

    # The 4th row makes the AUC of the central amount part of the same linear system.
    jac = np.array([[-ka, 0.0, 0.0, 0.0], [ka, -(k10 + k12), k21, 0.0], [0.0, k12, -k21, 0.0], [0.0, 1.0, 0.0, 0.0]])
    rate = np.zeros(_N_CMT + 1)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        return jac @ y + rate

    def jacobian(t: float, y: np.ndarray) -> np.ndarray:
        return jac

    y = np.zeros(_N_CMT + 1)
    if initial is not None:
        y[:_N_CMT] = np.asarray(initial, dtype=float)
    t = min(0.0, times[0], ev_time.min() if ev_time.size else 0.0)
    # t = 0 is a breakpoint too, because that is where the AUC starts accumulating.
    breaks = np.union1d(ev_time, [0.0])
    t_last = times[-1]

    for bp in np.append(breaks, np.inf):
        lo = np.searchsorted(times, t, side="left")
        hi = np.searchsorted(times, bp, side="left")
        # Right-continuity: outputs exactly at t already see the events applied at t.
        at_start = lo + np.searchsorted(times[lo:hi], t, side="right")
        out[lo:at_start] = y
        t_end = min(bp, t_last)
        if t_end > t and t_end - t <= _SLIVER * max(1.0, abs(t_end)):
            # solve_ivp cannot step across a sliver this short (LSODA stalls or fails); one
            # explicit Euler step is exact to rounding since (span * rate constant)**2 is ~0.
            slope = rhs(t, y)
            out[at_start:hi] = y + np.outer(times[at_start:hi] - t, slope)
            y = y + (t_end - t) * slope
        elif t_end > t:
            # Integrate to the piece boundary (not across it) so the jump is applied exactly.
            # solve_ivp rejects repeated t_eval values, so repeated output times are mapped back.
            grid = np.union1d(times[at_start:hi], [t_end])
            sol = solve_ivp(rhs, (t, t_end), y, method=method, t_eval=grid, jac=jacobian, rtol=rtol, atol=atol)
            if not sol.success:
                raise RuntimeError(f"solve_ivp failed on [{t}, {t_end}] h: {sol.message}")
            out[at_start:hi] = sol.y[:, np.searchsorted(grid, times[at_start:hi])].T
            y = sol.y[:, -1].copy()
        if bp > t_last:
            break
        t = bp
        sel = ev_time == bp
        np.add.at(y, ev_cmt[sel], ev_amount[sel])
        np.add.at(rate, ev_cmt[sel], ev_rate[sel])
        if bp == 0.0:
            y[_N_CMT] = 0.0
    return out


def ode_amounts(
    ka: float,
    k10: float,
    k12: float,
    k21: float,
    ev_time: ArrayLike,
    ev_cmt: ArrayLike,
    ev_amount: ArrayLike,
    ev_rate: ArrayLike,
    times: ArrayLike,
    *,
    initial: ArrayLike | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    method: str = "LSODA",
) -> np.ndarray:
    """Amounts (mg) in depot, central and peripheral compartments at the output ``times`` (h).

    ka, k10, k12, k21 are first-order rate constants in 1/h (k12 = k21 = 0 for one compartment).
    Events (equal-length arrays sorted by time): ``ev_time`` (h), ``ev_cmt`` (0/1/2),
    ``ev_amount`` (mg bolus added at that time) and ``ev_rate`` (mg/h change of the zero-order
    infusion rate into that compartment). ``times`` must be sorted.

    The state is right-continuous: an output exactly at an event time includes that event.
    ``initial`` (mg, length 3, default zeros) is the state at the start of integration,
    min(0, first event, first output), and is propagated until the first event.
    ``rtol``/``atol`` (atol in mg) and ``method`` ("LSODA" or "Radau") go to solve_ivp.

    Returns an array of shape (len(times), 3) in mg.
    """
    return _integrate(ka, k10, k12, k21, ev_time, ev_cmt, ev_amount, ev_rate, times, initial, rtol, atol, method)[
        :, :_N_CMT
    ]


def ode_central_auc(
    ka: float,
    k10: float,
    k12: float,
    k21: float,
    ev_time: ArrayLike,
    ev_cmt: ArrayLike,
    ev_amount: ArrayLike,
    ev_rate: ArrayLike,
    times: ArrayLike,
    *,
    initial: ArrayLike | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    method: str = "LSODA",
) -> np.ndarray:
    """Cumulative AUC (mg*h) of the central amount A1 from t = 0 h to each output time (h).

    Computed by integrating dAUC/dt = A1 alongside the amounts; arguments and keywords as in
    :func:`ode_amounts`. Output times are assumed >= 0; any before 0 get NaN.
    Returns an array of shape (len(times),) in mg*h.
    """
    auc = _integrate(ka, k10, k12, k21, ev_time, ev_cmt, ev_amount, ev_rate, times, initial, rtol, atol, method)[
        :, _N_CMT
    ]
    auc[np.asarray(times, dtype=float) < 0.0] = np.nan
    return auc
