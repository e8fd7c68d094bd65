"""One observed curve of every subject (e.g. the central concentration) at any per-subject times:
its value, slope, curvature and exact integral, and the searches built on them.

The state just after each event is computed once (:func:`pkmodel.engine.propagation.event_states`)
and every query starts from it, so a search that asks a hundred questions rebuilds nothing. The
slope needs no derivative of the closed forms: the state obeys the model's own equation
``A' = K A + R`` (K the rate matrix, R the infusion rates, constant between events), so
``C' = w (K A + R)`` and ``C'' = w K (K A + R)``.

Units: times h, amounts mg, rates mg/h; with the weights (0, 1/V1, 0) values are mg/L, slopes
mg/L/h, integrals mg·h/L.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pkmodel.engine.kinetics import CENTRAL, DEPOT, N_STATES, PERIPHERAL, Kinetics, transfer_matrix
from pkmodel.engine.propagation import Events, EventStates, event_pieces, event_states

# A search stops for a subject once its Newton step is below this fraction of the time (h):
# quadratic convergence puts that last iterate at the rounding limit, and a tighter stop would
# chase the rounding noise of the slope (iterates a few ulps apart, taking turns).
_RTOL = 1e-12
_MAX_ITERATIONS = 200
_FEW_STEPS = 8  # distinct steps between shared events worth one propagator each  # bisection alone halves the bracket 200 times: far below an ulp of any time


class Curve:
    """``sum_i w_i A_i(t)`` of each subject under its dose events.

    ``kin``: rate constants (n_subjects,); ``events``: sorted dose events; ``weights``: (3,
    n_subjects); ``states``: the event states, when already computed for these events.
    Every query takes per-subject times ``t`` (n,) for the subjects ``who`` (n,) (default: all).
    """

    def __init__(self, kin: Kinetics, events: Events, weights: np.ndarray, states: EventStates | None = None) -> None:
        self.n = kin.k10.shape[0]
        self.kin = kin
        self.weights = weights
        self.sources = events.sources(kin)
        self.states = event_states(kin, events, self.n) if states is None else states
        self._shared = events.shared_times
        self._pieces: np.ndarray | None = None

    # --- the state at any time --------------------------------------------------------------

    def _who(self, who: np.ndarray | None) -> np.ndarray:
        return np.arange(self.n) if who is None else who

    def _sub(self, who: np.ndarray) -> Kinetics:
        return self.kin.subset(who)

    def last_event(self, t: np.ndarray, who: np.ndarray, left: bool = False) -> np.ndarray:
        """Index of each subject's last event at or before ``t`` (strictly before with ``left``);
        -1 before the first."""
        time = self.states.time
        if self._shared:
            return np.searchsorted(time[0], t, side="left" if left else "right") - 1
        before = time[who] < t[:, None] if left else time[who] <= t[:, None]
        return np.sum(before, axis=1) - 1

    def state(self, t: np.ndarray, who: np.ndarray | None = None, left: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(amounts (3, n) in mg, infusion rates (3, n) in mg/h) at ``t``; right-continuous
        unless ``left`` (then the limit just before an event at exactly ``t``)."""
        who = self._who(who)
        t = np.asarray(t, dtype=float)
        idx = self.last_event(t, who, left)
        return self._from_event(t, who, idx)

    def _from_event(self, t: np.ndarray, who: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        es = self.states
        valid = idx >= 0
        i = np.maximum(idx, 0)
        # Before the first event nothing is propagated (h = 0 keeps exp() from overflowing on a
        # discarded value).
        h = np.where(valid, t - es.time[who, i], 0.0)
        kin = self._sub(who)
        start, rates = es.state[:, who, i], es.rates[:, who, i]
        out = np.einsum("tsn,sn->tn", transfer_matrix(kin, h, self.sources), start)
        if es.has_rates:
            out += np.einsum("tsn,sn->tn", transfer_matrix(kin, h, self.sources, 1), rates)
        return np.where(valid, out, 0.0), np.where(valid, rates, 0.0)

    def _flow(self, who: np.ndarray, amounts: np.ndarray, rates: np.ndarray | float) -> np.ndarray:
        """K A + R: the time derivative of the amounts (mg/h)."""
        k = self.kin
        ka, k10, k12, k21 = k.ka[who], k.k10[who], k.k12[who], k.k21[who]
        a0, a1, a2 = amounts[DEPOT], amounts[CENTRAL], amounts[PERIPHERAL]
        out = np.empty((N_STATES, len(who)))
        out[DEPOT] = -ka * a0
        out[CENTRAL] = ka * a0 - (k10 + k12) * a1 + k21 * a2
        out[PERIPHERAL] = k12 * a1 - k21 * a2
        return out + rates

    # --- values, slopes, integrals ----------------------------------------------------------

    def value(self, t: np.ndarray, who: np.ndarray | None = None, left: bool = False) -> np.ndarray:
        """The curve at ``t`` (n,)."""
        who = self._who(who)
        amounts, _ = self.state(t, who, left)
        return np.einsum("tn,tn->n", self.weights[:, who], amounts)

    def slopes(self, t: np.ndarray, who: np.ndarray, left: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(first, second) time derivatives at ``t`` (of the right limit, or the left one)."""
        amounts, rates = self.state(t, who, left)
        w = self.weights[:, who]
        first = self._flow(who, amounts, rates)
        return np.einsum("tn,tn->n", w, first), np.einsum("tn,tn->n", w, self._flow(who, first, 0.0))

    def _integral_from(self, amounts: np.ndarray, rates: np.ndarray, h: np.ndarray, who: np.ndarray) -> np.ndarray:
        """Integral over [0, h] of the curve that starts from ``amounts`` under ``rates``."""
        kin = self._sub(who)
        out = np.einsum("tsn,sn->tn", transfer_matrix(kin, h, self.sources, 1), amounts)
        if self.states.has_rates:
            out += np.einsum("tsn,sn->tn", transfer_matrix(kin, h, self.sources, 2), rates)
        return np.einsum("tn,tn->n", self.weights[:, who], out)

    @property
    def pieces(self) -> np.ndarray:
        """(n, n_events): the integral from event e - 1 to event e in column e (column 0 is 0)."""
        if self._pieces is None:
            self._pieces = event_pieces(self.kin, self.states, self.weights, self.sources)
        return self._pieces

    def integral(self, a: np.ndarray, b: np.ndarray, who: np.ndarray | None = None) -> np.ndarray:
        """Exact integral from ``a`` to ``b`` >= ``a`` (per subject): from the state at ``a`` to the
        next event, the whole pieces between events, and from the last event to ``b``. Every term
        is the integral of a non-negative curve, so nothing cancels."""
        who = self._who(who)
        a = np.broadcast_to(np.asarray(a, dtype=float), who.shape)
        b = np.broadcast_to(np.asarray(b, dtype=float), who.shape)
        es = self.states
        n_ev = es.time.shape[1]
        ia, ib = self.last_event(a, who), self.last_event(b, who)
        amounts, rates = self._from_event(a, who, ia)
        # The first stretch ends at the next event, or at b when no event lies in (a, b].
        nxt = np.minimum(ia + 1, n_ev - 1)
        first_end = np.where(ib > ia, es.time[who, nxt], b)
        total = self._integral_from(amounts, rates, first_end - a, who)
        later = ib > ia
        if np.any(later):
            cols = np.arange(n_ev)
            inside = (cols > (ia + 1)[:, None]) & (cols <= ib[:, None])
            total = total + np.where(later, np.sum(self.pieces[who] * inside, axis=1), 0.0)
            j = np.maximum(ib, 0)
            tail = self._integral_from(es.state[:, who, j], es.rates[:, who, j], b - es.time[who, j], who)
            total = total + np.where(later, tail, 0.0)
        return total

    # --- searches ---------------------------------------------------------------------------

    def peak_between(self, lo: np.ndarray, hi: np.ndarray, who: np.ndarray) -> np.ndarray:
        """For each subject with a slope > 0 just after ``lo`` and < 0 just before ``hi``, the
        time in between where the slope changes sign (a maximum, or the kink of one): Newton on
        C' = 0 from the middle, a bisection step wherever Newton leaves the bracket. Other
        subjects get NaN."""
        lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
        up, _ = self.slopes(lo, who)
        down, _ = self.slopes(hi, who, left=True)
        def rising_slope(here: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            first, second = self.slopes(here, who[active])
            return -first, -second  # -C' increases through 0 at the peak

        return _bracketed_root(np.flatnonzero((up > 0) & (down < 0)), lo, hi, rising_slope)

    def time_to_integral(self, start: np.ndarray, target: np.ndarray) -> np.ndarray:
        """For each subject, the time t >= ``start`` at which the integral from ``start`` reaches
        ``target`` > 0 (h): an upper bound by doubling, then Newton (the slope of the integral is
        the curve itself) with bisection inside the bracket. NaN where the integral never gets
        there within 2**60 h."""
        who = np.arange(self.n)
        start = np.broadcast_to(np.asarray(start, dtype=float), (self.n,)).copy()
        lo, hi = start.copy(), start + 24.0
        short = np.ones(self.n, dtype=bool)
        for _ in range(60):
            idx = np.flatnonzero(short)
            if idx.size == 0:
                break
            below = self.integral(start[idx], hi[idx], who[idx]) < target[idx]
            lo[idx[below]] = hi[idx[below]]
            hi[idx[below]] = start[idx[below]] + 2 * (hi[idx[below]] - start[idx[below]])
            short[idx[~below]] = False

        def gap(here: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # The integral's slope is the curve itself.
            return self.integral(start[active], here, active) - target[active], self.value(here, active)

        return _bracketed_root(np.flatnonzero(~short), lo, hi, gap)


def _bracketed_root(
    active: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    g: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Per subject (indices ``active``; the others get NaN), the root in [lo, hi] of an increasing
    function: ``g(t, active)`` returns its value (< 0 below the root) and slope. Newton from the
    middle, a bisection step wherever Newton would leave the bracket; ``lo`` and ``hi`` narrow in
    place."""
    out = np.full(lo.shape, np.nan)
    t = 0.5 * (lo + hi)
    for _ in range(_MAX_ITERATIONS):
        if active.size == 0:
            break
        here = t[active]
        value, slope = g(here, active)
        low = value < 0
        lo[active] = np.where(low, here, lo[active])
        hi[active] = np.where(low, hi[active], here)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = here - value / slope
        inside = (slope > 0) & (newton >= lo[active]) & (newton <= hi[active])
        nxt = np.where(inside, newton, 0.5 * (lo[active] + hi[active]))
        t[active] = nxt
        settled = (value == 0) | _settled(here, nxt, inside, lo[active], hi[active])
        out[active[settled]] = np.where(value[settled] == 0, here[settled], nxt[settled])
        active = active[~settled]
    out[active] = t[active]
    return out


def _settled(here: np.ndarray, nxt: np.ndarray, newton: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A search is done once a Newton step (``newton``: it was one) or the bracket is within
    ``_RTOL`` of the time. (A converged Newton step may land exactly on the bracket end that the
    last iterate set.)"""
    tol = _RTOL * np.maximum(np.abs(here), 1.0)
    return (newton & (np.abs(nxt - here) <= tol)) | (hi - lo <= tol)
