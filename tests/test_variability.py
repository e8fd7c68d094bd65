"""Between-subject variability, residual error and per-subject random streams."""

import math
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError
from pkmodel.drugs.residual_error import ResidualError
from pkmodel.drugs.streams import PARAMETERS, RESIDUAL, subject_rng
from pkmodel.drugs.variability import Variability, cv_from_omega2, load_variability, omega2_from_cv
from pkmodel.params import BASES, data_dir
from pkmodel.simulation.population import Population

MODEL = Model(cl=4.0, v1=50.0, q=2.0, v2=30.0, ka=1.5, f=0.8)


# --- CV and omega² ----------------------------------------------------------------------------


def test_cv_and_omega2_follow_the_log_normal_convention():
    # CV 30 %: omega² = ln(1 + 0.09) = 0.086178; back: sqrt(exp(0.086178) - 1) = 0.3.
    assert omega2_from_cv(30) == pytest.approx(0.0861776962, rel=1e-9)
    assert cv_from_omega2(math.log(1.09)) == pytest.approx(30.0, rel=1e-12)
    v = Variability(cv={"cl": 30, "v1": "20 %"})
    assert v.omega2 == pytest.approx({"cl": math.log(1.09), "v1": math.log(1.04)}, rel=1e-12)
    assert v.cv == pytest.approx({"cl": 30.0, "v1": 20.0}, rel=1e-12)


def test_a_correlation_gives_the_covariance_rho_omega_omega():
    v = Variability(omega2={"cl": 0.09, "v1": 0.04}, correlation={("cl", "v1"): 0.5})
    np.testing.assert_allclose(v.omega, [[0.09, 0.5 * 0.3 * 0.2], [0.03, 0.04]], rtol=1e-15)
    full = Variability(omega=[[0.09, 0.03], [0.03, 0.04]], parameters=["cl", "v1"])
    np.testing.assert_allclose(full.correlation, [[1, 0.5], [0.5, 1]], rtol=1e-12)


def test_drawn_parameters_have_the_stated_spread_and_correlation():
    # 20,000 subjects: the SE of a sample variance is omega² sqrt(2/n) = 1 %; 5 SE allowed.
    n = 20_000
    v = Variability(cv={"cl": 30, "v1": 20}, correlation={("cl", "v1"): 0.6})
    m = Population(n, v, seed=3).model(MODEL)
    log_cl, log_v = np.log(m.cl / MODEL.cl), np.log(m.v1 / MODEL.v1)
    assert np.var(log_cl) == pytest.approx(math.log(1.09), rel=0.05)
    assert np.var(log_v) == pytest.approx(math.log(1.04), rel=0.05)
    assert np.corrcoef(log_cl, log_v)[0, 1] == pytest.approx(0.6, abs=0.03)
    assert np.std(m.cl) / np.mean(m.cl) == pytest.approx(0.30, rel=0.05)  # the CV of CL itself
    assert np.all(m.q == MODEL.q) and np.all(m.ka == MODEL.ka)  # only the named parameters vary


def test_f_varies_on_the_logit_scale_and_stays_a_fraction():
    v = Variability(omega2={"f": 4.0})
    eta = np.array([[-3.0], [0.0], [3.0]])
    m = v.apply(MODEL, eta)
    # logit F_i = logit(0.8) + eta: F_i = 0.8 / (0.8 + 0.2 e^-eta)
    np.testing.assert_allclose(
        m.f, [0.8 / (0.8 + 0.2 * math.exp(3)), 0.8, 0.8 / (0.8 + 0.2 * math.exp(-3))], rtol=1e-15
    )
    assert np.all(v.apply(MODEL.replace(f=1.0), eta).f == 1.0)


def test_the_etas_are_the_cholesky_factor_times_each_subjects_own_normals():
    v = Variability(omega=[[0.09, 0.03], [0.03, 0.04]], parameters=["cl", "v1"])
    m = Population(3, v, seed=11).model(MODEL)
    chol = np.linalg.cholesky(v.omega)
    for i in range(3):
        z = subject_rng(11, i, PARAMETERS).standard_normal(2)
        eta = [chol[0, 0] * z[0], chol[1, 0] * z[0] + chol[1, 1] * z[1]]
        assert m.cl[i] == pytest.approx(MODEL.cl * math.exp(eta[0]), rel=1e-15)
        assert m.v1[i] == pytest.approx(MODEL.v1 * math.exp(eta[1]), rel=1e-15)


# --- one stream per subject ---------------------------------------------------------------------


def test_a_subjects_parameters_do_not_depend_on_who_else_is_simulated():
    v = Variability(cv={"cl": 25, "ka": 40})
    small = Population(5, v, seed=42).model(MODEL)
    large = Population(500, v, seed=42).model(MODEL)
    window = Population(500, v, seed=42).model(MODEL, 3, 5)
    np.testing.assert_array_equal(small.cl, large.cl[:5])
    np.testing.assert_array_equal(window.ka, large.ka[3:5])
    other = Population(5, v, seed=43).model(MODEL)
    assert not np.any(other.cl == small.cl)


# --- the drug file's [variability] table --------------------------------------------------------


def test_mildronate_variability_is_the_published_between_subject_spread_with_its_arithmetic():
    v = load_variability("mildronate")
    assert v.parameters == ("cl", "v1", "ka")
    assert v.cv == pytest.approx({"cl": 15.0, "v1": 17.0, "ka": 39.0}, rel=1e-12)
    # CL/F CVs of the five dose groups of the oral study (SD / mean), pooled as a root mean square.
    cvs = [1.2 / 7.6, 1.1 / 7.2, 1.1 / 7.5, 1.0 / 7.8, 1.3 / 7.5]
    assert math.sqrt(sum(c * c for c in cvs) / 5) == pytest.approx(0.15, abs=0.005)
    np.testing.assert_array_equal(v.correlation, np.eye(3))
    doc = tomllib.loads((data_dir() / "mildronate.toml").read_text(encoding="utf-8"))
    for name, entry in doc["variability"].items():
        assert entry["basis"] in BASES and "Fundam Clin Pharmacol" in entry["source"], name
        assert f"ln(1 + 0.{int(entry['cv'][:2])}²)" in entry["source"]  # the arithmetic is shown


def test_a_user_file_may_give_omega2_and_correlations(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[variability]\ncorrelation = [{ between = ["cl", "v1"], value = 0.5 }]\n'
        '[variability.cl]\nomega2 = 0.09\nbasis = "assumption"\nsource = "x"\n'
        '[variability.v1]\nomega2 = 0.04\nbasis = "assumption"\nsource = "y"\n',
        encoding="utf-8",
    )
    v = load_variability(path)
    np.testing.assert_allclose(v.omega, [[0.09, 0.03], [0.03, 0.04]], rtol=1e-15)


def test_a_variability_entry_without_basis_is_refused(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[variability.cl]\ncv = 30\n", encoding="utf-8")
    with pytest.raises(PKModelError) as err:
        load_variability(path)
    assert err.value.field == "variability.cl.basis"


# --- residual error -------------------------------------------------------------------------------


def test_residual_error_has_the_combined_sd_and_each_subjects_own_stream():
    err = ResidualError(additive=0.2, proportional=0.1)
    assert err.sd(3.0) == pytest.approx(math.sqrt(0.2**2 + 0.3**2), rel=1e-15)
    conc = np.full((4, 5000), 3.0)
    y = err.observe(conc, seed=9)
    eps = subject_rng(9, 2, RESIDUAL).standard_normal(5000)
    np.testing.assert_allclose(y[2], 3.0 + math.sqrt(0.13) * eps, rtol=1e-15)
    np.testing.assert_array_equal(err.observe(conc[2:3], seed=9, first_subject=2)[0], y[2])
    assert np.std(y - 3.0) == pytest.approx(math.sqrt(0.13), rel=0.03)


# --- invalid input --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        st.floats(max_value=0.0), st.floats(min_value=1000.0), st.just(math.nan), st.booleans(), st.text(max_size=5)
    )
)
def test_a_bad_cv_is_refused_naming_the_field(cv):
    with pytest.raises(PKModelError) as err:
        Variability(cv={"cl": cv})
    assert err.value.field.startswith("cv")


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=8).filter(lambda s: s not in ("cl", "v1", "q", "v2", "ka", "f", "tlag")))
def test_an_unknown_parameter_is_refused(name):
    with pytest.raises(PKModelError) as err:
        Variability(cv={name: 30})
    assert err.value.field == "cv" and "unknown parameter" in str(err.value)


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=0.75, max_value=0.99))
def test_correlations_that_do_not_fit_together_are_refused(r):
    # cl~v1 and cl~ka strongly positive but v1~ka strongly negative: no such Omega exists.
    with pytest.raises(PKModelError) as err:
        Variability(cv={"cl": 30, "v1": 30, "ka": 30}, correlation={("cl", "v1"): r, ("cl", "ka"): r, ("v1", "ka"): -r})
    assert err.value.field == "correlation" and "positive definite" in str(err.value)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"omega": [[0.09, 0.2], [0.2, 0.04]], "parameters": ["cl", "v1"]}, "omega"),
        ({"omega": [[0.09, 0.0], [0.01, 0.04]], "parameters": ["cl", "v1"]}, "omega"),
        ({"omega": [[0.09]], "parameters": ["cl", "v1"]}, "omega"),
        ({"cv": {"cl": 30}, "omega2": {"cl": 0.1}}, "variability"),
        ({}, "variability"),
        ({"cv": {"cl": 30}, "correlation": {("cl", "cl"): 0.5}}, "correlation"),
        ({"cv": {"cl": 30, "v1": 20}, "correlation": {("cl", "v1"): 1.5}}, "correlation[('cl', 'v1')]"),
        ({"omega2": {"cl": -0.1}}, "omega2['cl']"),
    ],
)
def test_bad_variability_inputs_name_their_field(kwargs, field):
    with pytest.raises(PKModelError) as err:
        Variability(**kwargs)
    assert err.value.field == field


def test_variability_on_a_parameter_the_model_lacks_is_refused():
    with pytest.raises(PKModelError) as err:
        Population(3, Variability(cv={"v2": 20}), seed=1).model(Model(cl=1.0, v1=10.0))
    assert err.value.field == "variability"


@pytest.mark.parametrize(
    "kwargs, field",
    [({"additive": -1}, "additive"), ({"proportional": math.inf}, "proportional"), ({}, "residual error")],
)
def test_bad_residual_error_is_refused(kwargs, field):
    with pytest.raises(PKModelError) as err:
        ResidualError(**kwargs)
    assert err.value.field == field
