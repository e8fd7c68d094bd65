"""Percentiles over time of a population too large to hold: a log-binned histogram per time.

The streaming path of :mod:`pkmodel.simulation.population` never holds every subject's curve.
For each output time it counts the concentrations in bins of equal width ``w`` in ln(C); a
quantile is then the geometric centre of the bin that holds the wanted order statistic, so it is
**within a relative error of exp(w/2) − 1 of the exact order statistic** (:attr:`rtol`). The
bins are fixed on one absolute grid (bin k holds exp(k·w) <= C < exp((k+1)·w)), so counts from
chunks computed anywhere, in any order, add up exactly: the same subjects give the same counts
bit for bit, whatever the chunk size, order or number of workers.

Memory is bounded: when the bins of one time would span more than ``budget`` cells over all
times, the width doubles (every two neighbouring bins merge) until they fit, and :attr:`rtol`
reports the bound actually achieved. Widths are always ``w0 · 2**level`` of the same grid, so
merging is exact whatever was coarsened first. Concentrations <= 0 (before the first dose) are
counted apart: a quantile that falls among them is 0.

Quantiles follow the "inverted CDF" definition (numpy ``method="inverted_cdf"``): the q-quantile
of n values is their order statistic of rank ceil(q·n) (at least 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pkmodel.errors import PKModelError


@dataclass(frozen=True)
class LogHistogram:
    """Counts per output time: ``counts[j, s]`` values in bin ``lo[j] + s`` (rows with
    ``hi[j] < lo[j]`` hold no positive value), ``zeros[j]`` values <= 0, ``n`` values per time.
    Bin k at ``level`` holds exp(k·w) <= C < exp((k+1)·w), w = ``w0 · 2**level``."""

    w0: float
    level: int
    lo: NDArray[np.int64]
    hi: NDArray[np.int64]
    counts: NDArray[np.int64]
    zeros: NDArray[np.int64]
    n: int
    budget: int

    @property
    def width(self) -> float:
        return self.w0 * 2.0**self.level

    @property
    def rtol(self) -> float:
        """Bound on the relative error of a quantile: exp(w/2) − 1."""
        return float(np.expm1(self.width / 2))

    @classmethod
    def of(cls, values: NDArray[np.float64], rtol: float, budget: int) -> LogHistogram:
        """The histogram of ``values`` (n_subjects, n_times) with bins for a relative error of
        at most ``rtol``, coarsened until the counts fit in ``budget`` cells."""
        w0 = 2.0 * float(np.log1p(rtol))
        positive = values > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            k0 = np.where(positive, np.floor(np.log(np.where(positive, values, 1.0)) / w0), 0).astype(np.int64)
        big = np.iinfo(np.int64).max
        lo0 = np.where(positive, k0, big).min(axis=0)
        hi0 = np.where(positive, k0, -big).max(axis=0)
        occupied = hi0 >= lo0
        lo0, hi0 = np.where(occupied, lo0, 0), np.where(occupied, hi0, -1)
        level = _level_for(lo0, hi0, 0, budget)
        lo, hi = lo0 >> level, hi0 >> level
        span = _span(lo, hi)
        t = values.shape[1]
        rows = np.broadcast_to(np.arange(t), values.shape)
        flat = rows[positive] * span + ((k0 >> level) - lo[None, :])[positive]
        counts = np.bincount(flat, minlength=t * span).reshape(t, span).astype(np.int64)
        zeros = (~positive).sum(axis=0).astype(np.int64)
        return cls(w0, level, lo, hi, counts, zeros, values.shape[0], budget)

    def coarsened(self, level: int) -> LogHistogram:
        """The same counts in bins of ``level`` (>= this level): neighbouring bins merged."""
        if level == self.level:
            return self
        shift = level - self.level
        lo, hi = self.lo >> shift, self.hi >> shift
        return self._moved(lo, hi, shift, level)

    def _moved(self, lo: NDArray[np.int64], hi: NDArray[np.int64], shift: int, level: int) -> LogHistogram:
        """The counts placed in rows starting at ``lo`` (bins coarsened by ``shift`` levels)."""
        t, old_span = self.counts.shape
        span = _span(lo, hi)
        absolute = self.lo[:, None] + np.arange(old_span)[None, :]
        position = (absolute >> shift) - lo[:, None]
        keep = self.counts > 0
        flat = (np.arange(t)[:, None] * span + position)[keep]
        counts = np.bincount(flat, weights=self.counts[keep], minlength=t * span)
        return LogHistogram(
            self.w0, level, lo, hi, counts.round().astype(np.int64).reshape(t, span), self.zeros, self.n, self.budget
        )

    def _placed(self, lo: NDArray[np.int64], hi: NDArray[np.int64], shift: int, level: int) -> NDArray[np.int64]:
        """The counts on the rows starting at ``lo``: as they are when nothing moves (the usual
        case once a running total covers the range), else moved."""
        if shift == 0 and np.array_equal(lo, self.lo) and self.counts.shape[1] == _span(lo, hi):
            return self.counts
        return self._moved(lo, hi, shift, level).counts

    def merged(self, other: LogHistogram) -> LogHistogram:
        """The counts of both (the same output times, the same grid of bins)."""
        if self.counts.shape[0] != other.counts.shape[0] or self.w0 != other.w0:
            raise PKModelError("histogram", other.counts.shape, "histograms of the same times and bin grid")
        level = max(self.level, other.level)
        a, b = self.coarsened(level), other.coarsened(level)
        occ_a, occ_b = a.hi >= a.lo, b.hi >= b.lo
        lo = np.where(occ_a & occ_b, np.minimum(a.lo, b.lo), np.where(occ_a, a.lo, b.lo))
        hi = np.where(occ_a & occ_b, np.maximum(a.hi, b.hi), np.where(occ_a, a.hi, b.hi))
        target = _level_for(lo, hi, level, min(a.budget, b.budget))
        shift = target - level
        occupied = hi >= lo
        lo, hi = np.where(occupied, lo >> shift, 0), np.where(occupied, hi >> shift, -1)
        counts = a._placed(lo, hi, shift, target) + b._placed(lo, hi, shift, target)
        return LogHistogram(self.w0, target, lo, hi, counts, a.zeros + b.zeros, a.n + b.n, a.budget)

    def quantiles(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """The q-quantiles (each q in [0, 1]) at every time: shape (len(q), n_times)."""
        cumulative = np.cumsum(self.counts, axis=1)
        out = np.empty((len(q), self.counts.shape[0]))
        for i, qi in enumerate(q):
            rank = max(1, int(np.ceil(qi * self.n)))
            need = rank - self.zeros  # rank among the positive values
            index = (cumulative < need[:, None]).sum(axis=1)
            value = np.exp((self.lo + index + 0.5) * self.width)
            out[i] = np.where(need <= 0, 0.0, value)
        return out


def _span(lo: NDArray[np.int64], hi: NDArray[np.int64]) -> int:
    occupied = hi >= lo
    return int((hi - lo + 1)[occupied].max()) if occupied.any() else 1


def _level_for(lo: NDArray[np.int64], hi: NDArray[np.int64], level: int, budget: int) -> int:
    """The lowest level (>= ``level``, for bins given at ``level``) whose rows fit ``budget``."""
    shift = 0
    while len(lo) * _span(np.where(hi >= lo, lo >> shift, 0), np.where(hi >= lo, hi >> shift, -1)) > budget:
        shift += 1
    return level + shift
