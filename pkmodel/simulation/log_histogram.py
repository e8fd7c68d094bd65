"""Percentiles over time of a population too large to hold: a logarithmic histogram per time.

The streaming path of :mod:`pkmodel.simulation.population` never holds every subject's curve.
For each output time it counts the concentrations in bins read off the bits of the float64
itself: a positive double is 2^e · (1 + f), and its bit pattern, read as an integer, grows with
its value; its top ``12 + m`` bits (sign, exponent and the first ``m`` bits of f) number the bins.
Each power of two is thus cut into 2^m bins of equal width, each at most 2^-m of its lower edge
wide (a logarithmic scale, piecewise linear within a power of two). A quantile is the midpoint of
the bin that holds the wanted order statistic, so it is **within a relative error of 2^-(m+1)
of the exact order statistic** (:attr:`LogHistogram.rtol`; ``m`` is the smallest giving the rtol
asked for: 1e-3 gives m = 9, a bound of 9.8e-4). The bins are one absolute grid, so counts from
chunks computed anywhere, in any order, add up exactly: the same subjects give the same counts
bit for bit, whatever the chunk size, order or number of workers. Computing a bin is a shift of
the float's bits (no logarithm); the values are counted a block of times at a time, in the
subjects-by-times layout the engine gives them (no transposed copy), each block's bins in a
cache-sized array (or value by value where the block's rows hold more bins than it has values).

Memory is bounded: when the bins of one time would span more than ``budget`` cells over all
times, neighbouring bins merge in pairs (one bit fewer, ``level`` one higher) until they fit, and
:attr:`LogHistogram.rtol` reports the bound actually achieved. Merging is exact whatever was
coarsened first (bin k at level L is bin k >> 1 at level L + 1). Concentrations <= 0 (before the
first dose) are counted apart: a quantile that falls among them is 0.

Quantiles follow the "inverted CDF" definition (numpy ``method="inverted_cdf"``): the q-quantile
of n values is their order statistic of rank ceil(q·n) (at least 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pkmodel.errors import PKModelError

_MANTISSA = 52  # fraction bits of a float64


def mantissa_bits(rtol: float) -> int:
    """The fewest fraction bits m whose bins give a relative error 2^-(m+1) <= ``rtol``."""
    return max(0, min(_MANTISSA, math.ceil(-math.log2(rtol) - 1)))


@dataclass(frozen=True)
class LogHistogram:
    """Counts per output time: ``counts[j, s]`` values in bin ``lo[j] + s`` (rows with
    ``hi[j] < lo[j]`` hold no positive value), ``zeros[j]`` values <= 0, ``n`` values per time.
    Bin k at ``level`` holds the doubles whose bits, as an integer, shifted right by
    52 − ``bits`` + ``level``, are k."""

    bits: int
    level: int
    lo: NDArray[np.int64]
    hi: NDArray[np.int64]
    counts: NDArray[np.int64]
    zeros: NDArray[np.int64]
    n: int
    budget: int

    @property
    def rtol(self) -> float:
        """Bound on the relative error of a quantile (midpoint of its bin)."""
        sub = self.bits - self.level
        return 2.0 ** -(sub + 1) if sub >= 0 else (2.0 ** (2.0**-sub) - 1.0) / 2.0

    @classmethod
    def of(cls, values: NDArray[np.float64], rtol: float, budget: int) -> LogHistogram:
        """The histogram of ``values`` (n_subjects, n_times) with bins for a relative error of
        at most ``rtol``, coarsened until the counts fit in ``budget`` cells."""
        bits = mantissa_bits(rtol)
        v = _values(values)
        lo0, hi0, non_positive = _range(v, bits)
        level = _level_for(lo0, hi0, 0, budget)
        lo, hi = _with_room(lo0 >> level, hi0 >> level, budget)
        span = _span(lo, hi)
        counts = np.zeros((v.shape[1], span), dtype=np.int64)
        zeros = _count_into(counts.reshape(-1), v, bits, level, lo, span, non_positive)
        return cls(bits, level, lo, hi, counts, zeros, v.shape[0], budget)

    def add(self, values: NDArray[np.float64]) -> LogHistogram:
        """:meth:`merged` with the histogram of ``values`` (n_subjects, n_times), counted straight
        into this histogram's rows, in place, when they fit there (this histogram must not be used
        afterwards: a running total)."""
        v = _values(values)
        low, high, non_positive = _range(v, self.bits)
        low, high = low >> self.level, high >> self.level
        held = high >= low
        if not np.all(~held | ((self.hi >= self.lo) & (low >= self.lo) & (high <= self.hi))):
            return self.merged(LogHistogram.of(values, 2.0 ** -(self.bits + 1), self.budget))
        counts = np.ascontiguousarray(self.counts)
        rows = counts.reshape(-1)
        zeros = self.zeros + _count_into(rows, v, self.bits, self.level, self.lo, counts.shape[1], non_positive)
        return LogHistogram(self.bits, self.level, self.lo, self.hi, counts, zeros, self.n + v.shape[0], self.budget)

    def coarsened(self, level: int) -> LogHistogram:
        """The same counts in bins of ``level`` (>= this level): neighbouring bins merged."""
        if level == self.level:
            return self
        shift = level - self.level
        lo, hi = self.lo >> shift, self.hi >> shift
        return LogHistogram(self.bits, level, lo, hi, self._moved(lo, hi, shift), self.zeros, self.n, self.budget)

    def _moved(
        self, lo: NDArray[np.int64], hi: NDArray[np.int64], shift: int, into: NDArray[np.int64] | None = None
    ) -> NDArray[np.int64]:
        """The counts on rows starting at ``lo`` (every bin of this histogram, coarsened by
        ``shift`` levels, must lie within ``lo``..``hi`` of its row): added into ``into`` (counts
        on those rows, returned) when given, else in a new array (or this one's own, unchanged)."""
        t, old_span = self.counts.shape
        span = _span(lo, hi)
        if shift == 0 and np.array_equal(lo, self.lo) and old_span == span:
            if into is None:
                return self.counts
            into += self.counts
            return into
        if shift == 0:
            out = np.zeros((t, span), dtype=np.int64) if into is None else into
            _add_rows(out, lo, self)
            return out
        # Block of rows by block of rows: the bins' positions are as large as the counts, which
        # may be the whole budget (hundreds of megabytes).
        out = np.empty((t, span), dtype=np.int64) if into is None else into
        per_block = max(1, _BLOCK_CELLS // max(old_span, span))
        for first in range(0, t, per_block):
            last = min(t, first + per_block)
            position = (self.lo[first:last, None] + np.arange(old_span)) >> shift
            position += (np.arange(last - first) * span - lo[first:last])[:, None]
            counts = self.counts[first:last]
            keep = counts > 0
            # Weights are float64: exact for counts below 2**53.
            moved = np.bincount(position[keep], weights=counts[keep], minlength=(last - first) * span)
            block = moved.round().astype(np.int64).reshape(last - first, span)
            if into is None:
                out[first:last] = block
            else:
                out[first:last] += block
        return out

    def merged(self, other: LogHistogram) -> LogHistogram:
        """The counts of both (the same output times, the same grid of bins)."""
        if self.counts.shape[0] != other.counts.shape[0] or self.bits != other.bits:
            raise PKModelError("histogram", other.counts.shape, "histograms of the same times and bin grid")
        level = max(self.level, other.level)
        a, b = self.coarsened(level), other.coarsened(level)
        lo, hi = _union(a, b)
        budget = min(a.budget, b.budget)
        target = _level_for(lo, hi, level, budget)
        if target > level:
            # Coarsen for the bins that hold values, not for the room left beside them, so the
            # level (and every count) does not depend on the order parts were added in.
            a, b = a._trimmed(), b._trimmed()
            lo, hi = _union(a, b)
            target = _level_for(lo, hi, level, budget)
        shift = target - level
        occupied = hi >= lo
        lo, hi = _with_room(np.where(occupied, lo >> shift, 0), np.where(occupied, hi >> shift, -1), budget)
        # Both parts are added into one new array of the merged rows, not moved into two and summed
        # into a third: each is as large as the histogram and slow to fault in on some machines
        # (one merge took 0.44 s of a 100,000-subject run that way).
        counts = np.zeros((len(lo), _span(lo, hi)), dtype=np.int64)
        for part in (a, b):
            part._moved(lo, hi, shift, into=counts)
        return LogHistogram(self.bits, target, lo, hi, counts, a.zeros + b.zeros, a.n + b.n, budget)

    def _trimmed(self) -> LogHistogram:
        """The same counts on rows from the first to the last bin that holds a value."""
        held = self.counts > 0
        occupied = held.any(axis=1)
        first = np.argmax(held, axis=1)
        last = self.counts.shape[1] - 1 - np.argmax(held[:, ::-1], axis=1)
        lo, hi = np.where(occupied, self.lo + first, 0), np.where(occupied, self.lo + last, -1)
        return LogHistogram(self.bits, self.level, lo, hi, self._moved(lo, hi, 0), self.zeros, self.n, self.budget)

    def absorb(self, other: LogHistogram) -> LogHistogram:
        """:meth:`merged`, adding ``other`` into this histogram's counts in place when its bins
        lie within this one's rows (this histogram must not be used afterwards: a running total)."""
        inside = other.hi < other.lo
        inside |= (other.lo >= self.lo) & (other.hi <= self.hi)
        if other.level != self.level or other.bits != self.bits or not inside.all():
            return self.merged(other)
        _add_rows(self.counts, self.lo, other)
        return LogHistogram(
            self.bits, self.level, self.lo, self.hi, self.counts, self.zeros + other.zeros, self.n + other.n,
            self.budget,
        )  # fmt: skip

    def quantiles(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """The q-quantiles (each q in [0, 1]) at every time: shape (len(q), n_times)."""
        cumulative = np.cumsum(self.counts, axis=1)
        shift = _MANTISSA - self.bits + self.level
        out = np.empty((len(q), self.counts.shape[0]))
        for i, qi in enumerate(q):
            rank = max(1, math.ceil(qi * self.n))
            need = rank - self.zeros  # rank among the positive values
            k = self.lo + (cumulative < need[:, None]).sum(axis=1)
            lower = (k << shift).view(np.float64)
            upper = np.minimum((k + 1) << shift, np.int64(0x7FF0000000000000)).view(np.float64)
            out[i] = np.where(need <= 0, 0.0, lower + (upper - lower) / 2)
        return out


def _values(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The values (n_subjects, n_times) as float64: the engine's own array, not a copy."""
    return np.asarray(values, dtype=np.float64)


def _bin(v: NDArray[np.float64], bits: int) -> NDArray[np.int64]:
    """The level-0 bin of positive doubles: the bits of a positive double, read as an integer,
    grow with its value, and the top ones number the bins."""
    return v.view(np.int64) >> (_MANTISSA - bits)


def _range(
    v: NDArray[np.float64], bits: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Level-0 bins of each time's smallest and largest positive value ((0, -1): none), found
    from the values themselves (the bin grows with the value), without a bin per value; and the
    times that hold a value <= 0."""
    smallest = np.min(v, axis=0, initial=np.inf)
    # Only the times that hold a value <= 0 (before the first dose) need the slower masked minimum.
    some = ~(smallest > 0)
    if some.any():
        part = v[:, some]
        smallest[some] = np.min(part, axis=0, where=part > 0, initial=np.inf)
    largest = np.max(v, axis=0, initial=0.0)
    held = largest > 0
    return np.where(held, _bin(smallest, bits), 0), np.where(held, _bin(largest, bits), -1), some


# Values, and bins, counted at a time: a block of times for every subject, whose bins are one
# cache-sized integer array, counted into the histogram's rows straight away (np.add.at) or
# through a count of the block's rows (np.bincount) added to them.
_BLOCK_CELLS = 1 << 17


def _count_into(
    flat: NDArray[np.int64],
    v: NDArray[np.float64],
    bits: int,
    level: int,
    lo: NDArray[np.int64],
    span: int,
    non_positive_times: NDArray[np.bool_],
) -> NDArray[np.int64]:
    """Add one to ``flat`` (per time, a row of ``span`` bins from ``lo`` at ``level``) for each
    positive value of ``v`` (n_subjects, n_times), whose times that hold a value <= 0 are
    ``non_positive_times``; returns the number of values <= 0 per time."""
    n, t = v.shape
    zeros = np.zeros(t, dtype=np.int64)
    width = max(1, _BLOCK_CELLS // max(n, span))
    for first in range(0, t, width):
        last = min(t, first + width)
        block = v[:, first:last]
        # The block's bins from its first row of the histogram: one integer array (one row per
        # subject, as the values), worked in place.
        k = _bin(block, bits)
        if level:
            k >>= level
        k += np.arange(last - first, dtype=np.int64) * span - lo[first:last]
        rows = flat[first * span : last * span]
        # The values <= 0 (before the first dose: a few blocks at most) are counted in cell 0
        # with the rest (no compaction), then taken out again.
        if non_positive_times[first:last].any():
            non_positive = ~(block > 0)
            np.putmask(k, non_positive, 0)
            zeros[first:last] = non_positive.sum(axis=0)
            rows[0] -= zeros[first:last].sum()
        if k.size < rows.size:  # more bins than values (long rows, few subjects): add value by value
            np.add.at(rows, k.reshape(-1), 1)
        else:
            rows += np.bincount(k.reshape(-1), minlength=rows.size)
    return zeros


# Rows at least this long are added slice by slice (a loop over the rows); shorter ones bin by bin.
_ROW_SLICE_SPAN = 256


def _add_rows(out: NDArray[np.int64], lo: NDArray[np.int64], part: LogHistogram) -> None:
    """Add the counts of ``part`` (at the same level) into ``out``, whose rows start at ``lo``; each
    of its bins that holds a value must lie within its row of ``out``."""
    span = part.counts.shape[1]
    offset = part.lo - lo
    if span >= _ROW_SLICE_SPAN:
        # One slice per row: the part of the row that overlaps the row of out (the rest is empty).
        held = part.hi >= part.lo
        for j, d in zip(np.flatnonzero(held).tolist(), offset[held].tolist(), strict=True):
            src, dst = max(0, -d), max(0, d)
            m = min(span - src, out.shape[1] - dst)
            if m > 0:
                out[j, dst : dst + m] += part.counts[j, src : src + m]
        return
    rows, cols = np.nonzero(part.counts)
    out[rows, offset[rows] + cols] += part.counts[rows, cols]


def _union(a: LogHistogram, b: LogHistogram) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows covering the rows of both (rows without values in one take the other's)."""
    occ_a, occ_b = a.hi >= a.lo, b.hi >= b.lo
    lo = np.where(occ_a & occ_b, np.minimum(a.lo, b.lo), np.where(occ_a, a.lo, b.lo))
    hi = np.where(occ_a & occ_b, np.maximum(a.hi, b.hi), np.where(occ_a, a.hi, b.hi))
    return lo, hi


def _with_room(lo: NDArray[np.int64], hi: NDArray[np.int64], budget: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The rows widened on both sides by a quarter of their range, when that fits ``budget``: room
    for later parts, so that adding one is usually the cheap count or sum in place (add(),
    absorb()) rather than a merge into new rows."""
    pad = np.where(hi >= lo, (hi - lo + 1) // 4, 0)
    if len(lo) * _span(lo - pad, hi + pad) <= budget:
        return lo - pad, hi + pad
    return lo, hi


def _span(lo: NDArray[np.int64], hi: NDArray[np.int64]) -> int:
    occupied = hi >= lo
    return int((hi - lo + 1)[occupied].max()) if occupied.any() else 1


def _level_for(lo: NDArray[np.int64], hi: NDArray[np.int64], level: int, budget: int) -> int:
    """The lowest level (>= ``level``, for bins given at ``level``) whose rows fit ``budget``."""
    occupied = hi >= lo
    shift = 0
    while len(lo) * _span(np.where(occupied, lo >> shift, 0), np.where(occupied, hi >> shift, -1)) > budget:
        shift += 1
    return level + shift
