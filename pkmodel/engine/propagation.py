"""Carrying the state of every subject from dose event to dose event.

The state is carried from event to event (cost O(events) per subject), and each output time is
computed from the state after the last event before or at it, so cost grows with doses + output
times, not their product. Outputs are right-continuous: an output at a dose time includes the dose.

Events are per subject (or shared by all subjects); the state just after each event
(:class:`EventStates`) is what every evaluation starts from. Units: amounts mg, times h, rates
mg/h.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pkmodel.engine.kinetics import CENTRAL, N_STATES, PERIPHERAL, Kinetics, transfer_matrix


def apply_propagators(
    phi: np.ndarray, gamma: np.ndarray | None, state: np.ndarray, rates: np.ndarray | None
) -> np.ndarray:
    """Phi state + Gamma rates (None: no infusion), with the leading axis of length 3 and
    anything after it."""
    out = np.einsum("ts...,s...->t...", phi, state)
    if rates is not None and gamma is not None:
        out += np.einsum("ts...,s...->t...", gamma, rates)
    return out


def propagate(
    kin: Kinetics,
    state: np.ndarray,
    rates: np.ndarray,
    h: np.ndarray,
    sources: tuple[int, ...],
    weights: np.ndarray | None = None,
    integral: bool = False,
) -> np.ndarray:
    """Move ``state`` (mg, leading axis of length 3) by ``h`` hours under constant ``rates`` (mg/h).

    ``sources`` lists the compartments that may hold drug (the others are known to stay empty and
    are skipped). Returns the new state or, with ``weights`` (leading axis 3), the weighted sum
    ``sum_i w_i A_i``. With ``integral=True`` returns the integral over [0, h] instead (mg.h, or
    weighted).
    """
    k = int(integral)
    phi = transfer_matrix(kin, h, sources, extra_zeros=k)
    infusing = np.any(rates)
    gamma = transfer_matrix(kin, h, sources, extra_zeros=k + 1) if infusing else phi
    out = apply_propagators(phi, gamma, state, rates if infusing else None)
    if weights is None:
        return out
    return np.einsum("t...,t...->...", weights, out)


@dataclass(frozen=True)
class Events:
    """Dose events of every subject, sorted by time along the last axis.

    Arrays have shape (n_subjects, n_events) (or (n_events,) when shared by all subjects):
    ``time`` (h), ``cmt`` (0 depot, 1 central, 2 peripheral), ``amount`` (mg added at once;
    0 for none) and ``rate`` (mg/h added to the compartment's infusion rate from that time on;
    an infusion is +r at its start and -r at its end).
    """

    time: np.ndarray
    cmt: np.ndarray
    amount: np.ndarray
    rate: np.ndarray
    reset: np.ndarray | None = None  # bool, like time: empty every compartment and stop every
    # infusion before this event's input (NONMEM EVID 3/4, SS=1)

    @property
    def shared_times(self) -> bool:
        return self.time.ndim == 1

    def sources(self, kin: Kinetics) -> tuple[int, ...]:
        """Compartments that can ever hold drug (the rest are skipped in every propagation)."""
        used = {CENTRAL, *self._dosed}
        if np.any(kin.k12 > 0):
            used.add(PERIPHERAL)
        return tuple(sorted(used))

    @cached_property
    def _dosed(self) -> frozenset[int]:
        # Asked for by every evaluation of the same events.
        return frozenset(np.unique(self.cmt).tolist())


@dataclass(frozen=True)
class EventStates:
    """Amounts (mg) and infusion rates (mg/h) just after each event, indexed (compartment,
    subject, event); ``has_rates`` is False when no event changes a rate (rates all zero)."""

    time: np.ndarray  # (n_subjects, n_events)
    state: np.ndarray
    rates: np.ndarray
    has_rates: bool


def event_states(kin: Kinetics, events: Events, n_subjects: int) -> EventStates:
    """Carry the state from event to event for every subject at once."""
    time = np.broadcast_to(events.time, (n_subjects, events.time.shape[-1]))
    n_ev = time.shape[1]
    amount = np.broadcast_to(events.amount, time.shape)
    sources = events.sources(kin)
    reset = None if events.reset is None or not np.any(events.reset) else np.broadcast_to(events.reset, time.shape)
    has_rates = bool(np.any(events.rate != 0))
    # Without infusions the rates are a read-only view of one zero (no buffer to fill).
    no_rates = np.broadcast_to(0.0, (n_ev, N_STATES, n_subjects))
    rates = _rates_after_events(events, n_subjects, reset) if has_rates else no_rates
    # Event by event, each (3, n_subjects) contiguous, written in place: one buffer (on some
    # machines every fresh megabyte costs a millisecond of page faults).
    state = np.empty((n_ev, N_STATES, n_subjects))
    phi, gamma, step_kind = _shared_steps(kin, events, sources, has_rates)
    subjects = np.arange(n_subjects)
    shared_doses = events.cmt.ndim == 1 and events.amount.ndim == 1
    cmt, dose = (events.cmt.tolist(), events.amount.tolist()) if shared_doses else ([], [])
    for e in range(n_ev):
        now = state[e]
        if e == 0:
            now[...] = 0.0
        elif events.shared_times:
            k = step_kind[e - 1]
            if k < 0:  # simultaneous events
                now[...] = state[e - 1]
            else:
                np.einsum("tsn,sn->tn", phi[k], state[e - 1], out=now)
                if has_rates:
                    now += np.einsum("tsn,sn->tn", gamma[k], rates[e - 1])
        else:
            now[...] = propagate(kin, state[e - 1], rates[e - 1], time[:, e] - time[:, e - 1], sources)
        if reset is not None:
            now[:, reset[:, e]] = 0.0
        if shared_doses:
            if dose[e]:
                now[cmt[e]] += dose[e]
        elif events.cmt.ndim == 1:
            now[events.cmt[e]] += amount[:, e]
        else:
            now[events.cmt[:, e], subjects] += amount[:, e]
    # Consumers index (compartment, subject, event).
    return EventStates(np.ascontiguousarray(time), state.transpose(1, 2, 0), rates.transpose(1, 2, 0), has_rates)


def _shared_steps(
    kin: Kinetics, events: Events, sources: tuple[int, ...], has_rates: bool
) -> tuple[list[np.ndarray], list[np.ndarray], list[int]]:
    """For event times shared by all subjects: Phi (and Gamma, with infusions) of each distinct
    step between events (a regular regimen has one or two), each (3, 3, n_subjects) and all
    from one closed-form call, and which one each step uses (-1: a step of 0, nothing moves)."""
    if not events.shared_times or events.time.shape[-1] < 2:
        return [], [], []
    distinct, kind = np.unique(np.diff(events.time), return_inverse=True)
    moving = distinct > 0  # a step of 0 needs no closed form (which is slowest there)
    index = np.cumsum(moving) - 1
    step_kind = np.where(moving[kind], index[kind], -1).tolist()
    grid_kin = kin.reshaped((-1, 1))
    hs = distinct[None, moving]

    def each(matrices: np.ndarray) -> list[np.ndarray]:
        return [np.ascontiguousarray(matrices[..., d]) for d in range(matrices.shape[-1])]

    phi = each(transfer_matrix(grid_kin, hs, sources))
    gamma = each(transfer_matrix(grid_kin, hs, sources, 1)) if has_rates else []
    return phi, gamma, step_kind


def _rates_after_events(events: Events, n_subjects: int, reset: np.ndarray | None = None) -> np.ndarray:
    """Total infusion rate into each compartment after each event, (n_events, 3, n_subjects).

    A plain running sum of rate changes is off by about eps times the largest rate summed so far:
    a 1e-3 mg/h infusion that outlives a 1e8 mg/h one would keep an error of 2e-8 mg/h, 2e-5 of
    its rate. The sum is therefore carried in double-double arithmetic (error-free TwoSum
    steps), exact to rounding of the rates actually running. Where every infusion started has
    stopped (as many stops as starts since the last reset) the tiny residue left is set to
    exactly zero, or a stopped infusion would keep trickling (or draining) drug forever. A reset
    (n_subjects, n_events) restarts the sum: infusions running before it stop there.
    """
    n_ev = events.time.shape[-1]
    change = np.broadcast_to(events.rate, (n_subjects, n_ev))
    cmt = np.broadcast_to(events.cmt, (n_subjects, n_ev))
    resets = np.zeros(n_ev, dtype=bool) if reset is None else np.any(reset, axis=0)
    # Only events that change a rate or reset need work; the others repeat the rates before them.
    busy = np.flatnonzero(np.any(change != 0, axis=0) | resets)
    hi = np.zeros((N_STATES, n_subjects))
    lo = np.zeros((N_STATES, n_subjects))
    magnitude = np.zeros((N_STATES, n_subjects))
    running = np.zeros((N_STATES, n_subjects), dtype=np.int64)
    subjects = np.arange(n_subjects)
    snapshots = np.zeros((len(busy) + 1, N_STATES, n_subjects))
    residue = 4 * n_ev * np.finfo(float).eps
    for i, e in enumerate(busy.tolist(), start=1):
        if reset is not None and resets[e]:
            cut = reset[:, e]
            for arr in (hi, lo, magnitude, running):
                arr[:, cut] = 0
        x = change[:, e]
        c = cmt[:, e]
        a = hi[c, subjects]
        total = a + x
        back = total - a
        low = lo[c, subjects] + ((a - (total - back)) + (x - back))
        new_hi = total + low
        hi[c, subjects] = new_hi
        lo[c, subjects] = low - (new_hi - total)
        magnitude[c, subjects] += np.abs(x)
        running[c, subjects] += np.sign(x).astype(np.int64)
        stopped = (running <= 0) & (np.abs(hi) <= residue * magnitude)
        snapshots[i] = np.where(stopped, 0.0, hi)
    # Event e shows the snapshot of the last busy event at or before it (0: none yet).
    last = np.searchsorted(busy, np.arange(n_ev), side="right")
    return snapshots[last]


def last_event_index(event_time: np.ndarray, times: np.ndarray, left: bool = False) -> np.ndarray:
    """Index of the last event at or before each output time, -1 before the first event.

    ``event_time`` (n_subjects, n_events) sorted; ``times`` sorted (n_times,) or per subject
    (n_subjects, n_times). Returns (n_subjects, n_times) integers. An event at exactly an output
    time counts (right-continuity) unless ``left``, which gives the left limit (events strictly
    before).
    """
    n_subjects, n_ev = event_time.shape
    if times.ndim == 2:
        # Per-subject query times are few (refining a peak, solving for a time): count directly.
        count = np.zeros(times.shape, dtype=np.int64)
        for e in range(n_ev):
            ev = event_time[:, e, None]
            count += (ev < times) if left else (ev <= times)
        return count - 1
    idx = np.full((n_subjects, len(times)), -1, dtype=np.int64)
    first_cell = np.searchsorted(times, event_time.ravel(), side="right" if left else "left")
    rows = np.repeat(np.arange(n_subjects), n_ev)
    inside = first_cell < len(times)
    events = np.tile(np.arange(n_ev), n_subjects)
    np.maximum.at(idx, (rows[inside], first_cell[inside]), events[inside])
    return np.maximum.accumulate(idx, axis=1)


def event_integrals(kin: Kinetics, es: EventStates, weights: np.ndarray, sources: tuple[int, ...]) -> np.ndarray:
    """Integral from the first event to each event of ``sum_i w_i A_i`` (n_subjects, n_events)."""
    return np.cumsum(event_pieces(kin, es, weights, sources), axis=1)


_FEW_STEPS = 8  # distinct steps between shared event times worth one propagator each


def event_pieces(kin: Kinetics, es: EventStates, weights: np.ndarray, sources: tuple[int, ...]) -> np.ndarray:
    """Integral from event e - 1 to event e of ``sum_i w_i A_i`` in column e (column 0 is 0),
    (n_subjects, n_events). With event times shared by all subjects and few distinct steps (a
    regular regimen has one or two), each step's integral propagators are computed once."""
    n, n_ev = es.time.shape
    pieces = np.zeros((n, n_ev))
    if n_ev < 2:
        return pieces
    steps = np.diff(es.time[0])
    shared = bool(np.all(es.time == es.time[:1]))
    distinct = np.unique(steps) if shared else steps
    if shared and len(distinct) <= _FEW_STEPS:
        for h in distinct.tolist():
            cols = np.flatnonzero(steps == h)
            # w Psi(h) and w Psi1(h): the integral's response to each source's amount and rate.
            by_amount = np.einsum("tn,tsn->sn", weights, transfer_matrix(kin, h, sources, 1))
            part = np.einsum("sn,snc->nc", by_amount, es.state[:, :, cols])
            if es.has_rates:
                by_rate = np.einsum("tn,tsn->sn", weights, transfer_matrix(kin, h, sources, 2))
                part += np.einsum("sn,snc->nc", by_rate, es.rates[:, :, cols])
            pieces[:, cols + 1] = part
        return pieces
    pieces[:, 1:] = propagate(
        kin.reshaped((n, 1)),
        es.state[:, :, :-1],
        es.rates[:, :, :-1],
        np.diff(es.time, axis=1),
        sources,
        weights=weights[:, :, None],
        integral=True,
    )
    return pieces
