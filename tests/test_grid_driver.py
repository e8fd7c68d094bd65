"""The grid driver's ways of laying stretches on the output grid, each checked against the
direct driver (every output from the state after its last event, no stretches, no response
tables) and, for one subject, the solve_ivp reference of pkmodel.engine.ode.

The ways: stretches that tile the whole grid, a few spans written one by one (run lengths that
differ, as when the dose interval is not a multiple of the grid step), a padded table gathered
into the output (many spans), runs cut into several stretches, doses off the grid, infusions
(longer than the dose interval too), outputs before the first dose, several observables, and
subject blocks."""

from __future__ import annotations

import numpy as np
import pytest

from pkmodel.engine import analytic
from pkmodel.engine import grid as grid_driver
from pkmodel.engine.analytic import Kinetics, evaluate
from pkmodel.engine.ode import ode_amounts
from pkmodel.engine.propagation import Events

N = 40


def _kinetics(n: int = N) -> Kinetics:
    rng = np.random.default_rng(11)
    return Kinetics.of(1.3, 0.25 * np.exp(0.3 * rng.standard_normal(n)), 0.4, 0.16)


def _events(times, cmt, amount, infusion=None):
    """Boluses (mg) at ``times`` (h) into ``cmt``; ``infusion``: (start, end, rate mg/h) rows into
    the central compartment."""
    rows = [(t, c, a, 0.0) for t, c, a in zip(times, cmt, amount, strict=True)]
    for start, end, rate in infusion or ():
        rows += [(start, 1, 0.0, rate), (end, 1, 0.0, -rate)]
    rows.sort(key=lambda r: r[0])
    t, c, a, r = (np.array(x) for x in zip(*rows, strict=True))
    return Events(time=t.astype(float), cmt=c.astype(int), amount=a.astype(float), rate=r.astype(float))


REGULAR = _events(12.0 * np.arange(6), [0] * 6, [350.0] * 6)
CASES = {
    # Doses on grid points every 48 steps: the stretches tile the grid; the last run (after the
    # last dose) is cut into several stretches.
    "tiled": (REGULAR, np.arange(0.0, 400.0, 0.25)),
    # 12 h is not a multiple of 0.7 h: runs of 17 and 18 outputs, several spans.
    "uneven runs": (REGULAR, np.arange(0.0, 150.0, 0.7)),
    # Doses between grid points at irregular times (more distinct steps than handled one by one),
    # with the grid starting before the first dose.
    "off grid": (_events(3.1 + np.cumsum(np.linspace(2.9, 9.7, 20)), [0, 1] * 10, [100.0] * 20), np.arange(0.0, 200.0, 0.3)),
    # A 30 h infusion restarted every 24 h (so two overlap) and a bolus into the peripheral compartment.
    "infusions": (
        _events([5.0, 50.0], [1, 2], [80.0, 40.0], infusion=[(24.0 * k, 24.0 * k + 30.0, 25.0) for k in range(4)]),
        np.arange(0.0, 160.0, 0.5),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "way", ["default", "subject blocks", "propagator blocks", "padded table", "long stretches", "direct in pieces"]
)
def test_grid_equals_direct(case, way, monkeypatch):
    if way == "subject blocks":
        monkeypatch.setattr(grid_driver, "_STATE_CELLS", 3000)  # a few subjects per block
    elif way == "propagator blocks":
        monkeypatch.setattr(grid_driver, "_PROPAGATOR_CELLS", 60)  # one to a few subjects per block
    elif way == "padded table":
        monkeypatch.setattr(grid_driver, "_FEW_SPANS", 0)
        monkeypatch.setattr(grid_driver, "_PADDED_CELLS", 2000)  # several row blocks of the table
    elif way == "long stretches":
        monkeypatch.setattr(grid_driver, "_PROPAGATOR_COST", 10**9)  # stretches as long as a run can be: padded runs
    elif way == "direct in pieces":
        monkeypatch.setattr(analytic, "_CELLS_PER_CHUNK", 97)  # shorter than any row: every row in pieces
    events, times = CASES[case]
    kin = _kinetics()
    # Concentration (central / V1), the depot amount and the peripheral amount in one pass.
    weights = np.zeros((3, 3, N))
    weights[0, 1] = 1.0 / 20.0
    weights[1, 0] = 1.0
    weights[2, 2] = 1.0
    grid = evaluate(kin, events, times, weights, method="grid")
    direct = evaluate(kin, events, times, weights, method="direct")
    assert grid.shape == (3, N, len(times)) and all(g.flags.c_contiguous for g in grid)
    np.testing.assert_allclose(grid, direct, rtol=1e-12, atol=1e-13)
    before = times < events.time[0]
    assert np.all(grid[:, :, before] == 0.0)


@pytest.mark.parametrize("case", list(CASES))
def test_one_subject_equals_the_ode_reference(case):
    events, times = CASES[case]
    kin = Kinetics.of(1.3, [0.25], 0.4, 0.16)
    got = evaluate(kin, events, times, np.eye(3)[:, :, None], method="grid")[:, 0]
    ref = ode_amounts(1.3, 0.25, 0.4, 0.16, events.time, events.cmt, events.amount, events.rate, times).T
    assert np.max(np.abs(got - ref) / (1e-7 * np.abs(ref) + 1e-9)) < 1


def test_plan_of_a_regular_regimen_is_one_stretch_per_dose_tiling_the_grid():
    plan = grid_driver._StretchPlan.of(REGULAR.time, np.arange(0.0, 72.0, 0.25))
    assert plan is not None
    assert plan.width == 48 and len(plan.spans) == 1 and plan.n_stretches == 6
    assert plan.spans[0] == (0, 288, 0)


def test_doses_at_every_grid_point_then_a_long_washout_stay_cheap_and_exact():
    """Runs of one output each, then one of 19,800: stretches of one step would need a
    propagator per step of the washout, stretches as long as the washout would pad every dose's
    run to 19,800 outputs (200 times the grid). The chosen width keeps the padded table within
    twice the grid."""
    events = _events(0.25 * np.arange(200), [0] * 200, [10.0] * 200)
    times = 0.25 * np.arange(20_000)
    plan = grid_driver._StretchPlan.of(events.time, times)
    assert plan is not None and 1 < plan.width < 19_800
    padded = plan.n_stretches * plan.width
    assert padded < 2 * len(times)
    kin = _kinetics(3)
    weights = np.zeros((3, 3))
    weights[1] = 1.0 / 20.0
    grid = evaluate(kin, events, times, weights, method="grid")
    direct = evaluate(kin, events, times[::37], weights, method="direct")
    np.testing.assert_allclose(grid[:, ::37], direct, rtol=1e-12, atol=1e-13)
