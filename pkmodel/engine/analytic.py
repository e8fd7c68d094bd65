"""Closed-form solution of linear one- and two-compartment models with a first-order depot.

State vector (amounts, mg): 0 depot, 1 central, 2 peripheral. Rate constants (1/h): ``ka`` depot
to central, ``k10`` elimination from central, ``k12`` / ``k21`` central to peripheral and back
(both zero for a one-compartment model). Inputs are boluses into any compartment and zero-order
infusions (piecewise-constant rates, mg/h) into any compartment. This covers NONMEM's ADVAN1-4.

Between two events the state moves by ``A(t0 + h) = Phi(h) A(t0) + Gamma(h) R``. Every entry of
``Phi`` and ``Gamma`` is a short sum of ``coef * h**(m-1) * exp[-l1 h, ..., -lm h]``, the
convolution of ``m`` exponentials with rates ``l_i`` among ``ka``, ``alpha``, ``beta`` and ``0``
(a constant input is the exponential of rate 0). For the mammillary model every coefficient and
every divided difference is non-negative, so the sums never cancel, and the divided differences
themselves are computed exactly at coinciding rates (``divdiff.py``). No formula here divides by
``alpha - beta`` or ``ka - alpha``.

Derivation, with D = (e^{-alpha .} * e^{-beta .}) the convolution of the two disposition
exponentials and g = k21 - beta = alpha - k10 - k12 >= 0:
    central <- central    e^{-alpha h} + g D
    peripheral <- central k12 D
    central <- peripheral k21 D
    peripheral <- peripheral e^{-alpha h} + (alpha - k21) D
    depot <- depot        e^{-ka h}
and a source in the depot is the central/peripheral response convolved once more with
``ka e^{-ka .}``. An infusion is the response to a bolus convolved with the constant 1 (one more
rate 0), and the integral over ``[0, h]`` (for AUC) is one more convolution with 1 as well.

The state is carried from event to event (cost O(events) per subject), and each output time is
computed from the state after the last event before or at it, so cost grows with doses + output
times, not their product. Outputs are right-continuous: an output at a dose time includes the dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from pkmodel.engine.divdiff import exp_divided_difference

DEPOT, CENTRAL, PERIPHERAL = 0, 1, 2
N_STATES = 3

# (target, source) -> terms (coefficient name, rates): see the module docstring. Rates: "k" ka,
# "a" alpha, "b" beta; each term is coef * h**(m-1) * exp[-rate_1 h, ..., -rate_m h].
_TERMS: dict[tuple[int, int], tuple[tuple[str, str], ...]] = {
    (DEPOT, DEPOT): (("one", "k"),),
    (CENTRAL, DEPOT): (("ka", "ak"), ("ka_g", "abk")),
    (PERIPHERAL, DEPOT): (("ka_k12", "abk"),),
    (CENTRAL, CENTRAL): (("one", "a"), ("g", "ab")),
    (PERIPHERAL, CENTRAL): (("k12", "ab"),),
    (CENTRAL, PERIPHERAL): (("k21", "ab"),),
    (PERIPHERAL, PERIPHERAL): (("one", "a"), ("alpha_k21", "ab")),
}


@dataclass(frozen=True)
class Kinetics:
    """Rate constants in 1/h, each an array broadcastable to the subjects' shape.

    ``alpha >= beta`` are the disposition eigenvalues (1/h), computed without cancellation:
    ``alpha - beta = sqrt((k10 + k12 - k21)**2 + 4 k12 k21)`` is a sum of non-negative terms.
    """

    ka: np.ndarray
    k10: np.ndarray
    k12: np.ndarray
    k21: np.ndarray

    @classmethod
    def of(cls, ka: ArrayLike, k10: ArrayLike, k12: ArrayLike, k21: ArrayLike) -> Kinetics:
        arrays = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (ka, k10, k12, k21)))
        return cls(*(np.array(a) for a in arrays))

    def reshaped(self, shape: tuple[int, ...]) -> Kinetics:
        """The same constants reshaped (for broadcasting against a grid of times)."""
        return Kinetics(*(x.reshape(shape) for x in (self.ka, self.k10, self.k12, self.k21)))

    @cached_property
    def _u(self) -> np.ndarray:
        return self.k10 + self.k12 - self.k21

    @cached_property
    def alpha_minus_beta(self) -> np.ndarray:
        # hypot: no overflow of the squares for extreme (still finite) rate constants.
        return np.hypot(self._u, 2.0 * np.sqrt(self.k12) * np.sqrt(self.k21))

    @cached_property
    def alpha(self) -> np.ndarray:
        return 0.5 * (self.k10 + self.k12 + self.k21 + self.alpha_minus_beta)

    @cached_property
    def beta(self) -> np.ndarray:
        # alpha * beta = k10 * k21; this avoids subtracting two nearly equal numbers.
        return self.k10 * self.k21 / self.alpha

    @cached_property
    def g(self) -> np.ndarray:
        """k21 - beta = alpha - k10 - k12 (>= 0), chosen branch by branch to avoid cancellation."""
        return _half_root_minus(self.alpha_minus_beta, self._u, self.k12 * self.k21)

    @cached_property
    def alpha_k21(self) -> np.ndarray:
        """alpha - k21 = k10 + k12 - beta (>= 0), likewise without cancellation."""
        return _half_root_minus(self.alpha_minus_beta, -self._u, self.k12 * self.k21)

    def coefficient(self, name: str) -> np.ndarray | float:
        """A coefficient of ``_TERMS``: 1, a rate constant, or a product of two (computed only
        when asked for)."""
        if name == "one":
            return 1.0
        if name.startswith("ka_"):
            return self.ka * self.coefficient(name[3:])
        return getattr(self, name)

    def rate(self, symbol: str) -> np.ndarray | float:
        rates: dict[str, np.ndarray | float] = {"k": self.ka, "a": self.alpha, "b": self.beta, "z": 0.0}
        return rates[symbol]


def _half_root_minus(root: np.ndarray, u: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(root - u) / 2 where root = sqrt(u**2 + 4 p), p >= 0, without cancellation when u > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rationalised = 2.0 * p / (root + u)
    return np.where(u > 0, rationalised, 0.5 * (root - u))


def transfer_matrix(kin: Kinetics, h: np.ndarray | float, sources: tuple[int, ...], extra_zeros: int = 0) -> np.ndarray:
    """Phi(h) (``extra_zeros=0``) or its convolutions with 1, shape (3, 3, *broadcast shape).

    ``M[target, source]``; rows and columns outside ``sources`` stay zero. With ``extra_zeros=1``
    the same entries give Gamma(h), the response to a unit infusion (equally the integral of Phi
    over [0, h]); ``extra_zeros=2`` gives the integral of Gamma. Each divided difference is
    computed once and shared by the entries that use it.
    """
    h = np.asarray(h, dtype=float)
    shape = np.broadcast_shapes(h.shape, np.shape(kin.k10))
    out = np.zeros((N_STATES, N_STATES) + shape)
    cache: dict[str, np.ndarray] = {}
    for (target, source), terms in _TERMS.items():
        if target not in sources or source not in sources:
            continue
        for coef_name, rates in terms:
            rates = rates + "z" * extra_zeros
            if rates not in cache:
                points = [-kin.rate(r) * h for r in rates]
                cache[rates] = h ** (len(rates) - 1) * exp_divided_difference(points)
            out[target, source] += kin.coefficient(coef_name) * cache[rates]
    return out


class StepCache:
    """Propagation by steps shared by all subjects: each distinct step's per-subject Phi (and
    Gamma, once an infusion needs it) is computed once, since regular regimens and uniform grids
    repeat the same few steps."""

    def __init__(self, kin: Kinetics, sources: tuple[int, ...]) -> None:
        self.kin = kin
        self.sources = sources
        self._matrices: dict[tuple[float, int], np.ndarray] = {}

    def matrix(self, h: float, extra_zeros: int = 0) -> np.ndarray:
        """Phi(h) (``extra_zeros=0``) or Gamma(h) (1), shape (3, 3, n_subjects)."""
        key = (h, extra_zeros)
        if key not in self._matrices:
            self._matrices[key] = transfer_matrix(self.kin, h, self.sources, extra_zeros)
        return self._matrices[key]

    def propagate(self, state: np.ndarray, rates: np.ndarray | None, h: float) -> np.ndarray:
        """The state (3, n_subjects) ``h`` hours later under constant ``rates`` (None: no infusion)."""
        if h == 0:
            return np.array(state, dtype=float)
        out = np.einsum("tsn,sn->tn", self.matrix(h), state)
        if rates is not None:
            out += np.einsum("tsn,sn->tn", self.matrix(h, 1), rates)
        return out


def _apply(phi: np.ndarray, gamma: np.ndarray, state: np.ndarray, rates: np.ndarray | None) -> np.ndarray:
    """Phi state + Gamma rates, with the leading axis of length 3 and anything after it."""
    out = np.einsum("ts...,s...->t...", phi, state)
    if rates is not None:
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
    out = _apply(phi, gamma, state, rates if infusing else None)
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
        used = {CENTRAL} | {int(c) for c in np.unique(self.cmt)}
        if np.any(kin.k12 > 0):
            used.add(PERIPHERAL)
        return tuple(sorted(used))


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
    rates = _rates_after_events(events, n_subjects, reset) if has_rates else np.zeros((n_ev, N_STATES, n_subjects))
    state = np.empty((n_ev, N_STATES, n_subjects))
    steps = StepCache(kin, sources)
    subjects = np.arange(n_subjects)
    current = np.zeros((N_STATES, n_subjects))
    steps_h = np.diff(events.time).tolist() if events.shared_times else []
    for e in range(n_ev):
        if e and events.shared_times:
            current = steps.propagate(current, rates[e - 1] if has_rates else None, steps_h[e - 1])
        elif e:
            current = propagate(kin, current, rates[e - 1], time[:, e] - time[:, e - 1], sources)
        if reset is not None:
            current[:, reset[:, e]] = 0.0
        if events.cmt.ndim == 1:
            current[events.cmt[e]] += amount[:, e]
        else:
            current[events.cmt[:, e], subjects] += amount[:, e]
        state[e] = current
    # Consumers index (compartment, subject, event).
    order = (1, 2, 0)
    return EventStates(np.ascontiguousarray(time), state.transpose(order), rates.transpose(order), has_rates)


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
    n, n_ev = es.time.shape
    pieces = np.zeros((n, n_ev))
    if n_ev > 1:
        pieces[:, 1:] = propagate(
            kin.reshaped((n, 1)),
            es.state[:, :, :-1],
            es.rates[:, :, :-1],
            np.diff(es.time, axis=1),
            sources,
            weights=weights[:, :, None],
            integral=True,
        )
    return np.cumsum(pieces, axis=1)


def evaluate(
    kin: Kinetics,
    events: Events,
    times: np.ndarray,
    weights: np.ndarray,
    *,
    integral: bool = False,
    left: bool = False,
    method: str = "auto",
) -> np.ndarray:
    """Weighted sum of amounts ``sum_i w_i A_i(t)`` (or its integral from 0 to t) at ``times``.

    ``kin``: rate constants of shape (n_subjects,); ``events``: dose events (times >= 0);
    ``times``: sorted output times (h, >= 0), shared (n_times,) or per subject (n_subjects,
    n_times); ``weights``: shape (3, n_subjects), e.g. (0, 1/V1, 0) for the central concentration
    in mg/L. Returns (n_subjects, n_times). ``left=True`` gives left limits (the value just
    before a dose at exactly that time, e.g. a trough). ``method`` chooses the
    driver: "direct" evaluates every output from the state after its last event; "grid" does the
    same at block starts of a uniform grid and reuses the per-subject propagator of one grid step
    inside blocks (same numbers to rounding, several times faster for large populations);
    "auto" picks "grid" when it applies and pays off.
    """
    n = kin.k10.shape[0]
    times = np.asarray(times, dtype=float)
    if events.time.shape[-1] == 0:
        return np.zeros((n, times.shape[-1]))
    es = event_states(kin, events, n)
    sources = events.sources(kin)
    step = uniform_step(times) if times.ndim == 1 else None
    if method == "auto":
        grid_ok = events.shared_times and step is not None and not integral and not left
        method = "grid" if grid_ok and n >= 16 and len(times) >= 4 * _BLOCK else "direct"
    if method == "grid":
        if integral or left or step is None or not events.shared_times:
            raise ValueError("the grid driver needs shared event times, a uniform grid, no integral, no left limit")
        return _evaluate_grid(kin, es, times, step, weights, sources)
    return _evaluate_direct(kin, es, times, weights, sources, integral, left)


_BLOCK = 64
_CELLS_PER_CHUNK = 1 << 18


def uniform_step(times: np.ndarray) -> float | None:
    """The step of an evenly spaced grid (to 1e-12 of its span), else None."""
    if len(times) < 2:
        return None
    span = times[-1] - times[0]
    step = span / (len(times) - 1)
    if step <= 0:
        return None
    deviation = np.max(np.abs(times - (times[0] + step * np.arange(len(times)))))
    return step if deviation <= 1e-12 * max(1.0, abs(times[-1])) else None


def _evaluate_direct(
    kin: Kinetics,
    es: EventStates,
    times: np.ndarray,
    weights: np.ndarray,
    sources: tuple[int, ...],
    integral: bool,
    left: bool,
) -> np.ndarray:
    n = es.time.shape[0]
    times2d = np.broadcast_to(times, (n, times.shape[-1]))
    out = np.zeros(times2d.shape)
    idx = last_event_index(es.time, times, left)
    integrals = event_integrals(kin, es, weights, sources) if integral else None
    rows_per_chunk = max(1, _CELLS_PER_CHUNK // max(times2d.shape[1], 1))
    for start in range(0, n, rows_per_chunk):
        stop = min(n, start + rows_per_chunk)
        rows = np.arange(start, stop)[:, None]
        last = idx[start:stop]
        valid = last >= 0
        last = np.where(valid, last, 0)
        # Before the first event there is nothing to propagate; a step of 0 there (instead of
        # the negative time to the first event) keeps exp() from overflowing on a discarded value.
        h = np.where(valid, times2d[start:stop] - es.time[rows, last], 0.0)
        sub = Kinetics(*(x[start:stop, None] for x in (kin.ka, kin.k10, kin.k12, kin.k21)))
        value = propagate(
            sub,
            es.state[:, rows, last],
            es.rates[:, rows, last],
            h,
            sources,
            weights=weights[:, start:stop, None],
            integral=integral,
        )
        if integrals is not None:
            value = value + integrals[rows, last]
        out[start:stop] = np.where(valid, value, 0.0)
    return out


def _evaluate_grid(
    kin: Kinetics, es: EventStates, times: np.ndarray, step: float, weights: np.ndarray, sources: tuple[int, ...]
) -> np.ndarray:
    n, n_t = es.time.shape[0], len(times)
    # Time-major so that every operation below runs over contiguous rows of all subjects; the
    # caller gets the transpose, a view.
    out = np.zeros((n_t, n))
    last = last_event_index(es.time[:1], times)[0]
    starts = [j for j in range(n_t) if last[j] >= 0 and (j == 0 or last[j] != last[j - 1])]
    if not starts:
        return out.T
    steps = StepCache(kin, sources)
    widest = max(min(_BLOCK, z - a) for a, z in zip(starts, starts[1:] + [n_t]))
    response, rate_response = _grid_responses(steps, weights, step, widest, es.has_rates)
    # Each run of outputs after the same event is cut into blocks of _BLOCK steps; the state at a
    # block start comes from the event (first block) or from the previous block start.
    for a, z in zip(starts, starts[1:] + [n_t]):
        e = last[a]
        rates = es.rates[:, :, e]
        # rate_response exists exactly when some event has a rate (es.has_rates).
        infusing = rates if rate_response is not None and np.any(rates) else None
        state = steps.propagate(es.state[:, :, e], infusing, float(times[a] - es.time[0, e]))
        for b in range(a, z, _BLOCK):
            if b > a:
                state = steps.propagate(state, infusing, _BLOCK * step)
            width = min(_BLOCK, z - b)
            view = out[b : b + width]
            np.einsum("srn,sn->rn", response[:, :width], state, out=view)
            if infusing is not None and rate_response is not None:
                view += np.einsum("srn,sn->rn", rate_response[:, :width], infusing)
    return out.T


def _grid_responses(
    steps: StepCache, weights: np.ndarray, step: float, width: int, with_rates: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Weighted responses r grid steps after a block start, r < ``width``, per subject.

    ``response[s, r]`` = sum_t w_t Phi(r step)[t, s] (to a unit amount in source s) and
    ``rate_response[s, r]`` = sum_t w_t Gamma(r step)[t, s] (to a unit rate; None without
    infusions), each of shape (3, width, n_subjects), built row by row from the one-step
    propagator: w Phi(r d) = (w Phi((r-1) d)) Phi(d), w Gamma(r d) = w Gamma((r-1) d) + w Phi((r-1) d) Gamma(d).
    """
    phi = steps.matrix(step)
    response = np.zeros((N_STATES, width, weights.shape[1]))
    response[:, 0] = weights
    for r in range(1, width):
        response[:, r] = np.einsum("tn,tsn->sn", response[:, r - 1], phi)
    if not with_rates:
        return response, None
    gamma = steps.matrix(step, 1)
    rate_response = np.zeros_like(response)
    for r in range(1, width):
        rate_response[:, r] = rate_response[:, r - 1] + np.einsum("tn,tsn->sn", response[:, r - 1], gamma)
    return response, rate_response
