"""Covariate effects as data, against hand calculations; the renal/hepatic clearance model as one
instance of them; population covariates drawn or given as a table."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError
from pkmodel.drugs.clearance import apply_patient, clearance_scale
from pkmodel.drugs.covariate_model import CovariateModel, Effect, Pathway, effects_from_toml
from pkmodel.drugs.demographics import Demographics, table_covariates
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import load_population_factors
from pkmodel.drugs.renal import cockcroft_gault
from pkmodel.simulation.population import Population

DRUG = "mildronate-populations"
MODEL = Model(cl=5.7, v1=55.0, q=0.6, v2=11.0, ka=2.0, f=0.78, populations=DRUG)
PLAIN = Model(cl=5.7, v1=55.0, q=0.6, v2=11.0, ka=2.0, f=0.78)


# --- each effect type against a hand calculation -----------------------------------------------------


def test_power_effects_scale_by_the_covariate_ratio_to_the_power_theta():
    weight = Effect("v1", "power", "weight", theta=1.0, reference=70.0)
    renal = Effect("cl", "power", "crcl", theta=0.75, reference=100.0)
    model = CovariateModel((weight, renal)).apply(
        PLAIN, {"weight": np.array([84.0, 35.0]), "crcl": np.array([50.0, 100.0])}
    )
    np.testing.assert_allclose(model.v1, [55.0 * 1.2, 55.0 * 0.5], rtol=1e-15)  # 84/70 = 1.2, 35/70 = 0.5
    np.testing.assert_allclose(model.cl, [5.7 * 0.5**0.75, 5.7], rtol=1e-15)  # 0.5^0.75 = 0.594604
    assert 5.7 * 0.5**0.75 == pytest.approx(3.389240, rel=1e-6)


def test_exponential_and_linear_effects():
    age = Effect("cl", "exponential", "age", theta=-0.01, reference=40.0)
    assert age.factor({"age": 60.0}) == pytest.approx(math.exp(-0.2), rel=1e-15)
    linear = Effect("cl", "linear", "age", theta=-0.005, reference=40.0)
    assert linear.factor({"age": 60.0}) == pytest.approx(0.9, rel=1e-15)  # 1 - 0.005 * 20
    with pytest.raises(PKModelError) as err:
        linear.factor({"age": np.array([60.0, 260.0])})  # 1 - 0.005 * 220 < 0
    assert err.value.field == "age" and err.value.value == 260.0


def test_categorical_effects_and_missing_covariates_are_at_the_reference():
    hepatic = Effect("cl", "categorical", "child_pugh", factors={"A": 0.8, "B": 0.6})
    np.testing.assert_array_equal(
        hepatic.factor({"child_pugh": np.array(["A", None, "B"], dtype=object)}), [0.8, 1.0, 0.6]
    )
    assert hepatic.factor({}) == 1.0 and Effect("v1", "power", "weight", reference=70.0).factor({}) == 1.0
    with pytest.raises(PKModelError) as err:
        hepatic.factor({"child_pugh": "D"})
    assert err.value.field == "child_pugh"


def test_effects_on_one_parameter_multiply():
    both = CovariateModel((Effect("cl", "power", "weight", 0.75, 70.0), Effect("cl", "power", "crcl", 1.0, 100.0)))
    assert both.factor("cl", {"weight": 140.0, "crcl": 50.0}) == pytest.approx(2**0.75 * 0.5, rel=1e-15)
    assert both.factor("v1", {"weight": 140.0}) == 1.0


# --- the renal/hepatic clearance model is a pathways effect --------------------------------------------


def test_the_population_file_declares_the_clearance_model_as_pathways():
    f = load_population_factors(DRUG)
    (effect,) = f.effects.effects
    assert (effect.parameter, effect.type) == ("cl", "pathways")
    assert [(p.name, p.fraction) for p in effect.pathways] == [("non-renal", 0.5), ("renal", 0.5)]
    # CrCL 45 mL/min, Child-Pugh B: 0.5 * 0.6 + 0.5 * 45/100 = 0.525 (by hand).
    assert f.effects.factor("cl", {"crcl": 45.0, "child_pugh": "B"}) == pytest.approx(0.525, rel=1e-15)
    assert f.effects.factor("cl", {"crcl": 100.0, "child_pugh": None}) == 1.0  # the reference, exactly


def test_overrides_of_the_named_numbers_flow_into_the_effect():
    f = load_population_factors(DRUG, fe=0.7, hepatic={"B": 0.5})
    # (1 - 0.7) * 0.5 + 0.7 * 0.45 = 0.465
    assert clearance_scale(Patient(crcl=45, child_pugh="B"), f) == pytest.approx(0.465, rel=1e-15)
    assert f.effects.effects[0].pathways[1].fraction == 0.7


def test_apply_patient_gives_the_pathways_numbers_for_array_covariates():
    patient = Patient(crcl=np.array([30.0, 60.0, 100.0]), child_pugh="A")
    expected = [0.5 * 0.8 + 0.5 * c / 100 for c in (30.0, 60.0, 100.0)]
    np.testing.assert_allclose(apply_patient(MODEL, patient).cl, 5.7 * np.array(expected), rtol=1e-15)


def test_a_drug_file_may_declare_a_weight_effect_and_name_its_numbers():
    doc = {"size": {"reference_weight": {"value": 70.0}}}

    def lookup(name):
        node = doc
        for key in name.split("."):
            node = node[key]
        return node["value"]

    model = effects_from_toml(
        [{"parameter": "v1", "type": "power", "covariate": "weight", "reference": "size.reference_weight", "theta": 1}],
        lookup,
    )
    assert model.apply(PLAIN, {"weight": 105.0}).v1 == pytest.approx(55.0 * 1.5, rel=1e-15)


# --- population covariates ---------------------------------------------------------------------------


def test_a_covariate_table_gives_each_row_its_clearance_by_hand():
    table = pd.DataFrame(
        {
            "age": [30.0, 80.0, 50.0],
            "weight": [70.0, 50.0, 90.0],
            "sex": ["male", "female", "m"],
            "serum_creatinine": [1.0, 1.5, 2.0],
            "child_pugh": [None, "B", "a"],
        }
    )
    model = Population(covariates=table).model(MODEL)
    crcl = [(140 - 30) * 70 / 72.0, (140 - 80) * 50 / (72 * 1.5) * 0.85, (140 - 50) * 90 / (72 * 2.0)]
    hepatic = [1.0, 0.6, 0.8]
    expected = [5.7 * (0.5 * h + 0.5 * c / 100) for c, h in zip(crcl, hepatic, strict=True)]
    np.testing.assert_allclose(model.cl, expected, rtol=1e-14)
    assert np.all(model.v1 == 55.0)


def test_a_population_effect_of_weight_on_volume_with_a_table():
    effects = CovariateModel((Effect("v1", "power", "weight", 1.0, 70.0),))
    model = Population(covariates={"weight": [70.0, 140.0]}, effects=effects).model(PLAIN)
    np.testing.assert_allclose(model.v1, [55.0, 110.0], rtol=1e-15)


def test_drawn_demographics_are_correlated_through_sex_and_cockcroft_gault():
    n = 4000
    rng = np.random.default_rng(1)
    covs = Demographics().covariates(rng.random((n, 2)), rng.standard_normal((n, 2)))
    np.testing.assert_allclose(
        covs["crcl"],
        cockcroft_gault(covs["age"], covs["weight"], covs["serum_creatinine"], list(covs["sex"])),
        rtol=1e-15,
    )
    female = covs["sex"] == "female"
    assert np.median(covs["weight"][female]) == pytest.approx(70.0, rel=0.03)
    assert np.median(covs["weight"][~female]) == pytest.approx(85.0, rel=0.03)
    assert np.corrcoef(covs["age"], covs["crcl"])[0, 1] < -0.3  # older, lower creatinine clearance


def test_a_drawn_subject_gets_the_clearance_of_its_own_covariates():
    from pkmodel.drugs.streams import subject_rng

    model = Population(50, covariates=Demographics(), seed=5).model(MODEL)
    g = subject_rng(5, 17)  # no variability: the subject's stream starts with its covariates
    u, z = g.random(2), g.standard_normal(2)
    female = u[0] < 0.5
    age = 18 + 62 * u[1]
    weight = (70.0 if female else 85.0) * math.exp(math.sqrt(math.log(1.04)) * z[0])
    scr = (0.7 if female else 0.9) * math.exp(math.sqrt(math.log(1.04)) * z[1])
    crcl = (140 - age) * weight / (72 * scr) * (0.85 if female else 1.0)
    assert model.cl[17] == pytest.approx(5.7 * (0.5 + 0.5 * crcl / 100), rel=1e-13)


# --- invalid input ---------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=6).filter(lambda s: s not in ("cl", "v1", "q", "v2", "ka", "f", "tlag", "")))
def test_an_effect_on_an_unknown_parameter_is_refused(name):
    with pytest.raises(PKModelError) as err:
        Effect(name, "power", "weight", reference=70.0)
    assert err.value.field == "effect.parameter"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"type": "sigmoid", "covariate": "weight"}, "effect.type"),
        ({"type": "power", "covariate": "weight", "reference": 0.0}, "effect on cl.reference"),
        ({"type": "power", "covariate": ""}, "effect on cl.covariate"),
        ({"type": "categorical", "covariate": "child_pugh", "factors": {"A": -1.0}}, "effect on cl.factors['A']"),
        ({"type": "pathways", "pathways": (Pathway("a", 0.4, ()),)}, "effect on cl.pathways"),
    ],
)
def test_bad_effects_name_their_field(kwargs, field):
    with pytest.raises(PKModelError) as err:
        Effect("cl", **kwargs)
    assert err.value.field == field


def test_an_unknown_covariate_column_is_refused():
    with pytest.raises(PKModelError) as err:
        table_covariates(pd.DataFrame({"wieght": [70.0]}))
    assert err.value.field == "covariates" and err.value.value == "wieght"
