"""A second drug made of files only: theophylline runs through the same loading, simulation and
calibration as mildronate, and reproduces its label's numbers."""

import numpy as np
import pytest

from pkmodel import Regimen, load_params, simulate
from pkmodel.analysis.calibration_targets import load_calibration
from pkmodel.analysis.fit import Problem, calibrate

# FDA label, theophylline (anhydrous) extended-release tablets, Clinical Pharmacology.
LABEL_CL_ML_KG_MIN, LABEL_V_L_KG, WEIGHT_KG = 0.65, 0.45, 70.0  # Table I; Distribution; reference adult
LABEL_HALF_LIFE_RANGE_H = (6.1, 12.8)  # Table I, adults 16-60 years, non-smoking
STUDY = {"cmax": (9.3, 2.0), "tmax": (12.8, 4.2)}  # two 400 mg tablets after a meal, mean ± SD


def test_parameters_are_the_labels_values_for_a_70_kg_adult():
    model = load_params("theophylline")
    assert model.n_compartments == 1
    assert model.cl == pytest.approx(LABEL_CL_ML_KG_MIN * WEIGHT_KG * 60 / 1000)
    assert model.v1 == pytest.approx(LABEL_V_L_KG * WEIGHT_KG)
    lo, hi = LABEL_HALF_LIFE_RANGE_H
    assert lo <= np.log(2) * model.v1 / model.cl <= hi


def test_simulated_study_matches_the_label_within_one_sd():
    model = load_params("theophylline")
    sim = simulate(model, Regimen.single("800 mg", "oral"), np.linspace(0.0, 48.0, 385))
    cmax, tmax = sim.peak()
    for value, (mean, sd) in ((cmax[0], STUDY["cmax"]), (tmax[0], STUDY["tmax"])):
        assert abs(value - mean) < sd
    # Hand-worked closed form of the one-compartment oral curve at its peak.
    k, ka, dose = model.cl / model.v1, model.ka, 800.0 * model.f
    t = np.log(ka / k) / (ka - k)
    assert tmax[0] == pytest.approx(t, rel=1e-7)
    assert cmax[0] == pytest.approx(dose * ka / (model.v1 * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t)), rel=1e-10)
    # Mass balance: everything absorbed is cleared, AUC0-inf = F dose / CL.
    assert sim.auc(0.0, 2000.0)[0] == pytest.approx(dose / model.cl, rel=1e-9)


def test_calibration_runs_and_the_shipped_values_are_its_optimum():
    result = calibrate("theophylline-targets")
    assert result.converged
    spec = load_calibration("theophylline-targets")
    problem = Problem(spec)
    x = problem.to_free(load_params("theophylline"))
    assert problem.refine(x).cost >= problem.objective(x)[0] - 1e-9
    assert result.objective == pytest.approx(problem.objective(x)[0], abs=1e-9)
    gradient = dict(zip([s.name for s in spec.search], problem.gradient(x), strict=True))
    assert abs(gradient["ka"]) < 1e-5
    # F is on its bound (complete absorption) and the objective would fall beyond it.
    assert load_params("theophylline").f == 1.0 and gradient["f"] < 0
