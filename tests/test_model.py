"""Model parameter values: validation, conversions between parameterisations, derived quantities."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)


def test_textbook_two_compartment_macro_constants():
    # k10 = 0.1, k12 = 0.3, k21 = 0.2 /h: alpha, beta are the roots of l^2 - 0.6 l + 0.02 = 0.
    m = Model.from_micro(0.1, 10.0, k12=0.3, k21=0.2)
    root = math.sqrt(0.36 - 0.08)
    assert m.alpha == pytest.approx((0.6 + root) / 2, rel=1e-14)
    assert m.beta == pytest.approx((0.6 - root) / 2, rel=1e-13)
    assert (m.cl, m.q, m.v2) == pytest.approx((1.0, 3.0, 15.0), rel=1e-15)
    # C(t) per mg = A e^-at + B e^-bt with A = (alpha - k21) / (V1 (alpha - beta)).
    assert m.coef_a == pytest.approx((m.alpha - 0.2) / (10 * root), rel=1e-13)
    assert m.coef_b == pytest.approx((0.2 - m.beta) / (10 * root), rel=1e-13)
    assert m.vss == pytest.approx(25.0)
    assert m.t_half_beta == pytest.approx(math.log(2) / m.beta)


@settings(max_examples=100, deadline=None)
@given(cl=positive, v1=positive, q=positive, v2=positive)
def test_round_trip_through_micro_constants_and_half_lives(cl, v1, q, v2):
    m = Model(cl=cl, v1=v1, q=q, v2=v2)
    micro = Model.from_micro(m.k10, m.v1, k12=m.k12, k21=m.k21)
    via_cl = Model.from_half_lives(m.t_half_alpha, m.t_half_beta, m.v1, cl=m.cl)
    via_k21 = Model.from_half_lives(m.t_half_alpha, m.t_half_beta, m.v1, k21=m.k21)
    for other in (micro, via_cl, via_k21):
        got = np.array([other.cl, other.v1, other.q, other.v2])
        want = np.array([cl, v1, q, v2])
        # The half-life forms recover k12 as alpha + beta - k10 - k21: relative to alpha, that
        # subtraction costs digits when k12 is a tiny part of alpha, which is physics, not code.
        scale = 1.0 if other is micro else max(1.0, m.alpha / m.k12)
        np.testing.assert_allclose(got, want, rtol=1e-12 * scale)


@settings(max_examples=100, deadline=None)
@given(cl=positive, v1=positive, q=positive, v2=positive)
def test_macro_identities(cl, v1, q, v2):
    m = Model(cl=cl, v1=v1, q=q, v2=v2)
    assert m.alpha + m.beta == pytest.approx(m.k10 + m.k12 + m.k21, rel=1e-12)
    assert m.alpha * m.beta == pytest.approx(m.k10 * m.k21, rel=1e-12)
    assert m.coef_a + m.coef_b == pytest.approx(1 / v1, rel=1e-12)
    # AUC of a unit IV dose two ways: A/alpha + B/beta = 1/CL.
    assert m.coef_a / m.alpha + m.coef_b / m.beta == pytest.approx(m.auc_per_dose, rel=1e-9)
    assert m.alpha >= m.beta > 0


def test_one_compartment():
    m = Model(cl=2.0, v1=40.0, ka=1.0)
    assert m.n_compartments == 1
    assert m.k21 == 0.0 and m.beta == 0.0
    assert m.t_half_beta == m.t_half_alpha == pytest.approx(math.log(2) / 0.05)
    assert m.coef_a == pytest.approx(1 / 40) and m.coef_b == 0.0


def test_strings_with_units_and_percent():
    m = Model(cl="100 mL/min", v1="20 L", ka="0.5 1/h", f="78 %", tlag="30 min")
    assert (m.cl, m.v1, m.ka, m.f, m.tlag) == pytest.approx((6.0, 20.0, 0.5, 0.78, 0.5))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"cl": -1, "v1": 10}, "cl"),
        ({"cl": 0, "v1": 10}, "cl"),
        ({"cl": 1, "v1": 0}, "v1"),
        ({"cl": 1, "v1": float("nan")}, "v1"),
        ({"cl": 1, "v1": 1, "f": 0}, "f"),
        ({"cl": 1, "v1": 1, "f": 1.2}, "f"),
        ({"cl": 1, "v1": 1, "ka": -1}, "ka"),
        ({"cl": 1, "v1": 1, "tlag": -0.5}, "tlag"),
        ({"cl": 1, "v1": 1, "q": 1}, "v2"),
        ({"cl": 1, "v1": 1, "q": -1, "v2": 3}, "q"),
        ({"cl": "5 mg", "v1": 1}, "cl"),
        ({"cl": True, "v1": 1}, "cl"),
        ({"cl": np.array([1.0, 2.0]), "v1": np.array([1.0, 2.0, 3.0])}, "parameters"),
    ],
)
def test_bad_parameters_name_the_field(kwargs, field):
    with pytest.raises(PKModelError) as err:
        Model(**kwargs)
    assert err.value.field == field
    assert field in str(err.value)


def test_half_lives_must_be_ordered_and_consistent():
    with pytest.raises(PKModelError, match="t_half_alpha"):
        Model.from_half_lives(15.34, 6.0, 20, cl=5)
    # With these half-lives and V1 = 20 L a model exists only for 0.90 < CL < 2.29 L/h.
    with pytest.raises(PKModelError, match="between 0.9037"):
        Model.from_half_lives(6.06, 15.34, 20, cl=5.7)
    with pytest.raises(PKModelError, match="cl/k21"):
        Model.from_half_lives(6.06, 15.34, 20)


def test_a_peripheral_compartment_not_connected_leaves_the_central_half_life():
    # q = 0: C(t) = D/V1 exp(-CL/V1 t), so the terminal half-life is ln2 V1 / CL (worked by hand:
    # 0.693147 * 50 / 4 = 8.664 h), with no division by the beta of 0 (warnings are errors here).
    model = Model(cl=4.0, v1=50.0, q=np.array([0.0, 1.0]), v2=11.0)
    assert model.t_half_beta[0] == pytest.approx(math.log(2) * 50.0 / 4.0, rel=1e-14)
    assert model.t_half_beta[1] > model.t_half_beta[0]  # connected: a slower terminal phase
    assert "8.66" in Model(cl=4.0, v1=50.0, q=0.0, v2=11.0).describe()


def test_immutable_and_vectorised():
    cl = np.array([1.0, 2.0, 4.0])
    m = Model(cl=cl, v1=10.0)
    cl[0] = 100.0  # the model keeps its own copy
    assert m.cl[0] == 1.0
    with pytest.raises(ValueError):
        m.cl[0] = 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.v1 = 3.0
    assert m.n_subjects == 3
    np.testing.assert_allclose(m.k10, [0.1, 0.2, 0.4])
    assert m.replace(v1=20.0).k10[2] == pytest.approx(0.2)


# --- bad input (issue 7): refused with a PKModelError, never a crash later -------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"cl": [], "v1": 20}, "cl"),  # was accepted, then simulate failed inside np.arange
        ({"cl": np.array([]), "v1": 20}, "cl"),
        ({"cl": 1, "v1": [True, False]}, "v1"),  # numpy would read True/False as 1.0/0.0
        ({"cl": ["1", "2"], "v1": 20}, "cl"),  # and text digits as numbers
        ({"cl": 1, "v1": 1, "populations": 7}, "populations"),
        ({"cl": 1, "v1": 1, "populations": "../etc/passwd"}, "populations"),
        ({"cl": 1, "v1": 1, "name": 3}, "name"),
    ],
)
def test_junk_that_numpy_would_accept_is_refused(kwargs, field):
    with pytest.raises(PKModelError) as err:
        Model(**kwargs)
    assert err.value.field == field


def test_populations_names_the_drug_file_and_label_is_only_an_alias():
    m = Model(cl=1, v1=1, populations="mildronate-populations.toml")
    assert m.populations == "mildronate-populations"
    assert m.replace(v1=2).populations == "mildronate-populations"
    assert "populations" not in repr(m)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=12),
    st.sampled_from(["7 L/h", "20 L", "1 1/h", "78 %", "30 min", "-3 L", "1e400 L", "nan L/h", "5 mg"]),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3),
    st.lists(st.lists(st.floats(), max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.floats(), max_size=1),
)
FIELDS = ("cl", "v1", "q", "v2", "ka", "f", "tlag")


@settings(max_examples=150, deadline=None)
@given(values=st.fixed_dictionaries({}, optional={k: JUNK for k in FIELDS}), populations=JUNK)
def test_model_from_junk_is_a_valid_model_or_a_pkmodel_error(values, populations):
    values.setdefault("cl", 1.0)
    values.setdefault("v1", 1.0)
    try:
        m = Model(**values, populations=populations)
    except PKModelError as err:
        assert err.field and err.allowed
        return
    for key in FIELDS:
        x = getattr(m, key)
        if x is None:
            continue
        arr = np.atleast_1d(np.asarray(x, dtype=float))
        assert arr.size >= 1 and np.all(np.isfinite(arr)), key
        assert np.all(arr >= 0) and (key not in ("cl", "v1", "v2", "ka", "f") or np.all(arr > 0)), key
    assert np.all(np.asarray(m.f) <= 1)
    assert m.populations is None or isinstance(m.populations, str)
