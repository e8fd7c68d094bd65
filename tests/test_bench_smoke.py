"""The benchmark (benchmarks/bench.py) imports, its hand-written closed forms are right, and one
tiny round runs. No assertion on any time: the machine's speed is not the code's correctness."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from pkmodel import Regimen, load_params, simulate
from pkmodel.engine.ode import ode_amounts

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench"]


def _ode(model, dose_times, dose_mg, times, subject=0):
    """Central concentration (mg/L) of one subject from the solve_ivp reference."""
    pick = {
        k: float(np.ravel(getattr(model, k))[subject if np.size(getattr(model, k)) > 1 else 0])
        for k in ("cl", "v1", "ka", "f")
    }
    q, v2 = float(model.q or 0.0), float(model.v2 or 1.0)
    n = dose_times.size
    amounts = ode_amounts(
        pick["ka"], pick["cl"] / pick["v1"], q / pick["v1"], q / v2,
        dose_times, np.zeros(n, dtype=int), pick["f"] * dose_mg, np.zeros(n), times,
    )  # fmt: skip
    return amounts[:, 1] / pick["v1"]


@pytest.mark.parametrize("name", ["mildronate", "theophylline"])
def test_closed_forms_match_the_ode_reference(bench, name):
    model = load_params(name)
    population = model.replace(cl=model.cl * np.array([0.7, 1.0, 1.4]), v1=model.v1 * np.array([1.2, 1.0, 0.8]))
    dose_times = np.array([0.0, 12.0, 24.0, 30.0, 48.0])
    dose_mg = np.array([500.0, 500.0, 250.0, 500.0, 500.0])
    times = np.arange(0.0, 96.0, 0.5)  # dose times on the grid, and a gap after the last one
    carried = bench.closed_form(population, dose_times, dose_mg, times)
    for subject in range(3):
        ode = _ode(population, dose_times, dose_mg, times, subject)
        assert np.all(np.abs(carried[subject] - ode) <= 1e-6 * np.abs(ode) + 1e-9)
    plain = bench.direct_sum(model, dose_times, dose_mg, times)[0]
    ode = _ode(model, dose_times, dose_mg, times)
    assert np.all(np.abs(plain - ode) <= 1e-6 * np.abs(ode) + 1e-9)


def test_one_tiny_round_runs(bench, tmp_path, capsys):
    model = load_params("mildronate")
    regimen = Regimen.repeated("500 mg", "12 h", n_doses=4, route="oral")
    times = np.arange(0.0, 60.0, 0.5)
    x = -np.linspace(0.0, 1.0, times.size)
    rows = [
        bench.Row("tiny", "tiny simulate", lambda: lambda: simulate(model, regimen, times).concentration,
                  cells=times.size, versus="tiny_sum"),
        bench.Row("tiny_sum", "tiny plain sum", lambda: lambda: bench.direct_sum(model, np.arange(4) * 12.0,
                  np.full(4, 500.0), times), cells=times.size),
        bench.Row(f"exp{times.size}", "floor", lambda: lambda: np.exp(x), cells=times.size),
    ]  # fmt: skip
    assert bench.time_rounds(rows, 1, 10.0, str(tmp_path)) == 1
    bench.summarise(rows)
    bench._print(rows, 1)
    assert {"median_s", "min_s", "per_exp_floor", "per_versus"} <= rows[0].result.keys()
    assert "tiny simulate" in capsys.readouterr().out


def test_a_probe_reports_the_reason_a_row_is_skipped(bench, tmp_path):
    refused = bench.Row("refused", "refused", command=[sys.executable, "-c", "raise SystemExit('pkmodel: error: no')"])
    bench.probe(refused, str(tmp_path))
    assert refused.result["skipped"] == "exit status 1 after" + refused.result["skipped"].split("after")[1]
    assert refused.result["skipped"].endswith("pkmodel: error: no")
