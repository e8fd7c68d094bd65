"""The result's layout and the fast paths behind it: the grid driver's subject blocks and long
stretches, .data built from views, and `import pkmodel` that loads no heavy library.

Every number is checked against an independent reference: the direct driver (each output from
the state after its last event), the solve_ivp reference of pkmodel.engine.ode, or mass balance."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import pkmodel
from pkmodel import Model, Regimen, simulate
from pkmodel.engine import analytic, grid
from pkmodel.engine.analytic import Kinetics, evaluate
from pkmodel.engine.ode import ode_amounts
from pkmodel.engine.propagation import Events


def _population(n: int, seed: int = 5) -> Model:
    rng = np.random.default_rng(seed)
    return Model(
        cl=5.0 * np.exp(0.3 * rng.standard_normal(n)),
        v1=20.0 * np.exp(0.3 * rng.standard_normal(n)),
        q=8.0,
        v2=50.0,
        ka=1.2,
        f=0.7,
    )


def test_grid_driver_across_many_subject_blocks_equals_the_direct_driver():
    n = 1500  # several subject blocks of the grid driver
    model = _population(n)
    kin = model.kinetics(n)
    times = np.arange(0.0, 150.0, 0.25)
    rate = np.zeros(8)
    rate[[2, 5]] = [40.0, -40.0]  # an infusion into the central compartment as well
    events = Events(
        time=np.array([0.0, 12.0, 20.0, 24.0, 36.0, 38.5, 48.0, 60.0]),
        cmt=np.array([0, 0, 1, 0, 0, 1, 0, 2]),
        amount=np.array([350.0, 350.0, 0.0, 350.0, 350.0, 0.0, 350.0, 10.0]),
        rate=rate,
    )
    weights = np.zeros((3, n))
    weights[1] = 1 / np.asarray(model.v1)
    grid = evaluate(kin, events, times, weights, method="grid")
    direct = evaluate(kin, events, times, weights, method="direct")
    assert grid.flags.c_contiguous and grid.shape == (n, len(times))
    np.testing.assert_allclose(grid, direct, rtol=1e-12, atol=1e-15)


def test_one_subject_on_a_long_grid_equals_the_ode_reference():
    # Runs longer than the widest stretch: the state is carried from stretch to stretch.
    m = Model(cl=5.0, v1=20.0, q=8.0, v2=50.0, ka=1.2, f=0.7)
    times = np.linspace(0.0, 400.0, 20_001)
    sim = simulate(m, Regimen.repeated("500 mg", "100 h", n_doses=3, route="oral"), times)
    assert analytic.uniform_step(times) is not None and len(times) > grid._MAX_WIDTH
    reference = ode_amounts(1.2, 0.25, 0.4, 0.16, np.array([0.0, 100.0, 200.0]), np.zeros(3, dtype=int),
                            np.full(3, 350.0), np.zeros(3), times[::50])[:, 1] / 20.0  # fmt: skip
    got = sim.concentration[0, ::50]
    assert np.max(np.abs(got - reference) / (1e-6 * np.abs(reference) + 1e-9)) < 1


def test_data_columns_are_views_of_the_matrices_and_match_the_ode_reference():
    n = 40
    model = _population(n, seed=9)
    times = np.arange(0.0, 72.0, 0.25)
    sim = simulate(model, Regimen.repeated("500 mg", "12 h", n_doses=4, route="oral"), times)
    conc = sim.concentration
    assert conc.flags.c_contiguous
    data = sim.data
    assert np.shares_memory(data["conc_mg_L"].to_numpy(), conc)
    np.testing.assert_array_equal(data["subject"].to_numpy(), np.repeat(np.arange(n), len(times)))
    np.testing.assert_array_equal(data["time_h"].to_numpy(), np.tile(times, n))
    for i in (0, 17, 39):
        rows = data[data.subject == i]
        cl, v1 = float(model.cl[i]), float(model.v1[i])
        ref = ode_amounts(1.2, cl / v1, 8.0 / v1, 8.0 / 50.0, 12.0 * np.arange(4), np.zeros(4, dtype=int),
                          np.full(4, 350.0), np.zeros(4), times)  # fmt: skip
        for c, name in enumerate(("depot_mg", "central_mg", "peripheral_mg")):
            got = rows[name].to_numpy()
            assert np.max(np.abs(got - ref[:, c]) / (1e-6 * np.abs(ref[:, c]) + 1e-9)) < 1, name
    # amounts() is the same engine pass, compartment by compartment.
    np.testing.assert_array_equal(sim.amounts()[:, 1, :].ravel(), data["central_mg"].to_numpy())


def test_several_observables_in_one_pass_equal_one_at_a_time():
    n = 30
    kin = Kinetics.of(1.1, np.linspace(0.1, 0.4, n), 0.3, 0.2)
    events = Events(time=np.array([0.0, 7.0]), cmt=np.array([0, 1]), amount=np.array([100.0, 50.0]), rate=np.zeros(2))
    times = np.arange(0.0, 100.0, 0.2)
    weights = np.stack([np.eye(3)[c][:, None] * np.ones(n) for c in range(3)])
    together = evaluate(kin, events, times, weights)
    for c in range(3):
        alone = evaluate(kin, events, times, weights[c])
        np.testing.assert_array_equal(together[c], alone)
        assert together[c].flags.c_contiguous


@pytest.mark.parametrize("name", pkmodel.__all__)
def test_every_export_resolves_lazily(name):
    assert getattr(pkmodel, name) is not None
    assert name in dir(pkmodel)


def test_import_pkmodel_loads_no_heavy_library_and_a_summary_needs_no_scipy():
    code = (
        "import sys, warnings\n"
        "import pkmodel\n"
        "heavy = ('pandas', 'scipy', 'matplotlib')\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "from pkmodel import Regimen, load_params, simulate\n"
        "warnings.simplefilter('ignore')\n"
        "sim = simulate(load_params('mildronate'), Regimen.repeated('500 mg', '12 h', n_doses=4, route='oral'))\n"
        "sim.summary()\n"
        "print(sorted(m for m in ('scipy', 'matplotlib') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
