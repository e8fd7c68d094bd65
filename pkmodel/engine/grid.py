"""The grid driver of :func:`pkmodel.engine.analytic.evaluate`: outputs on a uniform grid of
times, from one table of responses per subject (the weighted propagator at the grid's offsets)
and the state at the start of each stretch of outputs, in a few batched matrix products.

Units: amounts mg, times h, rates mg/h.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pkmodel.engine.kinetics import N_STATES, Kinetics, transfer_matrix
from pkmodel.engine.propagation import EventStates

# Longest stretch (grid steps): longer runs are cut into stretches, each started from the state
# the stretch before it leaves.
_MAX_WIDTH = 8192
# What the stretch width weighs against padded outputs, in output cells (measured on 1,000 and
# 10,000 subjects): a propagator cell (one closed-form 3 x 3 matrix at one time, per subject)
# and the start state of a stretch that is not its run's first (a 3 x 3 product per subject).
_PROPAGATOR_COST = 50
_LATER_STRETCH_COST = 32
# Subjects handled at once: about this many cells of response tables and stretch states, and of
# padded output where the stretches do not tile the grid.
_STATE_CELLS = 1 << 21
_PADDED_CELLS = 1 << 17
# ... and at most this many closed-form propagators (subjects x steps). Each makes a dozen
# temporaries of that size on the way; kept within a core's L2 cache (128 KiB each) their passes
# run about twice as fast as from memory. It matters where every dose adds a step of its own (a
# grid whose step does not divide the dose interval: np.linspace(0, 1008, 1000) with doses every
# 12 h went from 34 to 20 ns per output on 4,000 subjects).
_PROPAGATOR_CELLS = 1 << 14
# Distinct steps from a run's event to its first output handled one by one (more: all at once).
_FEW_STEPS = 16
# Spans written one by one (more: through a padded table and one gather).
_FEW_SPANS = 64
# Segments of runs whose start states are copied as slices (more: one gather).
_FEW_SEGMENTS = 16


def evaluate_grid(
    kin: Kinetics, es: EventStates, times: np.ndarray, step: float, weights: np.ndarray, sources: tuple[int, ...]
) -> np.ndarray:
    """The grid driver: (n_observables, n_subjects, n_times), each observable C-contiguous.

    The outputs after the same event form a run; runs are cut into stretches of ``width`` grid
    steps (:func:`_stretch_width`: on a regular regimen, one stretch per dose). A
    stretch's outputs are its start state (1 x 3, per subject) times the subject's response table
    (3 x width: the weighted propagator at each offset r * step), so all stretches of all
    subjects are a few batched matrix products. The state at a run's first output comes from
    its event by the propagator of that (few distinct) step; at a later stretch's start from
    the run's first, by the closed-form propagator of j stretches (no rounding carried from
    stretch to stretch). Where consecutive stretches tile the outputs (every one full but the
    last: a span; a regular regimen has one) the products are written straight into the
    output; with many spans, into a padded table, cache-sized, gathered into the output."""
    n_obs, n, n_t = weights.shape[0], es.time.shape[0], len(times)
    plan = _StretchPlan.of(es.time[0], times)
    if plan is None:
        return np.zeros((n_obs, n, n_t))
    # Every output from the first run on is written below: only those before it need zeros.
    out = np.empty((n_obs, n, n_t))
    out[:, :, : plan.run_start[0]] = 0.0
    # From each run's event to the run's first output (h): a regular regimen on a regular grid
    # repeats a few such steps, so one propagator per distinct step.
    run_step = times[plan.run_start] - es.time[0, plan.run_event]
    distinct, kind = np.unique(run_step, return_inverse=True)
    fine = max(1, round(np.sqrt(plan.width)))
    coarse = -(-plan.width // fine)
    # Every propagator a block needs, in one call: offsets p * step (p < fine) and q * fine *
    # step (q < coarse) for the response tables, the distinct run steps, j stretches (j >= 1).
    later = step * plan.width * np.arange(1, int(plan.stretch_piece.max()) + 1)
    hs = np.concatenate([step * np.arange(fine), step * fine * np.arange(coarse), distinct, later])
    parts = np.cumsum([fine, coarse, len(distinct)])
    per_block = max(
        1,
        min(n, _STATE_CELLS // (N_STATES * (plan.n_stretches + n_obs * (plan.width + coarse))), _PROPAGATOR_CELLS // len(hs)),
    )
    for s0 in range(0, n, per_block):
        who = slice(s0, min(n, s0 + per_block))
        # One block: views of the caller's Kinetics, eigenvalues included (not computed again).
        sub = kin if per_block >= n else kin.subset(who)
        grid_kin = sub.reshaped((-1, 1))
        phi = np.split(_propagators(grid_kin, hs, sources), parts, axis=-1)
        gamma = np.split(_propagators(grid_kin, hs, sources, 1), parts, axis=-1) if es.has_rates else None
        w = weights[:, :, who]
        response = _response_table(w, phi[0], phi[1], plan.width)
        rate_response = None if gamma is None else _response_table(w, gamma[0], phi[1], plan.width, gamma[1])
        states, rates = _stretch_states(es, who, plan, distinct, kind, phi[2:], None if gamma is None else gamma[2:])
        for k in range(n_obs):
            _write(out[k, who], plan, states, response[k])
            if rates is not None and rate_response is not None:
                _write(out[k, who], plan, rates, rate_response[k], add=True)
    return out


def _propagators(grid_kin: Kinetics, hs: np.ndarray, sources: tuple[int, ...], extra_zeros: int = 0) -> np.ndarray:
    """Phi (``extra_zeros=0``) or Gamma (1) at each step of ``hs`` (h), (3, 3, n_subjects,
    len(hs)). A step of 0 is the identity on the sources (Gamma: 0) without the closed form,
    whose divided differences at coinciding points take the slow Taylor branch."""
    zero = hs == 0
    out = np.zeros((N_STATES, N_STATES, grid_kin.k10.shape[0], len(hs)))
    if not np.all(zero):
        out[..., ~zero] = transfer_matrix(grid_kin, hs[None, ~zero], sources, extra_zeros)
    if extra_zeros == 0 and np.any(zero):
        for c in sources:
            out[c, c][:, zero] = 1.0
    return out


def _response_table(
    weights: np.ndarray, fine: np.ndarray, coarse: np.ndarray, width: int, coarse_gamma: np.ndarray | None = None
) -> np.ndarray:
    """Weighted responses at offsets r * step, r < ``width``: (n_observables, n_subjects, 3,
    width); ``[k, n, s, r]`` = sum_t w_kt Phi(r step)[t, s], to a unit amount in source s.

    With r = q * F + p, Phi(r step) = Phi(q F step) Phi(p step), so the closed form is needed at
    F + Q offsets (``fine``: Phi(p step), p < F; ``coarse``: Phi(q F step), q < Q; each (3, 3,
    n_subjects, offsets)) instead of F * Q. Every entry of Phi and every weight is
    non-negative, so the product adds no cancellation: each entry stays within a few ulps of the
    closed form. With ``fine`` = Gamma(p step) and ``coarse_gamma`` = Gamma(q F step) this is the
    response to a unit infusion rate, by Gamma(a + b) = Phi(b) Gamma(a) + Gamma(b)."""
    n_obs, n, f, q = weights.shape[0], fine.shape[2], fine.shape[3], coarse.shape[3]
    rows = np.einsum("ktn,tsnq->knqs", weights, coarse)  # w Phi(q F step): (n_obs, n, Q, 3)
    by_fine = np.ascontiguousarray(fine.transpose(2, 0, 1, 3)).reshape(n, N_STATES, N_STATES * f)
    table = np.matmul(rows, by_fine).reshape(n_obs, n, q, N_STATES, f)
    if coarse_gamma is not None:
        table += np.einsum("ktn,tsnq->knqs", weights, coarse_gamma)[..., None]
    return np.ascontiguousarray(table.transpose(0, 1, 3, 2, 4).reshape(n_obs, n, N_STATES, q * f)[..., :width])


@dataclass(frozen=True)
class _StretchPlan:
    """Where the stretches of a uniform grid lie (shared by every subject).

    ``run_event``: the event of each run; ``run_start`` / ``run_length``: its first output and
    number of outputs; ``stretch_run`` / ``stretch_piece``: each stretch's run and its index
    within the run (0 at the run's start); ``first_stretch``: each run's first stretch;
    ``segments``: runs whose first stretches and events follow one another (the first run's
    first stretch, its event, the number of runs); ``spans``: outputs that consecutive
    stretches tile (first output, number of outputs, first stretch), where every stretch but a
    span's last is full."""

    width: int
    run_event: np.ndarray
    run_start: np.ndarray
    run_length: np.ndarray
    stretch_run: np.ndarray
    stretch_piece: np.ndarray
    first_stretch: np.ndarray
    segments: tuple[tuple[int, int, int], ...]
    spans: tuple[tuple[int, int, int], ...]

    @property
    def n_stretches(self) -> int:
        return len(self.stretch_run)

    @classmethod
    def of(cls, event_time: np.ndarray, times: np.ndarray) -> _StretchPlan | None:
        # Event e's run: the outputs from the first at or after it (right-continuity) to the
        # first at or after the next event; empty when no output lies between them.
        # (Array methods rather than numpy's functions here: this runs on every evaluation of a grid,
        # where for one subject the Python wrappers cost more than the work.)
        starts = times.searchsorted(event_time, side="left")
        ends = np.concatenate((starts[1:], [len(times)]))
        run_event = (ends > starts).nonzero()[0]
        n_runs = len(run_event)
        if n_runs == 0:
            return None
        run_start, run_length = starts[run_event], (ends - starts)[run_event]
        width = _stretch_width(run_length)
        pieces = -(-run_length // width)
        stretch_run = np.arange(n_runs).repeat(pieces)
        first_stretch = pieces.cumsum() - pieces
        stretch_piece = np.arange(len(stretch_run)) - first_stretch.repeat(pieces)
        # Segments of runs whose first stretches and events both follow one another.
        breaks = (((first_stretch[1:] - first_stretch[:-1]) != 1) | ((run_event[1:] - run_event[:-1]) != 1)).nonzero()[0]
        bounds = [0, *(breaks + 1).tolist(), n_runs]
        segments = tuple(
            (int(first_stretch[a]), int(run_event[a]), b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        )
        # A span ends after each run whose last stretch is partial (and after the last run).
        ends_span = ((run_length % width).nonzero()[0] + 1).tolist()
        bounds = [0, *ends_span] if ends_span and ends_span[-1] == n_runs else [0, *ends_span, n_runs]
        stop = run_start + run_length
        spans = tuple(
            (int(run_start[a]), int(stop[b - 1] - run_start[a]), int(first_stretch[a]))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        )
        return cls(width, run_event, run_start, run_length, stretch_run, stretch_piece, first_stretch, segments, spans)

    @cached_property
    def gather(self) -> np.ndarray:
        """For each output from the first run on, its place in the (stretch, offset) table."""
        stretch_start = self.run_start[self.stretch_run] + self.stretch_piece * self.width
        stop = (self.run_start + self.run_length)[self.stretch_run]
        of_output = np.repeat(np.arange(self.n_stretches), np.minimum(self.width, stop - stretch_start))
        return of_output * self.width + (np.arange(len(of_output)) + self.run_start[0] - stretch_start[of_output])


def _stretch_width(run_length: np.ndarray) -> int:
    """The stretch width (grid steps) of least estimated cost per subject, among the most common
    run length (a regular regimen's dose interval: one stretch per dose) and powers of 2.

    The cost counts padded outputs (twice where the stretches do not tile the grid, for the
    gather), stretch states (3 numbers each; ``_LATER_STRETCH_COST`` for one that is not its
    run's first) and propagator cells (the response table's 2 sqrt(width) and one per further
    stretch of the longest run), each worth ``_PROPAGATOR_COST`` outputs. So a dose given at every grid point before a long washout gets
    neither one-step stretches (a propagator per step of the washout) nor stretches as long as
    the washout (each dose's run padded to that length)."""
    lengths, counts = np.unique(run_length, return_counts=True)
    common = int(lengths[len(counts) - 1 - counts[::-1].argmax()])
    top = min(int(lengths[-1]), _MAX_WIDTH)
    # From the widest: on a tie argmin keeps the first, with fewer stretches.
    widths = np.array(sorted({min(common, top), *(min(p, top) for p in _POWERS_OF_2)}, reverse=True))
    pieces = -(-lengths // widths[:, None])
    stretches = pieces @ counts
    tiled = ~(run_length[:-1] % widths[:, None]).any(axis=1)
    cost = (stretches * widths * (2 - tiled) + 3 * stretches).astype(float)
    cost += _LATER_STRETCH_COST * (stretches - len(run_length))
    cost += _PROPAGATOR_COST * (pieces.max(axis=1) - 1 + 2 * np.sqrt(widths))
    return int(widths[cost.argmin()])


_POWERS_OF_2 = tuple(1 << k for k in range(_MAX_WIDTH.bit_length()))


def _stretch_states(
    es: EventStates,
    who: slice,
    plan: _StretchPlan,
    distinct: np.ndarray,
    kind: np.ndarray,
    phi: list[np.ndarray],
    gamma: list[np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The state (mg) at every stretch start and the infusion rates (mg/h) running there (None
    without infusions), each (n_block, n_stretches, 3): the left factor of the stretch products.

    ``phi`` / ``gamma``: the block's propagators (3, 3, n_block, m), first over each ``distinct``
    step (h) from a run's event to its first output (``kind``: which one, per run), then over
    j = 1, 2, ... stretches. A state row times a propagator's transpose moves it (row vectors,
    so that the stretch states stay in the layout the products read)."""
    by_event = es.state.transpose(1, 2, 0)[who]  # (n_block, n_events, 3)
    states = np.empty((by_event.shape[0], plan.n_stretches, N_STATES))
    # Each run's first stretch starts from the state just after the run's event; where runs and
    # events follow one another (a regular regimen) that is a few slice copies, not a gather.
    if len(plan.segments) <= _FEW_SEGMENTS:
        for stretch0, event0, count in plan.segments:
            states[:, stretch0 : stretch0 + count] = by_event[:, event0 : event0 + count]
    else:
        states[:, plan.first_stretch] = by_event[:, plan.run_event]
    rates = None
    if gamma is not None:
        rates = np.ascontiguousarray(es.rates.transpose(1, 2, 0)[who][:, plan.run_event[plan.stretch_run]])
    steps = phi[0].shape[-1]
    if steps > _FEW_STEPS:  # irregular: every run its own step, gathered at once
        first = states[:, plan.first_stretch]
        moved = np.matmul(first[:, :, None, :], phi[0].transpose(2, 3, 1, 0)[:, kind])[:, :, 0]
        if rates is not None and gamma is not None:
            run_rates = rates[:, plan.first_stretch, None, :]
            moved += np.matmul(run_rates, gamma[0].transpose(2, 3, 1, 0)[:, kind])[:, :, 0]
        states[:, plan.first_stretch] = moved
    else:
        for d in range(steps):
            if distinct[d] == 0:
                continue  # the run starts at its event
            at = plan.first_stretch[kind == d]
            moved = np.matmul(states[:, at], phi[0][..., d].transpose(2, 1, 0))
            if rates is not None and gamma is not None:
                moved += np.matmul(rates[:, at], gamma[0][..., d].transpose(2, 1, 0))
            states[:, at] = moved
    if plan.n_stretches == len(plan.run_start):  # one stretch per run
        return states, rates
    # A later stretch starts j stretches after its run's first: Phi(j stretch) moves the first
    # stretch's state there (+ Gamma(j stretch) the rates), each from the closed form.
    later = np.flatnonzero(plan.stretch_piece)
    piece = plan.stretch_piece[later] - 1
    start = states[:, plan.first_stretch[plan.stretch_run[later]], None, :]
    moved = np.matmul(start, phi[1].transpose(2, 3, 1, 0)[:, piece])[:, :, 0]
    if rates is not None and gamma is not None:
        moved += np.matmul(rates[:, later, None, :], gamma[1].transpose(2, 3, 1, 0)[:, piece])[:, :, 0]
    states[:, later] = moved
    return states, rates


def _write(out: np.ndarray, plan: _StretchPlan, left: np.ndarray, response: np.ndarray, add: bool = False) -> None:
    """``out`` (n_block, n_times) = (or +=) the stretch products ``left`` (n_block, n_stretches,
    3) @ ``response`` (n_block, 3, width), each stretch's outputs in place (outputs before the
    first run are left alone)."""
    width = plan.width
    if len(plan.spans) <= _FEW_SPANS:
        for begin, length, stretch in plan.spans:
            # Full stretches straight into the output; the span's last (maybe partial) one apart.
            full = length // width
            body = out[:, begin : begin + full * width].reshape(len(out), full, width)
            if add:
                body += np.matmul(left[:, stretch : stretch + full], response)
            else:
                np.matmul(left[:, stretch : stretch + full], response, out=body)
            rest = length - full * width
            if rest:
                part = np.matmul(left[:, stretch + full : stretch + full + 1], response[:, :, :rest])[:, 0]
                view = out[:, begin + full * width : begin + length]
                view[...] = view + part if add else part
        return
    gather, tail = plan.gather, out[:, plan.run_start[0] :]
    n_str = plan.n_stretches
    rows = max(1, _PADDED_CELLS // (n_str * width))
    for r0 in range(0, len(tail), rows):
        padded = np.matmul(left[r0 : r0 + rows], response[r0 : r0 + rows]).reshape(-1, n_str * width)
        if add:
            tail[r0 : r0 + rows] += padded[:, gather]
        else:
            tail[r0 : r0 + rows] = padded[:, gather]
