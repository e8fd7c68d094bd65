"""Checks shared by a run and its result: output times read and checked, and the size of the
work estimated against :mod:`pkmodel.limits` before any array of that size is built. Units: h."""

from __future__ import annotations

from typing import Any

import numpy as np

from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_CELLS, MAX_TIME_H, MAX_TIMES
from pkmodel.units import parse_quantity

__all__ = ["check_cells", "output_times"]


def output_times(times: Any) -> np.ndarray:
    """Output times (h) from numbers or strings with units: a non-empty, sorted 1-D array within
    :data:`pkmodel.limits.MAX_TIME_H` and :data:`pkmodel.limits.MAX_TIMES`."""
    if isinstance(times, str):
        raise PKModelError("times", times, "expected a sequence of times in h (numbers or strings such as '12 h')")
    arr = np.atleast_1d(np.asarray(times, dtype=object if _has_strings(times) else float))
    if arr.dtype == object:
        arr = np.array(
            [parse_quantity(t, "time", field="times") if isinstance(t, str) else t for t in arr], dtype=float
        )
    if arr.ndim != 1 or arr.size == 0:
        raise PKModelError("times", times, "expected a non-empty 1-D sequence of times (h)")
    if arr.size > MAX_TIMES:
        raise PKModelError(
            "times", f"{arr.size} times", f"at most {MAX_TIMES} output times (limits.MAX_TIMES): use a coarser grid"
        )
    # The common case in three passes without temporaries of the input's size (a NaN fails both
    # comparisons); the checks below find what is wrong otherwise.
    if arr.min() >= 0 and arr.max() <= MAX_TIME_H and (arr.size < 2 or np.all(arr[1:] >= arr[:-1])):
        return arr
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = arr[~(np.isfinite(arr) & (arr >= 0))][0]
        raise PKModelError("times", float(bad), "times must be finite and >= 0 h")
    if np.any(arr > MAX_TIME_H):
        raise PKModelError(
            "times", float(arr[arr > MAX_TIME_H][0]), f"times must be at most {MAX_TIME_H:g} h (limits.MAX_TIME_H)"
        )
    if np.any(np.diff(arr) < 0):
        i = int(np.argmax(np.diff(arr) < 0))
        raise PKModelError("times", f"{arr[i]} then {arr[i + 1]}", "times must be sorted in increasing order")
    return arr


def _has_strings(times: Any) -> bool:
    return not isinstance(times, np.ndarray) and any(
        isinstance(t, str) for t in np.atleast_1d(np.asarray(times, dtype=object))
    )


def check_cells(n_subjects: int, n_times: int, n_events: int) -> None:
    """Refuse work whose arrays would exceed ``limits.MAX_CELLS`` before building any of them."""
    cells = n_subjects * (n_times + n_events)
    if cells > MAX_CELLS:
        raise PKModelError(
            "simulation size",
            f"{n_subjects} subjects x ({n_times} times + {n_events} dose events) = {cells:.3g} cells",
            f"at most {MAX_CELLS:.3g} (limits.MAX_CELLS): use a coarser grid, fewer subjects or fewer doses "
            "(or simulate the population in chunks)",
        )
