"""The command's patient options: ``pkmodel simulate --crcl/--scr/--egfr-category/... [--suggest-dose]``."""

import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from pkmodel import Patient, Regimen, load_params, regimens, simulate, suggest_dose
from pkmodel.drugs.clearance import apply_patient, renal_function
from pkmodel.drugs.label import label_findings
from pkmodel.drugs.populations import load_population_factors
from pkmodel.interfaces.cli import main
from pkmodel.simulation.simulate import default_times

# The library calls below issue the label's warnings too; the command's own are checked on stderr.
pytestmark = pytest.mark.filterwarnings("ignore::pkmodel.drugs.label.LabelWarning")

DEMO = ["simulate", "--dose", "500 mg", "--route", "iv", "--interval", "12 h", "--over", "14 d"]


def demo_regimen():
    return Regimen.repeated("500 mg", "12 h", over="14 d", route="iv")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def header(out, name):
    """The text after ``name:`` on the one header line that starts with it."""
    (line,) = [line for line in out.splitlines() if line.startswith(f"{name}:")]
    return line.split(":", 1)[1].strip()


def printed_cl(out):
    return float(re.match(r"CL (\S+) L/h for this patient", header(out, "clearance"))[1])


def one_line(text):
    return " ".join(text.split())


# --- the simulation is the library's, with the patient ----------------------------------------

MODERATE = {
    "category": (["--egfr-category", "moderate"], {"egfr_category": "moderate"}),
    "kdigo": (["--egfr-category", "G3b"], {"egfr_category": "G3b"}),
    "crcl": (["--crcl", "45 mL/min"], {"crcl": "45 mL/min"}),
    "cockcroft-gault": (
        ["--age", "70", "--weight", "72", "--sex", "male", "--scr", "141 µmol/L"],
        {"age": 70, "weight": 72, "sex": "male", "serum_creatinine": "141 µmol/L"},
    ),
    "crcl-and-child-pugh": (
        ["--crcl", "45 mL/min", "--child-pugh", "B", "--age", "58"],
        {"crcl": 45.0, "child_pugh": "B", "age": 58},
    ),
}


@pytest.mark.parametrize("argv, fields", MODERATE.values(), ids=MODERATE.keys())
def test_moderate_renal_patient_csv_equals_simulate_with_the_patient(tmp_path, capsys, argv, fields):
    csv = tmp_path / "patient.csv"
    code, out, err = run(capsys, *DEMO, *argv, "--csv", str(csv))
    assert code == 0
    model, patient = load_params("mildronate"), Patient(**fields)
    data = pd.read_csv(csv)
    sim = simulate(model, demo_regimen(), data["time_h"].to_numpy(), patient=patient)
    np.testing.assert_allclose(data["time_h"], default_times(sim.model, demo_regimen()), rtol=0, atol=1e-12)
    np.testing.assert_allclose(data["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(data[["central_mg", "peripheral_mg"]], sim.data[["central_mg", "peripheral_mg"]],
                               rtol=0, atol=1e-12)
    # the patient differs from the reference adult: lower clearance, higher exposure
    reference = simulate(model, demo_regimen(), data["time_h"].to_numpy())
    assert sim.model.cl < model.cl and data["conc_mg_L"].max() > reference.concentration.max()

    # header: the patient (renal function used, its category), then the clearance actually used
    who = header(out, "patient")
    crcl = float(renal_function(patient, load_population_factors("mildronate-populations")))
    assert float(re.search(r"CrCL (\S+) mL/min", who)[1]) == pytest.approx(crcl, rel=5e-4)
    assert "renal category moderate (KDIGO G3)" in who
    assert ("Child–Pugh B (non-renal CL × 0.6)" if "child_pugh" in fields else "Child–Pugh not given") in who
    assert who.startswith(f"age {fields['age']} y" if "age" in fields else "age not given")
    assert printed_cl(out) == pytest.approx(float(sim.model.cl), rel=5e-4)
    assert float(sim.model.cl) == pytest.approx(float(apply_patient(model, patient).cl), rel=1e-15)
    assert "params/mildronate-populations.toml" in header(out, "clearance")
    assert header(out, "parameters").startswith(f"CL {printed_cl(out):g} L/h")
    assert out.index("patient:") < out.index("clearance:") < out.index("parameters:") < out.index("metric")

    # the label's caution for moderate renal function: one line per finding, through the usual path
    lines = err.splitlines()
    assert len(lines) == len(label_findings(patient, demo_regimen(), rules="mildronate-populations")) >= 1
    assert all(line.startswith("pkmodel: warning: ") for line in lines)
    assert "Caution, a smaller dose: moderate renal impairment" in err


def test_a_time_grid_option_keeps_the_patients_default_end(tmp_path, capsys):
    """With only --step, the grid runs to the default end of the patient's model (its longer
    half-life), as simulate() would choose for that patient."""
    csv = tmp_path / "grid.csv"
    code, _, _ = run(capsys, *DEMO, "--egfr-category", "severe", "--step", "1 h", "--csv", str(csv))
    assert code == 0
    patient = Patient(egfr_category="severe")
    model = load_params("mildronate")
    end = default_times(apply_patient(model, patient), demo_regimen())[-1]
    data = pd.read_csv(csv)
    assert data["time_h"].iloc[-1] == end > default_times(model, demo_regimen())[-1]
    sim = simulate(model, demo_regimen(), data["time_h"].to_numpy(), patient=patient)
    np.testing.assert_allclose(data["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)


def test_no_patient_options_print_no_patient_lines(capsys):
    code, out, err = run(capsys, *DEMO)
    assert (code, err) == (0, "")
    assert "patient:" not in out and "clearance:" not in out and "dose suggestion" not in out
    # The shipped (calibrated) clearance, as printed with four significant digits.
    assert header(out, "parameters").startswith(f"CL {load_params('mildronate').cl:.4g} L/h")


# --- label warnings ---------------------------------------------------------------------------

CONTRAINDICATED = {
    "severe": (["--egfr-category", "severe"], {"egfr_category": "severe"}, "severe renal impairment"),
    "G5": (["--egfr-category", "G5"], {"egfr_category": "G5"}, "kidney failure"),
    "crcl": (["--crcl", "20 mL/min"], {"crcl": 20.0}, "severe renal impairment"),
    "child-pugh-C": (["--child-pugh", "c"], {"child_pugh": "C"}, "Child–Pugh C"),
    "pregnant": (["--pregnant", "--sex", "female"], {"pregnant": True, "sex": "female"}, "pregnancy"),
    "breastfeeding": (["--breastfeeding"], {"breastfeeding": True}, "breastfeeding"),
    "child": (["--age", "12"], {"age": 12}, "younger than 18 years"),
}


@pytest.mark.parametrize("argv, fields, what", CONTRAINDICATED.values(), ids=CONTRAINDICATED.keys())
def test_contraindication_is_one_warning_line_and_exit_0(tmp_path, capsys, argv, fields, what):
    csv = tmp_path / "c.csv"
    code, out, err = run(capsys, *DEMO, *argv, "--csv", str(csv))
    assert code == 0 and csv.is_file() and f"wrote {csv}" in out
    lines = err.splitlines()
    assert err.endswith("\n") and len(lines) == len(label_findings(Patient(**fields), demo_regimen(), rules="mildronate-populations"))
    assert all(line.startswith("pkmodel: warning: ") for line in lines)
    (contra,) = [line for line in lines if "contraindicat" in line.lower()]
    assert what in contra and "Label: “" in contra


def test_severe_renal_patient_prints_the_contraindication(capsys):
    code, out, err = run(capsys, *DEMO, "--egfr-category", "severe")
    assert code == 0
    assert err.count("\n") == 1 and err.startswith("pkmodel: warning: Contraindicated: severe renal impairment")
    assert "CrCL 22.5 mL/min (assumed for --egfr-category severe), renal category severe (KDIGO G4)" in out


def test_scr_beside_crcl_is_reported_as_unused(capsys):
    code, out, err = run(capsys, *DEMO, "--crcl", "80 mL/min", "--scr", "1.1 mg/dL", "--age", "40",
                         "--weight", "80", "--sex", "male")
    assert code == 0
    assert "pkmodel: warning: --scr is not used: --crcl is given and comes first\n" in err
    assert "CrCL 80 mL/min (given), renal category mild (KDIGO G2)" in out


def test_a_category_worse_than_the_crcl_counts_for_the_label_only(capsys):
    code, out, err = run(capsys, *DEMO, "--crcl", "50 mL/min", "--egfr-category", "severe")
    assert code == 0
    assert "CrCL 50 mL/min (given), renal category severe (KDIGO G4): the worse of" in out
    patient = Patient(crcl=50.0, egfr_category="severe")
    assert printed_cl(out) == pytest.approx(float(apply_patient(load_params("mildronate"), patient).cl), rel=5e-4)
    assert "Contraindicated: severe renal impairment" in err


# --- invalid patients ------------------------------------------------------------------------

BAD = {
    "crcl-negative": (["--crcl", "-5 mL/min"], "--crcl", "mL/min"),
    "crcl-no-unit": (["--crcl", "45"], "--crcl", "unit"),
    "crcl-wrong-unit": (["--crcl", "45 L/h"], "--crcl", "mL/min"),
    "child-pugh-D": (["--child-pugh", "D"], "--child-pugh", "A, B, C"),
    "scr-no-unit": (["--scr", "1.1", "--age", "70", "--weight", "70", "--sex", "male"], "--scr", "unit"),
    "scr-alone-no-unit": (["--scr", "1.1"], "--scr", "unit"),
    "scr-without-age": (["--scr", "1.1 mg/dL", "--weight", "70", "--sex", "male"], "--scr", "--age"),
    "sex-other": (["--sex", "other"], "--sex", "female, male"),
    "age-text": (["--age", "old"], "--age", "number"),
    "age-negative": (["--age", "-3"], "--age", "years"),
    "weight-zero": (["--weight", "0 kg"], "--weight", "kg"),
    "egfr-G6": (["--egfr-category", "G6"], "--egfr-category", "kidney failure"),
    "pregnant-male": (["--pregnant", "--sex", "male"], "--pregnant", "--sex male"),
    "no-population-factors": (["--params", "none", "--cl", "5 L/h", "--v1", "30 L", "--crcl", "50 mL/min"],
                              "--params", "population factors"),
    "suggest-without-patient": (["--suggest-dose", "auc"], "--suggest-dose", "patient"),
    "suggest-unknown-target": (["--suggest-dose", "tmax", "--crcl", "50 mL/min"], "--suggest-dose", "cmax"),
}


@pytest.mark.parametrize("argv, option, word", BAD.values(), ids=BAD.keys())
def test_bad_patient_is_one_error_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, option, word):
    csv, png = tmp_path / "out" / "x.csv", tmp_path / "out" / "x.png"
    code, out, err = run(capsys, *DEMO, *argv, "--csv", str(csv), "--plot", str(png))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("pkmodel: error:") and err.endswith("\n")
    assert option in err and word in err, err
    assert not csv.exists() and not png.exists()
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_the_four_named_bad_values_name_their_option_first(capsys):
    for argv, option in [
        (["--crcl", "-5 mL/min"], "--crcl"),
        (["--child-pugh", "D"], "--child-pugh"),
        (["--scr", "1.1"], "--scr"),
        (["--sex", "other"], "--sex"),
    ]:
        code, _, err = run(capsys, *DEMO, *argv)
        assert code == 2 and err.startswith(f"pkmodel: error: {option}: got '{argv[1]}'; "), err


def test_suggest_dose_needs_a_regular_maintenance_regimen(tmp_path, capsys):
    csv = tmp_path / "s.csv"
    code, out, err = run(capsys, "simulate", "--dose", "500 mg", "--route", "iv", "--crcl", "40 mL/min",
                         "--suggest-dose", "auc", "--csv", str(csv))
    assert code == 2 and out == "" and not csv.exists()
    assert err.startswith("pkmodel: error: --suggest-dose: ") and "regular interval" in err


# --- --suggest-dose ---------------------------------------------------------------------------

SUGGEST = {
    "auc-iv": ("auc", DEMO, demo_regimen),
    "cmax-library": (
        "cmax",
        ["simulate", "--regimen", "alcohol-withdrawal"],
        lambda: regimens.load("alcohol-withdrawal", "low"),
    ),
}


@pytest.mark.parametrize("target, argv, regimen", SUGGEST.values(), ids=SUGGEST.keys())
def test_suggest_dose_prints_the_explanation_and_keeps_the_simulated_regimen(tmp_path, capsys, target, argv, regimen):
    csv = tmp_path / "s.csv"
    code, out, err = run(capsys, *argv, "--egfr-category", "moderate", "--suggest-dose", target, "--csv", str(csv))
    assert code == 0 and all(line.startswith("pkmodel: warning: ") for line in err.splitlines())
    model, patient = load_params("mildronate"), Patient(egfr_category="moderate")
    suggestion = suggest_dose(model, patient, regimen(), target=target)
    # a changed regimen (dose, or interval when no whole dose step fits), so the test means something
    assert (suggestion.dose_mg, suggestion.interval_h) != (suggestion.original_dose_mg, suggestion.original_interval_h)
    # printed after the exposure summary, as one paragraph equal to the library's explanation
    assert out.index("metric") < out.index("dose suggestion") < out.index(f"wrote {csv}")
    assert one_line(suggestion.explanation) in one_line(out)
    dose, interval = re.search(r"→ (\S+) mg \w+ every (\S+) h", out).groups()
    assert (float(dose), float(interval)) == (suggestion.dose_mg, suggestion.interval_h)
    assert f"--suggest-dose {target}" in out
    # the simulation is of the regimen as given, not of the suggestion
    data = pd.read_csv(csv)
    sim = simulate(model, regimen(), data["time_h"].to_numpy(), patient=patient)
    np.testing.assert_allclose(data["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)
    assert header(out, "regimen") == str(regimen())


def test_suggest_dose_for_a_patient_who_needs_no_change(capsys):
    code, out, _ = run(capsys, *DEMO, "--egfr-category", "normal", "--age", "40", "--suggest-dose", "auc")
    assert code == 0
    suggestion = suggest_dose(load_params("mildronate"), Patient(egfr_category="normal", age=40), demo_regimen())
    assert "unchanged" in suggestion.explanation and one_line(suggestion.explanation) in one_line(out)
    assert printed_cl(out) == pytest.approx(load_params("mildronate").cl, rel=5e-4)


# --- help -------------------------------------------------------------------------------------


def test_help_explains_the_patient_options(capsys):
    code, out, _ = run(capsys, "simulate", "--help")
    assert code == 0
    text = one_line(out)
    for option in ("--age YEARS", "--weight KG", "--sex {female,male}", "--scr VALUE", "--crcl VALUE",
                   "--egfr-category CATEGORY", "--child-pugh {A,B,C}", "--pregnant", "--breastfeeding",
                   "--suggest-dose {auc,cmax}"):
        assert option in out, option
    for words in ('"1.1 mg/dL" or "97 µmol/L"', '"45 mL/min"', "in kg", "in years", "Cockcroft–Gault",
                  "KDIGO", "normal ≥ 90", "mild 60 to < 90", "moderate 30 to < 60", "severe 15 to < 30",
                  "kidney failure < 15", "Child–Pugh", "A 5–6 points, mild", "fe = 0.5",
                  "documented assumptions", "params/mildronate-populations.toml", "contraindicates",
                  "print as warnings"):
        assert words in text, words


# --- units of the patient options (read by pkmodel.units) -------------------------------------


@pytest.mark.parametrize(
    ("scr", "age", "weight"),
    [("88.4 µmol/L", "60", "72"), ("88.4 μmol/L", "60 years", "72 kg"), ("88.4 umol/L", "60 y", "72 KG"),
     ("1 mg/dL", "60", "72 kg"), ("1 mg/dl", "60 YEARS", "72")],
)
def test_cockcroft_gault_from_scr_in_either_unit(capsys, scr, age, weight):
    # (140 − 60) × 72 / (72 × 1 mg/dL) = 80 mL/min; 88.4 µmol/L is 1 mg/dL (creatinine 113.12 g/mol).
    code, out, _ = run(capsys, *DEMO, "--age", age, "--weight", weight, "--sex", "male", "--scr", scr)
    assert code == 0
    assert "CrCL 80 mL/min (Cockcroft–Gault from SCr 1 mg/dL)" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--age", "60 kg"], "--age: got '60 kg'; expected a number"),
        (["--weight", "72 years"], "--weight: got '72 years'; expected a number"),
        (["--crcl", "45 L/h"], "--crcl: got '45 L/h'; 'L/h' is a flow (clearance) unit"),
        (["--scr", "1 mg/L", "--age", "60", "--weight", "72", "--sex", "male"], "--scr: got '1 mg/L'; 'mg/L' is a"),
    ],
)
def test_patient_option_units_are_checked(capsys, argv, words):
    code, out, err = run(capsys, *DEMO, *argv)
    assert code == 2 and out == "" and err.startswith(f"pkmodel: error: {words}"), err
