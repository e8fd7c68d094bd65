"""The shipped mildronate parameters are an optimum of their calibration, under its stated rule.

What is checked is what matters, not the optimiser's path: a local refit started from the shipped
numbers does not improve the objective, the gradient there is zero in every free coordinate, and
the one coordinate on a bound (the terminal phase's share of the AUC, held at >= 1/2 by the rule
in params/mildronate-targets.toml) is pressed against it. The fast predictions the fit runs on are
checked against full simulate() runs and the closed form of the bi-exponential.
"""

import numpy as np
import pytest

from pkmodel import load_params, simulate
from pkmodel.analysis.calibration_targets import load_calibration, load_targets
from pkmodel.analysis.fit import TERMINAL_SHARE, Problem, calibrate
from pkmodel.analysis.target_predictions import calibration_table, predict_many
from pkmodel.errors import PKModelError

VARIANTS = [None, "alpha-5.56", "alpha-6.55"]
# The objective is half the sum of squared z-scores; a refit that gains less than this is the same
# optimum (the file stores ten significant digits).
OBJECTIVE_TOLERANCE = 1e-6
GRADIENT_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def spec():
    return load_calibration("mildronate-targets")


@pytest.mark.parametrize("variant", VARIANTS)
def test_shipped_parameters_are_an_optimum(spec, variant):
    problem = Problem(spec, variant=variant)
    shipped = load_params("mildronate", variant=variant)
    x = problem.to_free(shipped)
    names = [s.name for s in spec.search]
    share = names.index(TERMINAL_SHARE)
    # The rule's bound is active: the terminal phase carries exactly half of the AUC.
    assert 1 / (1 + np.exp(-x[share])) == pytest.approx(0.5, abs=1e-9)
    objective = problem.objective(x)[0]
    refit = problem.refine(x)
    assert refit.cost >= objective - OBJECTIVE_TOLERANCE
    gradient = problem.gradient(x)
    free = [i for i in range(len(names)) if i != share]
    assert np.all(np.abs(gradient[free]) < GRADIENT_TOLERANCE), dict(zip(names, gradient))
    # Pressed against the lower bound: the objective would fall with a smaller share (the data
    # alone would shrink the peripheral compartment), which is what the rule forbids.
    assert gradient[share] > 1.0


def test_the_declared_multi_start_finds_nothing_better(spec):
    result = calibrate("mildronate-targets")
    shipped = Problem(spec).objective(Problem(spec).to_free(load_params("mildronate")))[0]
    assert result.converged and result.objective == pytest.approx(shipped, abs=OBJECTIVE_TOLERANCE)
    assert result.starts.objective.min() == pytest.approx(result.objective)


def test_terminal_share_is_the_beta_part_of_the_auc(spec):
    # Closed form of an IV bolus, C = A e^-alpha t + B e^-beta t: AUC share of the beta phase.
    model = load_params("mildronate", variant="alpha-5.56")
    problem = Problem(spec, variant="alpha-5.56")
    b_part = model.coef_b / model.beta
    expected = b_part / (model.coef_a / model.alpha + b_part)
    x = problem.to_free(model)
    assert 1 / (1 + np.exp(-x[[s.name for s in spec.search].index(TERMINAL_SHARE)])) == pytest.approx(expected)
    # And its integral is 1/CL, as for every linear model.
    assert model.coef_a / model.alpha + model.coef_b / model.beta == pytest.approx(1 / model.cl)


@pytest.mark.parametrize("variant", ["alpha-6.55"])
def test_fast_predictions_match_full_simulations(variant):
    model = load_params("mildronate", variant=variant).replace(tlag=0.25)
    targets = load_targets("mildronate-targets")
    fast = predict_many(model, targets)[:, 0]
    for target, value in zip(targets, fast, strict=True):
        if target.metric in ("cmax", "tmax", "auc_0_24"):
            sim = simulate(model, target.regimen, np.linspace(0.0, 24.0, 193), check_label=False)
            cmax, tmax = sim.peak()
            reference = {"cmax": cmax[0], "tmax": tmax[0], "auc_0_24": sim.auc(0.0, 24.0)[0]}[target.metric]
        elif target.metric == "cmax_ss":
            sim = simulate(model, target.regimen, np.linspace(0.0, target.interval, 97), check_label=False)
            reference = sim.peak()[0][0]
        else:
            reference = getattr(model, target.metric)
        # simulate's peak search stops at 1e-9 h on a flat top: Tmax agrees to that, the rest to rounding.
        assert value == pytest.approx(reference, rel=1e-7 if target.metric == "tmax" else 1e-11), target.name


def test_targets_carry_sources_and_the_table_scores_them():
    targets = load_targets("mildronate-targets")
    assert len(targets) == 19 and all(t.source and t.sd > 0 for t in targets)
    table = calibration_table(load_params("mildronate"), targets)
    # z by hand for one row: (predicted - observed) / SD.
    row = table.set_index("target").loc["oral 500 mg, AUC0-24"]
    assert row.z == pytest.approx((row.predicted - 68.0) / 7.0)
    # The label half-lives are held, so their z-scores are what the label implies.
    assert table.set_index("target").loc["terminal half-life"].z == pytest.approx(0.0, abs=1e-9)


def test_held_values_can_be_overridden(spec):
    problem = Problem(spec, held={"t_half_alpha": "5.56 h"})
    assert problem.held["t_half_alpha"] == 5.56
    with pytest.raises(PKModelError, match="held"):
        Problem(spec, held={"cl": 4.0})


@pytest.mark.parametrize(
    "text, field",
    [
        ('[[target]]\nname="x"\nmetric="auc"\nmean=1\nsd=1\nsource="s"\n', "metric"),
        ('[[target]]\nname="x"\nmetric="f"\nmean=1\nsd=0\nsource="s"\n', "sd"),
        ('[[target]]\nname="x"\nmetric="cmax"\nmean=1\nsd=1\nsource="s"\n', "regimen"),
        ('[calibration]\nparams="mildronate"\n[calibration.search]\ncl={transform="exp", start=1}\n', "transform"),
        ('[calibration]\nparams="mildronate"\n[calibration.search]\nf={transform="logit", start=1.5}\n', "start"),
        (
            '[calibration]\nparams="mildronate"\n[calibration.search]\nf={transform="logit", start=0.4, lower=0.5}\n',
            "start",
        ),
    ],
)
def test_bad_targets_files_name_the_field(tmp_path, text, field):
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PKModelError, match=field):
        load_calibration(path) if "calibration" in text else load_targets(path)
