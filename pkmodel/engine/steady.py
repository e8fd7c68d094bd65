"""Steady state of a dose repeated forever, in closed form.

The dose pattern: ``amount`` (mg, per subject) into compartment ``cmt`` every ``tau`` h, each
dose delayed by ``lag`` h (per subject) and given over ``duration`` h (0 for a bolus; an infusion
may last longer than ``tau``). Let g(t) be the state t hours after one such dose given at time 0
(zero before its lag, rising during its infusion, decaying after). By superposition the state
just before a dose at steady state is

    x = sum_{k >= 1} g(k tau).

Doses still in progress at that moment (k tau < lag + duration: not yet absorbed or still
infusing) are finitely many and are summed one by one; every later term is a complete dose
decaying freely, g(k tau) = Phi(k tau - T) g(T) with T = lag + duration, a geometric series:

    sum_{k > K} g(k tau) = Phi((K + 1) tau - T) (I - Phi(tau))^{-1} g(T).

No dose is "simulated until it settles". The doses in progress also leave work for the future
(a lagged dose not yet arrived, an infusion still running); those are returned as events. This
is the classic trap of steady-state engines with lag times and infusions longer than the
interval (mrgsolve issues #239, #264, #267, #596; rxode2 #1349, #1350).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pkmodel.engine.kinetics import N_STATES, Kinetics, transfer_matrix


@dataclass(frozen=True)
class SteadyState:
    """State just before a dose at steady state and the events its earlier doses still owe.

    ``state``: (3, n_subjects) amounts in mg. ``pending``: list of (offset_h, cmt, amount_mg,
    rate_mg_per_h) with per-subject arrays (n_subjects,) for offset, amount and rate, relative to
    the nominal time of the steady-state dose; an offset of 0 with a rate is an infusion running
    at that moment. Entries whose amount and rate are both zero for a subject do nothing.
    """

    state: np.ndarray
    pending: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]]


def steady_state(
    kin: Kinetics,
    sources: tuple[int, ...],
    *,
    cmt: int,
    amount: np.ndarray,
    tau: float,
    lag: np.ndarray,
    duration: np.ndarray,
) -> SteadyState:
    """Steady state of ``amount`` (mg) into ``cmt`` every ``tau`` h with ``lag`` and ``duration``
    (h); arrays of shape (n_subjects,). See the module docstring for the method."""
    n = kin.k10.shape[0]
    amount, lag, duration = (np.broadcast_to(np.asarray(a, dtype=float), (n,)) for a in (amount, lag, duration))
    end = lag + duration
    # Doses k = 1..k_open are still in progress (k tau < lag + duration).
    k_open = np.maximum(np.ceil(end / tau) - 1, 0).astype(int)
    state = np.zeros((N_STATES, n))
    pending: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []
    rate = np.divide(amount, duration, out=np.zeros(n), where=duration > 0)
    infusion = duration > 0
    for k in range(1, int(k_open.max(initial=0)) + 1):
        open_ = k <= k_open
        since_start = k * tau - lag  # hours since dose k started arriving (< 0: not yet)
        state += np.where(open_, single_dose_state(kin, sources, cmt, amount, lag, duration, k * tau), 0.0)
        not_started = open_ & (since_start < 0)
        running = open_ & infusion & (since_start >= 0)
        offset = np.where(not_started, -since_start, 0.0)
        pending.append(
            (offset, cmt, np.where(not_started & ~infusion, amount, 0.0), np.where(not_started & infusion, rate, 0.0))
        )
        if np.any(infusion & open_):
            # The infusion of dose k starts (not_started) or is running (rate added at offset 0); either way
            # it stops at offset end - k tau.
            pending.append((np.zeros(n), cmt, np.zeros(n), np.where(running, rate, 0.0)))
            stop = np.where(open_ & infusion, end - k * tau, 0.0)
            pending.append((stop, cmt, np.zeros(n), np.where(open_ & infusion, -rate, 0.0)))
    g_end = single_dose_state(kin, sources, cmt, amount, lag, duration, end)
    lhs = np.eye(N_STATES) - np.moveaxis(transfer_matrix(kin, tau, sources), -1, 0)  # (n, 3, 3)
    # A compartment outside `sources` (or cut off, e.g. Q = 0) neither gains nor loses drug, so its
    # row of I - Phi is zero; it holds nothing at steady state, and a unit diagonal says so.
    diagonal = np.einsum("nii->ni", lhs)
    diagonal[...] = np.where(diagonal == 0, 1.0, diagonal)
    geometric = np.linalg.solve(lhs, g_end.T[..., None])[..., 0].T  # (3, n)
    tail = transfer_matrix(kin, (k_open + 1) * tau - end, sources)
    state += np.einsum("tsn,sn->tn", tail, geometric)
    return SteadyState(state=state, pending=pending)


def single_dose_state(
    kin: Kinetics,
    sources: tuple[int, ...],
    cmt: int,
    amount: np.ndarray,
    lag: np.ndarray,
    duration: np.ndarray,
    t: np.ndarray | float,
) -> np.ndarray:
    """g(t): the state (3, n_subjects) t hours after one dose given at time 0 (mg)."""
    n = kin.k10.shape[0]
    since = np.broadcast_to(np.asarray(t, dtype=float) - lag, (n,))
    arrived = since >= 0
    s = np.maximum(since, 0.0)
    infusion = duration > 0
    during = np.minimum(s, duration)  # hours of infusion delivered so far
    after = s - during  # hours since the infusion (or the bolus) ended
    rate = np.divide(amount, duration, out=np.zeros(n), where=infusion)
    unit = np.zeros((N_STATES, n))
    unit[cmt] = 1.0
    gamma = transfer_matrix(kin, during, sources, extra_zeros=1)
    delivered = np.where(infusion, np.einsum("tsn,sn->tn", gamma, unit * rate), unit * amount)
    out = np.einsum("tsn,sn->tn", transfer_matrix(kin, after, sources), delivered)
    return np.where(arrived, out, 0.0)
