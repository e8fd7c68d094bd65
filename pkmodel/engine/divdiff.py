"""Divided differences of the exponential function, accurate when the points coincide.

Every closed form of a linear compartment model is a sum of terms ``h**(m-1) * exp[x1, ..., xm]``
where ``exp[...]`` is the divided difference of ``exp`` at the points ``x_i = -lambda_i * h``
(the convolution of ``m`` exponentials evaluated at ``h``). Written as the textbook ratio
``(exp(x1) - exp(x2)) / (x1 - x2)`` it divides zero by zero when two rate constants coincide
(ka = alpha, alpha = beta) and loses every digit when they nearly do. Here pairs use
``exp(b) * expm1(a - b) / (a - b)``, exact for any gap; higher orders use the usual recurrence only
where the points of a sub-table are far apart (spread >= 1, or 0.5 for three points), and a
Taylor series about their mean (complete homogeneous symmetric polynomials) where they cluster,
which is exact in the confluent limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import factorial

import numpy as np

# Below this spread the recurrence would cancel more than about one digit; the Taylor series
# converges to double precision within _TAYLOR_TERMS terms for spreads up to it. The first level
# that divides (three points) loses only about 4 / spread ulps, so it keeps the recurrence down to
# half that spread: an oral model on a fine grid would otherwise take the Taylor series, the
# slowest branch, at its first steps (mildronate every 15 min: ka h - beta h = 0.87). Against
# mpmath on random clusters of spread 0.3 to 2.5 this moved the worst error from 6.7e-16 to
# 1.1e-15 for 3 points, 2.7e-15 to 3.5e-15 for 4 and 1.6e-14 to 2.3e-14 for 5.
_SPREAD_FOR_RECURRENCE = 1.0
_SPREAD_FOR_RECURRENCE_3 = 0.5
_TAYLOR_TERMS = 24


def exp_divided_difference(
    points: Sequence[np.ndarray | float], exps: Sequence[np.ndarray | float] | None = None
) -> np.ndarray:
    """Divided difference ``exp[x1, ..., xm]`` of ``exp`` at ``m`` points, elementwise.

    ``points`` are arrays broadcastable to one shape (dimensionless; in the engine they are
    ``-rate_constant * time``, hence <= 0). Returns an array of that shape. ``exp[x] = exp(x)``,
    ``exp[x, x] = exp(x)``, and in general ``exp[x, ..., x] = exp(x) / (m-1)!``. ``exps``: the
    points' exponentials when the caller has them (the engine's entries share a few rates).
    """
    if len(points) == 1:  # exp[x] = exp(x)
        return np.asarray(np.exp(points[0]) if exps is None else exps[0], dtype=float)
    xs = _sorted(_same_shape(points))
    m = len(xs)
    # table[i] holds exp[x_i, ..., x_{i+level}] for the current level. exp is increasing, so the
    # exponentials sorted on their own come in the points' order.
    if exps is None:
        table = [np.exp(x) for x in xs]
    else:
        table = _sorted(_same_shape([*exps, xs[0]])[:-1])
    for level in range(1, m):
        if level == 1:
            # Pairs in closed form: exp[a, b] = exp(b) * expm1(a - b) / (a - b), exact for any gap.
            table = [table[i + 1] * _exprel(xs[i] - xs[i + 1]) for i in range(m - 1)]
            continue
        nxt = []
        for i in range(m - level):
            spread = xs[i + level] - xs[i]
            near = spread < (_SPREAD_FOR_RECURRENCE_3 if level == 2 else _SPREAD_FOR_RECURRENCE)
            gap = table[i + 1] - table[i]
            if np.any(near):
                # The recurrence only where the spread reaches the switch (never 0: no error state
                # to silence), the Taylor series elsewhere.
                value = np.zeros_like(gap)
                np.divide(gap, spread, out=value, where=~near)
                value[near] = _taylor(np.stack([x[near] for x in xs[i : i + level + 1]]))
            else:
                value = gap / spread
            nxt.append(value)
        table = nxt
    return table[0]


def _same_shape(arrays: Sequence[np.ndarray | float]) -> list[np.ndarray]:
    """Float arrays of one broadcast shape (as given when they have it already: the engine's
    points do, and broadcasting costs more than the arithmetic on a few numbers)."""
    xs = [np.asarray(a, dtype=float) for a in arrays]
    shape = xs[0].shape
    return xs if all(x.shape == shape for x in xs) else list(np.broadcast_arrays(*xs))


def _exprel(z: np.ndarray) -> np.ndarray:
    """expm1(z) / z, with its limit 1 at z = 0."""
    out = np.ones_like(z)
    np.divide(np.expm1(z), z, out=out, where=z != 0)
    return out


def _sorted(points: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The points sorted ascending, elementwise (odd-even transposition: m is at most 5, where a
    few minimum/maximum passes beat a general sort along a short axis)."""
    xs = list(points)
    m = len(xs)
    for rnd in range(m):
        for i in range(rnd % 2, m - 1, 2):
            xs[i], xs[i + 1] = np.minimum(xs[i], xs[i + 1]), np.maximum(xs[i], xs[i + 1])
    return xs


def _taylor(xs: np.ndarray) -> np.ndarray:
    """exp[x_1..x_k] for clustered points: exp(c) * sum_n h_n(x - c) / (n + k - 1)!.

    ``xs`` has shape (k, n_values); ``c`` is the mean of the points, so |x - c| <= spread.
    """
    k = xs.shape[0]
    centre = xs.mean(axis=0)
    z = xs - centre
    # Terms shrink at least like r**n / n! with r = max |z| < 1: stop once that is below 1e-18.
    r = float(np.max(np.abs(z), initial=0.0))
    n_terms = next((n for n in range(1, _TAYLOR_TERMS) if r**n / factorial(n) < 1e-18), _TAYLOR_TERMS)
    # h[j] holds the complete homogeneous symmetric polynomial of degree n in z_0..z_j, divided
    # by (n + k - 1)! / (k - 1)! (the same for every j, so the recurrence below keeps it):
    # h_n(z_0..z_j) = h_n(z_0..z_{j-1}) + z_j h_{n-1}(z_0..z_j) is the previous degree times z,
    # summed along the points in place. One buffer, no temporaries: for one element the number
    # of array operations is the cost, for millions the memory they would touch.
    h = np.ones_like(z)
    total = np.ones_like(centre)
    for n in range(1, n_terms + 1):
        np.multiply(z, h, out=h)
        for j in range(1, k):
            h[j] += h[j - 1]
        h /= n + k - 1
        total += h[k - 1]
    total /= factorial(k - 1)
    return np.exp(centre) * total
