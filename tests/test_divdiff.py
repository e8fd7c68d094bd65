"""Divided differences of exp (pkmodel.engine.divdiff) against mpmath at 50 significant digits.

``exp[x1, ..., xm]`` is the m-point divided difference of ``exp``; in the engine the points are
``-rate_constant * time`` (dimensionless, <= 0). The reference below is the textbook recurrence on
sorted points, with the confluent rule ``exp[x, ..., x] = exp(x) / (m-1)!`` where a whole
sub-table coincides, evaluated in mpmath. Float inputs are exact binary rationals, so the only
loss in the reference is the cancellation of the recurrence at clustered points; the working
precision is raised to cover it (log10(1/smallest gap) digits per level), and the result checked against a
second evaluation at 30 more digits, so that the reference itself is good to 50 digits.
"""

import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel.engine.divdiff import exp_divided_difference

RTOL = 1e-13
REF_DIGITS = 50


def _recurrence(points, dps):
    with mpmath.workdps(dps):
        xs = sorted(mpmath.mpf(float(p)) for p in points)
        m = len(xs)
        table = [mpmath.exp(x) for x in xs]
        for level in range(1, m):
            table = [
                mpmath.exp(xs[i]) / mpmath.factorial(level)
                if xs[i] == xs[i + level]
                else (table[i + 1] - table[i]) / (xs[i + level] - xs[i])
                for i in range(m - level)
            ]
        return +table[0]


def reference(points):
    """exp[points] in mpmath, good to REF_DIGITS significant digits (checked, not assumed)."""
    xs = np.sort(np.asarray(points, dtype=float))
    gaps = np.diff(xs)
    gaps = gaps[gaps > 0]
    # Each level of the recurrence can cancel about log10(1 / gap) digits.
    lost = max(0.0, -np.log10(gaps.min())) if gaps.size else 0.0
    dps = REF_DIGITS + 20 * len(points) + int((len(points) - 1) * lost)
    value = _recurrence(points, dps)
    check = _recurrence(points, dps + 30)
    with mpmath.workdps(dps + 30):
        assert abs(value - check) <= mpmath.mpf(10) ** (-REF_DIGITS) * abs(check)
    return check


def assert_matches(points, rtol=RTOL):
    """Engine value (float points and 0-d arrays) within rtol of the mpmath reference."""
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        got = np.asarray(exp_divided_difference([np.float64(p) for p in points]), dtype=float)
    assert got.shape == ()
    got = float(got)
    ref = reference(points)
    assert np.isfinite(got) and got > 0.0, (points, got)
    err = abs((mpmath.mpf(got) - ref) / ref)
    assert err < rtol, (
        f"points={list(map(float, points))}: got {got!r}, ref {mpmath.nstr(ref, 20)}, rel err {float(err):.3g}"
    )


# ----------------------------------------------------------------- reference self-checks


def test_reference_known_values():
    with mpmath.workdps(60):
        assert abs(reference([0.0]) - 1) < mpmath.mpf(10) ** -55
        # exp[0, 1] = e - 1; exp[0, 1, 2] = (e - 1)^2 / 2; exp[x, x, x] = exp(x) / 2.
        assert abs(reference([0.0, 1.0]) - (mpmath.e - 1)) < mpmath.mpf(10) ** -55
        assert abs(reference([0.0, 1.0, 2.0]) - (mpmath.e - 1) ** 2 / 2) < mpmath.mpf(10) ** -55
        assert abs(reference([-3.0] * 3) - mpmath.exp(-3) / 2) < mpmath.mpf(10) ** -55


# ----------------------------------------------------------------- fixed cases


@pytest.mark.parametrize("x", [0.0, -1e-300, -0.5, -1.0, -37.25, -700.0])
def test_single_point_is_exp(x):
    assert_matches([x])
    assert float(exp_divided_difference([x])) == pytest.approx(np.exp(x), rel=1e-15)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("x", [0.0, -0.3, -1.0, -12.5, -123.456, -699.9])
def test_exactly_coinciding_points(m, x):
    """exp[x, ..., x] (m times) = exp(x) / (m-1)!, the confluent limit."""
    assert_matches([x] * m)
    expected = float(mpmath.exp(x) / mpmath.factorial(m - 1))
    assert float(exp_divided_difference([x] * m)) == pytest.approx(expected, rel=RTOL)


@pytest.mark.parametrize("m", [2, 3, 4, 5])
@pytest.mark.parametrize("spread", [1e-16, 1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1])
@pytest.mark.parametrize("centre", [0.0, -0.7, -25.0, -650.0])
def test_clustered_points(m, spread, centre):
    rng = np.random.default_rng([m, round(-10 * np.log10(spread)), round(-10 * centre)])
    points = centre - spread * rng.uniform(0.0, 1.0, m)
    points[0] = centre - spread  # the cluster has (about) the stated spread
    points[-1] = centre
    assert_matches(points)


@pytest.mark.parametrize("spread", [0.3, 0.499, 0.5, 0.501, 0.9, 0.999, 1.0, 1.001, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("m", [2, 3, 4, 5])
@pytest.mark.parametrize("centre", [0.0, -300.0, -699.0])
def test_equally_spaced_points_around_the_switch_spread(spread, m, centre):
    """Spreads on both sides of the switches between Taylor series and recurrence (spread 1, and
    0.5 for three points)."""
    assert_matches(list(np.linspace(centre - spread, centre, m)))


@pytest.mark.parametrize("gap", [0.0, 1e-16, 1e-12, 1e-8, 1e-4, 1e-2])
@pytest.mark.parametrize("far", [-0.0, -3.0, -40.0, -690.0])
@pytest.mark.parametrize("near", [-0.05, -2.0, -45.0])
def test_two_close_and_one_far(gap, far, near):
    assert_matches([near, near - gap * abs(near or 1.0), far])
    # The same pair plus two more far points (5 points), and two clusters.
    assert_matches([near, near - gap, far, far - 7.0, far - 0.5])
    assert_matches([near, near - gap, far, far - gap, far - 1e-3])


@pytest.mark.parametrize("m", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(6))
def test_well_separated(m, seed):
    rng = np.random.default_rng(seed)
    points = -np.sort(rng.uniform(0.0, 60.0, m))
    points[1:] = np.minimum(points[1:], points[:-1] - 1.5)  # gaps of at least 1.5
    assert_matches(points)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(6))
def test_large_negative_points(m, seed):
    rng = np.random.default_rng(100 + seed)
    assert_matches(rng.uniform(-700.0, 0.0, m))
    assert_matches(rng.uniform(-700.0, -600.0, m))


def test_order_of_points_does_not_matter():
    points = [-0.3, -5.0, -0.3 - 1e-9, -2.0, -40.0]
    base = float(exp_divided_difference(points))
    for perm in ([4, 3, 2, 1, 0], [2, 0, 4, 1, 3], [1, 4, 0, 3, 2]):
        assert float(exp_divided_difference([points[i] for i in perm])) == pytest.approx(base, rel=1e-15)


def test_elementwise_arrays_and_broadcasting():
    """Arrays of points give elementwise results; a scalar point broadcasts against arrays."""
    rng = np.random.default_rng(7)
    a = rng.uniform(-30.0, 0.0, 50)
    b = a - 10.0 ** rng.uniform(-16.0, 1.0, 50)  # mixes Taylor and recurrence in one call
    c = -2.5
    got = exp_divided_difference([a, b, c])
    assert got.shape == (50,)
    for i in range(50):
        ref = reference([a[i], b[i], c])
        assert abs((mpmath.mpf(float(got[i])) - ref) / ref) < RTOL
    grid = exp_divided_difference([a[:, None], b[None, :5]])
    assert grid.shape == (50, 5)
    assert float(grid[3, 2]) == pytest.approx(float(exp_divided_difference([a[3], b[2]])), rel=1e-15)


# ----------------------------------------------------------------- random point sets


def _point_sets():
    centre = st.floats(-700.0, 0.0)
    offset = st.floats(0.0, 1.0)
    spread = st.sampled_from([0.0, 1e-16, 1e-13, 1e-10, 1e-7, 1e-4, 1e-2, 0.3, 1.0, 3.0, 30.0, 700.0])

    @st.composite
    def one_set(draw):
        m = draw(st.integers(1, 5))
        groups = draw(st.integers(1, m))
        points = []
        for g in range(m):
            if g < groups:
                c = draw(centre)
                s = draw(spread)
            points.append(min(0.0, max(-700.0, c - s * draw(offset))))
        return points

    return one_set()


@settings(max_examples=150, deadline=None)
@given(points=_point_sets())
def test_random_point_sets(points):
    assert_matches(points)


@settings(max_examples=100, deadline=None)
@given(points=st.lists(st.floats(-700.0, 0.0), min_size=1, max_size=5))
def test_random_uniform_points(points):
    assert_matches(points)
