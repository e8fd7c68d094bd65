"""Evaluation of linear compartment models at output times: the engine's entry point.

:func:`evaluate` turns rate constants (:mod:`pkmodel.engine.kinetics`) and dose events
(:mod:`pkmodel.engine.propagation`) into weighted amounts (e.g. concentrations) or their
integrals at any output times; on a uniform grid it reuses one grid step's propagator. The names
of the lower engine modules that callers need are re-exported here.
"""

from __future__ import annotations

import numpy as np

from pkmodel.engine.kinetics import CENTRAL, DEPOT, N_STATES, PERIPHERAL, Kinetics, StepCache, transfer_matrix
from pkmodel.engine.propagation import (
    Events,
    EventStates,
    apply_propagators,
    event_integrals,
    event_states,
    last_event_index,
    propagate,
)

__all__ = [
    "CENTRAL",
    "DEPOT",
    "N_STATES",
    "PERIPHERAL",
    "Events",
    "Kinetics",
    "evaluate",
    "transfer_matrix",
    "uniform_step",
]


def evaluate(
    kin: Kinetics,
    events: Events,
    times: np.ndarray,
    weights: np.ndarray,
    *,
    integral: bool = False,
    left: bool = False,
    method: str = "auto",
    states: EventStates | None = None,
) -> np.ndarray:
    """Weighted sum of amounts ``sum_i w_i A_i(t)`` (or its integral from 0 to t) at ``times``.

    ``kin``: rate constants of shape (n_subjects,); ``events``: dose events (times >= 0);
    ``times``: sorted output times (h, >= 0), shared (n_times,) or per subject (n_subjects,
    n_times); ``weights``: shape (3, n_subjects), e.g. (0, 1/V1, 0) for the central concentration
    in mg/L, or (n_observables, 3, n_subjects) for several observables in one pass. Returns
    (n_subjects, n_times), or (n_observables, n_subjects, n_times); either way each
    observable's matrix is C-contiguous, one row per subject (``.ravel()`` is a view). ``left=True`` gives left limits (the value just
    before a dose at exactly that time, e.g. a trough). ``method`` chooses the
    driver: "direct" evaluates every output from the state after its last event; "grid" does the
    same at block starts of a uniform grid and reuses the per-subject propagator of one grid step
    inside blocks (same numbers to rounding, several times faster for large populations);
    "auto" picks "grid" when it applies and pays off. ``states``: the event states of these
    events, when the caller has them already.
    """
    n = kin.k10.shape[0]
    times = np.asarray(times, dtype=float)
    stacked = weights.ndim == 3
    many = weights if stacked else weights[None]
    if events.time.shape[-1] == 0:
        empty = np.zeros((len(many), n, times.shape[-1]))
        return empty if stacked else empty[0]
    es = event_states(kin, events, n) if states is None else states
    sources = events.sources(kin)
    step = uniform_step(times) if times.ndim == 1 else None
    if method == "auto":
        grid_ok = events.shared_times and step is not None and not integral and not left
        method = "grid" if grid_ok and len(times) >= 4 * _BLOCK else "direct"
    if method == "grid":
        if integral or left or step is None or not events.shared_times:
            raise ValueError("the grid driver needs shared event times, a uniform grid, no integral, no left limit")
        out = _evaluate_grid(kin, es, times, step, many, sources)
    else:
        out = np.empty((len(many), n, times.shape[-1]))
        for k, w in enumerate(many):
            _evaluate_direct(kin, es, times, w, sources, integral, left, out[k])
    return out if stacked else out[0]


_BLOCK = 64
_CELLS_PER_CHUNK = 1 << 18
# Output cells per subject block of the grid driver: its response table (3 doubles a cell) and
# its output stay within a core's cache.
_CELLS_PER_BLOCK = 1 << 14
_MAX_WIDTH = 8192
_MATMUL_WIDTH = 32  # stretches at least this wide: one batched matmul, else one einsum


def uniform_step(times: np.ndarray) -> float | None:
    """The step of an evenly spaced grid (to 1e-12 of its span), else None."""
    if len(times) < 2:
        return None
    span = times[-1] - times[0]
    step = span / (len(times) - 1)
    if step <= 0:
        return None
    # In place: one array, four passes (this runs on every evaluation of a grid).
    deviation = np.arange(len(times), dtype=float)
    deviation *= step
    deviation += times[0]
    deviation -= times
    worst = max(float(deviation.max()), -float(deviation.min()))
    return step if worst <= 1e-12 * max(1.0, abs(times[-1])) else None


def _evaluate_direct(
    kin: Kinetics,
    es: EventStates,
    times: np.ndarray,
    weights: np.ndarray,
    sources: tuple[int, ...],
    integral: bool,
    left: bool,
    out: np.ndarray,
) -> None:
    """Fills ``out`` (n_subjects, n_times), chunk by chunk of subjects, each output from the state
    after its last event."""
    n = es.time.shape[0]
    times2d = np.broadcast_to(times, (n, times.shape[-1]))
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


def _evaluate_grid(
    kin: Kinetics, es: EventStates, times: np.ndarray, step: float, weights: np.ndarray, sources: tuple[int, ...]
) -> np.ndarray:
    """The grid driver: (n_observables, n_subjects, n_times), each observable C-contiguous.

    Subjects go in blocks of about ``_CELLS_PER_BLOCK`` output cells, so that a block's response
    table and output stay in cache whatever the population size. Each run of outputs after the
    same event is cut into stretches of ``width`` grid steps; the state at a stretch start comes
    from the event (first stretch) or from the previous stretch start, by the propagator of one
    stretch (computed once per subject block). Within a stretch, output r is the response
    table's row r (computed directly at each offset r * step, once per subject block) times
    the state."""
    n_obs, n, n_t = weights.shape[0], es.time.shape[0], len(times)
    out = np.zeros((n_obs, n, n_t))
    last = last_event_index(es.time[:1], times)[0]
    # A run starts at every output whose last event differs from the previous output's.
    changed = np.ones(n_t, dtype=bool)
    changed[1:] = last[1:] != last[:-1]
    starts = np.flatnonzero(changed & (last >= 0)).tolist()
    if not starts:
        return out
    runs = list(zip(starts, starts[1:] + [n_t], strict=True))
    longest = max(z - a for a, z in runs)
    # Few subjects get long stretches (fewer Python steps per output), many get short ones.
    width = max(1, min(longest, max(_BLOCK, _CELLS_PER_BLOCK // n), _MAX_WIDTH))
    per_block = max(1, _CELLS_PER_BLOCK // width)
    offsets = step * np.arange(width)
    run_event = last[starts]
    # From each run's event to the run's first output (h): one propagator per run and subject.
    run_step = times[starts] - es.time[0, run_event]
    # A regular regimen on a regular grid repeats a few such steps: one propagator per distinct step.
    distinct_step, run_kind = np.unique(run_step, return_inverse=True)
    run_infuses = np.any(es.rates[:, :, run_event] != 0, axis=(0, 1)).tolist() if es.has_rates else [False] * len(runs)
    for s0 in range(0, n, per_block):
        who = slice(s0, min(n, s0 + per_block))
        # One block: the caller's Kinetics, whose eigenvalues are computed already.
        sub = kin if per_block >= n else Kinetics(*(x[who] for x in (kin.ka, kin.k10, kin.k12, kin.k21)))
        response, rate_response = _stretch_responses(sub, offsets, weights[:, :, who], sources, es.has_rates)
        # The sources that reach each observable (a depot amount is fed by the depot alone).
        feeds = [[s for s in range(N_STATES) if np.any(response[k, :, s])] or [CENTRAL] for k in range(n_obs)]
        run_rates = es.rates[:, who][:, :, run_event]  # (3, n_block, n_runs)
        grid_kin = sub.reshaped((-1, 1))
        if not np.any(distinct_step):  # every run starts at its event (doses on grid points)
            run_states = es.state[:, who][:, :, run_event]
        else:
            run_states = apply_propagators(
                transfer_matrix(grid_kin, distinct_step[None, :], sources)[..., run_kind],
                transfer_matrix(grid_kin, distinct_step[None, :], sources, 1)[..., run_kind] if es.has_rates else None,
                es.state[:, who][:, :, run_event],
                run_rates if es.has_rates else None,
            )
        steps = StepCache(sub, sources)
        for r, (a, z) in enumerate(runs):
            infusing = run_rates[:, :, r] if run_infuses[r] else None
            state = run_states[:, :, r]
            for b in range(a, z, width):
                if b > a:
                    state = steps.propagate(state, infusing, width * step)
                w = min(width, z - b)
                for k in range(n_obs):
                    view = out[k, who, b : b + w]
                    src = feeds[k]
                    if len(src) == 1:  # e.g. the depot: fed by itself alone
                        np.multiply(response[k, :, src[0], :w], state[src[0], :, None], out=view)
                    elif w >= _MATMUL_WIDTH:
                        np.matmul(state.T[:, None, :], response[k, :, :, :w], out=view[:, None, :])
                    else:  # a matmul per subject of a few columns costs more than it computes
                        np.einsum("sn,nsr->nr", state, response[k, :, :, :w], out=view)
                    if infusing is not None and rate_response is not None:
                        view += np.matmul(infusing.T[:, None, :], rate_response[k, :, :, :w])[:, 0, :]
    return out


def _stretch_responses(
    kin: Kinetics, offsets: np.ndarray, weights: np.ndarray, sources: tuple[int, ...], with_rates: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Weighted responses at ``offsets`` (h) after a stretch start, per subject.

    ``response[k, n, s, r]`` = sum_t w_kt Phi(offset_r)[t, s] (to a unit amount in source s) and
    ``rate_response`` the same with Gamma (to a unit rate; None without infusions), each of shape
    (n_observables, n_subjects, 3, n_offsets), every entry from the closed form at its offset:
    a subject's block is the (3 x n_offsets) matrix that its state (1 x 3) multiplies."""
    n = kin.k10.shape[0]
    grid = kin.reshaped((n, 1))
    response = np.einsum("ktn,tsnr->knsr", weights, transfer_matrix(grid, offsets[None, :], sources))
    if not with_rates:
        return response, None
    return response, np.einsum("ktn,tsnr->knsr", weights, transfer_matrix(grid, offsets[None, :], sources, 1))
