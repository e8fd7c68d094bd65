"""Special populations: Patient validation, Cockcroft–Gault, renal function and clearance scaling."""

import math
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel import Model, PKModelError, Regimen, simulate
from pkmodel.drugs.clearance import apply_patient, clearance_scale, renal_category, renal_function
from pkmodel.drugs.covariates import RENAL_CATEGORIES
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import load_population_factors
from pkmodel.drugs.renal import cockcroft_gault
from pkmodel.params import BASES, data_dir, shipped, shipped_populations

# A fixed two-compartment oral model (not the shipped file, which is being recalibrated).
# Its special populations are mildronate's (the model names the population file).
DRUG = "mildronate-populations"
MODEL = Model(cl=5.7, v1=55.0, q=0.6, v2=11.0, ka=2.0, f=0.78, populations=DRUG)
F = load_population_factors(DRUG)


# --- Cockcroft–Gault against worked examples -------------------------------------------------


@pytest.mark.parametrize(
    "age, weight, scr, sex, expected, tol",
    [
        # (140 - 60) * 72 / (72 * 1.0) = 80 mL/min; women x 0.85 = 68 mL/min.
        (60, 72, 1.0, "male", 80.0, 1e-12),
        (60, 72, 1.0, "female", 68.0, 1e-12),
        # Worked examples published with the formula (rounded to 0.1 mL/min there):
        # 70-year-old man, 75 kg, SCr 1.0 mg/dL -> 5250 / 72 = 72.9 mL/min
        # (https://www.droracle.ai/articles/797449/how-to-calculate-creatinine-clearance-in-a-patient-with).
        (70, 75, 1.0, "male", 72.9, 0.05),
        # Man, 65 years, 70 kg, SCr 1.4 mg/dL -> 75 * 70 / 100.8 = 52.1 mL/min; woman, 45 years,
        # 60 kg, SCr 0.9 mg/dL -> 5700 / 64.8 * 0.85 = 74.8 mL/min
        # (https://superglobalcalculator.com/formulas/pharmacology/creatinine-clearance).
        (65, 70, 1.4, "male", 52.1, 0.05),
        (45, 60, 0.9, "female", 74.8, 0.05),
    ],
)
def test_cockcroft_gault_worked_examples(age, weight, scr, sex, expected, tol):
    assert cockcroft_gault(age, weight, scr, sex) == pytest.approx(expected, abs=tol)


def test_cockcroft_gault_is_vectorised_and_reads_creatinine_units():
    crcl = cockcroft_gault([60, 60], [72, 72], [1.0, 1.0], ["male", "female"])
    np.testing.assert_allclose(crcl, [80.0, 68.0], rtol=1e-14)
    # 88.4 µmol/L is 1 mg/dL (creatinine, 113.12 g/mol).
    assert cockcroft_gault(60, 72, "88.4 µmol/L", "m") == pytest.approx(80.0, rel=1e-12)
    assert cockcroft_gault(60, 72, "1.0 mg/dL", "M") == pytest.approx(80.0, rel=1e-12)
    with pytest.raises(PKModelError, match="sex"):
        cockcroft_gault(60, 72, 1.0, None)


# --- Patient --------------------------------------------------------------------------------


def test_patient_normalises_its_words_and_units():
    p = Patient(sex="F", child_pugh="b", egfr_category="G3a", serum_creatinine="97 µmol/L", crcl="45 mL/min")
    assert (p.sex, p.child_pugh, p.egfr_category) == ("female", "B", "moderate")
    assert p.serum_creatinine == pytest.approx(97 / 88.4, rel=1e-12)
    assert p.crcl == 45.0
    assert Patient(egfr_category="g5").egfr_category == "kidney failure"
    assert Patient(egfr_category="Kidney Failure").egfr_category == "kidney failure"
    assert Patient(serum_creatinine="97 umol/L").serum_creatinine == pytest.approx(97 / 88.4)
    assert "child_pugh='B'" in repr(p)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"age": -1}, "age"),
        ({"age": "40"}, "age"),
        ({"weight": 0}, "weight"),
        ({"weight": float("nan")}, "weight"),
        ({"sex": "x"}, "sex"),
        ({"serum_creatinine": "1.0 mmol/L"}, "serum_creatinine"),
        ({"serum_creatinine": 0}, "serum_creatinine"),
        ({"crcl": "45 L/h"}, "crcl"),
        ({"crcl": -5}, "crcl"),
        ({"egfr_category": "G6"}, "egfr_category"),
        ({"child_pugh": "D"}, "child_pugh"),
        ({"pregnant": "yes"}, "pregnant"),
        ({"pregnant": True, "sex": "male"}, "pregnant"),
        ({"breastfeeding": True, "sex": "m"}, "breastfeeding"),
        ({"age": [40, 50], "crcl": [10, 20, 30]}, "patient"),
        ({"age": [[40]]}, "age"),
    ],
)
def test_patient_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(PKModelError) as err:
        Patient(**kwargs)
    assert err.value.field == field
    assert err.value.allowed  # says what is allowed


def test_patient_is_immutable():
    p = Patient(age=40)
    with pytest.raises(AttributeError):
        p.age = 50
    assert p.replace(age=50).age == 50 and p.age == 40


# --- renal function ---------------------------------------------------------------------------


def test_renal_function_order_crcl_then_cockcroft_gault_then_category_then_reference():
    f = load_population_factors(DRUG)
    cg = {"age": 60, "weight": 72, "sex": "male", "serum_creatinine": 1.0}
    assert renal_function(Patient(crcl=33, egfr_category="mild", **cg), F) == 33
    assert renal_function(Patient(egfr_category="mild", **cg), F) == pytest.approx(80.0)
    assert renal_function(Patient(egfr_category="mild"), F) == f.category("mild").representative == 75.0
    assert renal_function(Patient(age=60), F) == f.crcl_reference == 100.0
    assert renal_function(None, F) == 100.0


def test_serum_creatinine_without_the_rest_is_an_error_not_ignored():
    with pytest.raises(PKModelError, match="weight, sex"):
        renal_function(Patient(age=60, serum_creatinine=1.0), F)


def test_categories_follow_kdigo_and_the_worse_of_two_counts():
    f = load_population_factors(DRUG)
    edges = {c.name: (c.lower, c.upper) for c in f.categories}
    assert edges == {
        "normal": (90.0, math.inf),
        "mild": (60.0, 90.0),
        "moderate": (30.0, 60.0),
        "severe": (15.0, 30.0),
        "kidney failure": (0.0, 15.0),
    }
    for crcl, name in [
        (120, "normal"),
        (90, "normal"),
        (89.9, "mild"),
        (60, "mild"),
        (45, "moderate"),
        (29.9, "severe"),
        (15, "severe"),
        (14.9, "kidney failure"),
    ]:
        assert renal_category(Patient(crcl=crcl), F) == name
    assert renal_category(Patient(), F) is None
    assert renal_category(Patient(egfr_category="G4"), F) == "severe"
    # A clearance and a category that disagree: the worse one.
    assert renal_category(Patient(crcl=100, egfr_category="G4"), F) == "severe"
    assert list(renal_category(Patient(crcl=np.array([10.0, 50.0, 100.0]), egfr_category="G2"), F)) == [
        "kidney failure",
        "moderate",
        "mild",
    ]
    for c in f.categories:  # a patient known only by category sits inside it
        assert c.lower <= c.representative < c.upper


# --- clearance scaling ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patient",
    [
        None,
        Patient(),
        Patient(age=45, weight=80, sex="male"),
        Patient(egfr_category="normal"),
        Patient(egfr_category="G1"),
        Patient(crcl=100.0),
    ],
)
def test_the_reference_adult_gets_exactly_the_reference_model(patient):
    assert clearance_scale(patient, F) == 1.0
    adjusted = apply_patient(MODEL, patient)
    assert adjusted.cl == MODEL.cl  # exactly, not approximately
    for field in ("v1", "q", "v2", "ka", "f", "tlag"):
        assert getattr(adjusted, field) == getattr(MODEL, field)


def test_clearance_scale_is_the_documented_formula():
    f = load_population_factors(DRUG)
    assert (f.fe, f.crcl_reference, dict(f.hepatic)) == (0.5, 100.0, {"A": 0.8, "B": 0.6, "C": 0.4})
    # CL = CL_ref * [(1 - fe) * f_hepatic + fe * CrCL / CrCL_ref]
    assert clearance_scale(Patient(crcl=45, child_pugh="B"), F) == pytest.approx(0.5 * 0.6 + 0.5 * 0.45, rel=1e-15)
    assert clearance_scale(Patient(egfr_category="moderate"), F) == pytest.approx(0.725, rel=1e-15)
    assert clearance_scale(Patient(child_pugh="C"), F) == pytest.approx(0.7, rel=1e-15)
    cg = cockcroft_gault(80, 50, 1.5, "female")
    assert clearance_scale(Patient(age=80, weight=50, sex="female", serum_creatinine=1.5), F) == pytest.approx(
        0.5 + 0.5 * cg / 100, rel=1e-15
    )
    assert apply_patient(MODEL, Patient(crcl=45, child_pugh="B")).cl == pytest.approx(5.7 * 0.525, rel=1e-15)


def test_overrides_and_user_files(tmp_path):
    p = Patient(egfr_category="moderate")
    assert clearance_scale(p, load_population_factors(DRUG, fe=0.7)) == pytest.approx(0.615, rel=1e-15)
    assert clearance_scale(p, load_population_factors(DRUG, fe=0.3)) == pytest.approx(0.835, rel=1e-15)
    assert clearance_scale(p, load_population_factors(DRUG, fe=0.0)) == 1.0  # all non-renal: no renal effect
    # The normal category follows the reference clearance, so "normal" stays the identity.
    f120 = load_population_factors(DRUG, crcl_reference=120)
    assert clearance_scale(Patient(egfr_category="normal"), f120) == 1.0
    assert clearance_scale(p, f120) == pytest.approx(0.5 + 0.5 * 45 / 120, rel=1e-15)
    hep = load_population_factors(DRUG, hepatic={"B": 0.5})
    assert dict(hep.hepatic) == {"A": 0.8, "B": 0.5, "C": 0.4}
    # A user file holds only what it changes; the rest comes from the shipped file.
    path = tmp_path / "mine.toml"
    path.write_text('[clearance.fe]\nvalue = 0.8\nbasis = "assumption"\nsource = "my guess"\n', encoding="utf-8")
    mine = load_population_factors(DRUG, path)
    assert mine.fe == 0.8 and mine.crcl_reference == 100.0 and "my guess" in mine.sources["clearance.fe"]
    assert load_population_factors(DRUG, path, fe=0.1).fe == 0.1  # keywords beat the file
    assert load_population_factors(DRUG).fe == 0.5  # the default is untouched


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"fe": 1.5}, "fe"),
        ({"fe": True}, "fe"),
        ({"crcl_reference": 0}, "crcl_reference"),
        ({"hepatic": {"D": 0.5}}, "hepatic"),
        ({"hepatic": {"A": 0}}, "hepatic['A']"),
        ({"dose_steps": {"sc": 10}}, "dose_steps"),
        ({"exposure_bounds": (1.1, 1.25)}, "exposure_bounds"),
        ({"speed": 1}, "speed"),
    ],
)
def test_bad_overrides_are_rejected(kwargs, field):
    with pytest.raises(PKModelError) as err:
        load_population_factors(DRUG, **kwargs)
    assert err.value.field == field


def test_bad_user_file(tmp_path):
    with pytest.raises(PKModelError, match="no such file"):
        load_population_factors(DRUG, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[clearance.fe\n", encoding="utf-8")
    with pytest.raises(PKModelError, match="not valid TOML"):
        load_population_factors(DRUG, bad)
    gap = tmp_path / "gap.toml"
    gap.write_text("[renal.categories.mild]\nlower = 65.0\nupper = 90.0\nrepresentative = 75.0\n", encoding="utf-8")
    with pytest.raises(PKModelError, match="contiguous"):
        load_population_factors(DRUG, gap)


def test_every_value_in_the_population_file_says_where_it_came_from():
    doc = tomllib.loads((data_dir() / f"{DRUG}.toml").read_text(encoding="utf-8"))
    found = 0

    def walk(node, path):
        nonlocal found
        if isinstance(node, dict):
            if "value" in node or "representative" in node:
                found += 1
                assert node.get("basis") in BASES, path
                assert len(node.get("source", "")) > 40, path
            for key, child in node.items():
                walk(child, f"{path}.{key}")

    walk(doc, "")
    assert found >= 20
    assert set(doc["renal"]["categories"]) == set(RENAL_CATEGORIES)
    # Not a model parameter file: params.shipped() must not offer it as a model.
    assert DRUG not in shipped()
    assert DRUG in shipped_populations()


# --- vectorisation and the effect on exposure ----------------------------------------------


def test_array_models_and_array_patients():
    crcl = np.array([10.0, 45.0, 100.0, 130.0])
    model = apply_patient(MODEL, Patient(crcl=crcl))
    assert model.n_subjects == 4
    np.testing.assert_allclose(model.cl, 5.7 * (0.5 + 0.5 * crcl / 100), rtol=1e-15)
    population = MODEL.replace(cl=np.array([4.0, 5.0, 6.0, 7.0]))
    np.testing.assert_allclose(apply_patient(population, Patient(child_pugh="A")).cl, [3.6, 4.5, 5.4, 6.3], rtol=1e-15)
    np.testing.assert_allclose(
        apply_patient(population, Patient(crcl=crcl)).cl, population.cl * (0.5 + 0.5 * crcl / 100), rtol=1e-15
    )
    assert apply_patient(population, Patient()).cl is population.cl or np.array_equal(
        apply_patient(population, Patient()).cl, population.cl
    )
    with pytest.raises(PKModelError):
        apply_patient(population, Patient(crcl=[10.0, 20.0]))
    with pytest.raises(PKModelError, match="Patient"):
        apply_patient(MODEL, {"crcl": 40})


def test_steady_state_exposure_rises_by_one_over_the_clearance_scale():
    regimen = Regimen.repeated("500 mg", "12 h", over="10 d", route="oral")
    patient = Patient(age=75, weight=60, sex="female", serum_creatinine=1.3, child_pugh="A")
    ref = simulate(MODEL, regimen).summary().iloc[0]
    sick = simulate(apply_patient(MODEL, patient), regimen).summary().iloc[0]
    assert sick.cavg_ss_mg_L / ref.cavg_ss_mg_L == pytest.approx(1 / clearance_scale(patient, F), rel=1e-12)


# --- an estimated CrCL passes the rule a given one passes (issue 7 item 4) ---------------------


@pytest.mark.parametrize(
    "kwargs, estimate",
    [
        # (140 - 40) * 70 / (72 * 1e-9) = 9.72e10 mL/min: was accepted as the patient's CrCL.
        ({"age": 40, "weight": 70, "sex": "male", "serum_creatinine": "1e-9 mg/dL"}, 7000 / 72e-9),
        # (140 - 40) * 999 / 72 = 1387.5 mL/min, while crcl=1387.5 given directly is refused.
        ({"age": 40, "weight": 999, "sex": "male", "serum_creatinine": 1.0}, 99900 / 72),
    ],
)
def test_an_impossible_cockcroft_gault_estimate_is_refused_naming_its_inputs(kwargs, estimate):
    with pytest.raises(PKModelError) as given:
        Patient(crcl=estimate)
    with pytest.raises(PKModelError) as err:
        Patient(**kwargs)
    assert err.value.field == given.value.field == "crcl"
    assert err.value.value == pytest.approx(estimate, rel=1e-12)
    assert "mL/min in (0, 1000)" in err.value.allowed and "mL/min in (0, 1000)" in given.value.allowed
    for word in ("Cockcroft", f"age {kwargs['age']}", f"weight {kwargs['weight']}", "serum creatinine", "male"):
        assert word in err.value.allowed
    with pytest.raises(PKModelError, match="Cockcroft"):
        cockcroft_gault(kwargs["age"], kwargs["weight"], kwargs["serum_creatinine"], "male")
    # A given crcl comes first: the creatinine is then not used, so not estimated.
    assert Patient(**kwargs, crcl=60).crcl == 60


def test_an_array_estimate_names_the_subject():
    with pytest.raises(PKModelError, match=r"weight 999 kg.*\(subject 1\)"):
        cockcroft_gault([40, 40], [70, 999], [1.0, 1.0], ["male", "male"])
    assert cockcroft_gault(40, 999 * 0.7, 1.0, "f") == pytest.approx(100 * 699.3 / 72 * 0.85, rel=1e-12)


# --- nothing assumed about the drug -------------------------------------------------------------


def test_without_the_drug_the_error_says_what_to_give():
    plain = Model(cl=5.7, v1=55.0)
    patient = Patient(egfr_category="moderate")
    for call in (
        lambda: load_population_factors(None),
        lambda: renal_function(patient, None),
        lambda: renal_category(patient, None),
        lambda: clearance_scale(patient, None),
        lambda: apply_patient(plain, patient),
    ):
        with pytest.raises(PKModelError) as err:
            call()
        assert "load_population_factors" in err.value.allowed or "population" in err.value.allowed
    # The drug may be given as its model, its population file's name or a path to that file.
    path = data_dir() / f"{DRUG}.toml"
    for drug in (MODEL, DRUG, path, str(path)):
        assert clearance_scale(patient, drug) == pytest.approx(0.725, rel=1e-15)
    assert apply_patient(plain, patient, F).cl == pytest.approx(5.7 * 0.725, rel=1e-15)
    with pytest.raises(PKModelError, match="populations"):
        load_population_factors("no-such-drug")


def test_a_population_file_that_cannot_be_read_is_a_pkmodel_error(tmp_path):
    latin = tmp_path / "latin.toml"
    latin.write_bytes("[clearance.fe]\nvalue = 0.5 # caf\xe9\n".encode("latin-1"))
    with pytest.raises(PKModelError, match="not UTF-8"):
        load_population_factors(DRUG, latin)
    with pytest.raises(PKModelError, match="not UTF-8"):
        load_population_factors(latin)


NUMBERS = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.text(max_size=10),
    st.sampled_from(["1.1 mg/dL", "97 µmol/L", "1e-9 mg/dL", "45 mL/min", "1e9 mL/min", "0 mg/dL"]),
    st.lists(st.floats(min_value=1e-3, max_value=500), min_size=0, max_size=3),
)
WORDS = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["male", "F", "G3a", "moderate", "B", "x"]))


@settings(max_examples=150, deadline=None)
@given(
    age=NUMBERS,
    weight=NUMBERS,
    scr=NUMBERS,
    crcl=NUMBERS,
    sex=WORDS,
    category=WORDS,
    child_pugh=WORDS,
    pregnant=st.one_of(st.booleans(), NUMBERS),
)
def test_patient_from_junk_is_valid_or_a_pkmodel_error(age, weight, scr, crcl, sex, category, child_pugh, pregnant):
    try:
        p = Patient(
            age=age,
            weight=weight,
            sex=sex,
            serum_creatinine=scr,
            crcl=crcl,
            egfr_category=category,
            child_pugh=child_pugh,
            pregnant=pregnant,
        )
    except PKModelError as err:
        assert err.field and err.allowed
        return
    # Whatever was accepted gives a usable clearance: finite, positive, in the CrCL rule.
    try:
        crcl_used = np.asarray(renal_function(p, F), dtype=float)
    except PKModelError as err:  # creatinine without age, weight or sex: said, not guessed
        assert err.field == "serum_creatinine"
        return
    assert np.all(np.isfinite(crcl_used)) and np.all((crcl_used > 0) & (crcl_used < 1000))
    assert np.all(np.isfinite(np.asarray(clearance_scale(p, F))))
