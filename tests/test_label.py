"""Label rules: each warning class, its message quoting the label, filters, and the regimen rules."""

import os
import warnings

import numpy as np
import pytest

from pkmodel import PKModelError, PKModelWarning, Regimen
from pkmodel.drugs.label import (
    BreastfeedingWarning,
    ContraindicationWarning,
    HepaticImpairmentWarning,
    LabelRules,
    LabelWarning,
    LateDoseWarning,
    MaximumDoseWarning,
    PaediatricWarning,
    PregnancyWarning,
    RenalImpairmentWarning,
    SevereHepaticImpairmentWarning,
    SevereRenalImpairmentWarning,
    check_label,
    label_findings,
    load_label_rules,
)
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import load_population_factors
from pkmodel.params import data_dir

# The rules are mildronate's, from its population file (nothing is assumed about the drug).
DRUG = "mildronate-populations"
MORNING = Regimen.daily("500 mg", ["08:00"], days=14)  # within every regimen rule
ALL_CLASSES = (
    PaediatricWarning,
    PregnancyWarning,
    BreastfeedingWarning,
    SevereRenalImpairmentWarning,
    RenalImpairmentWarning,
    SevereHepaticImpairmentWarning,
    HepaticImpairmentWarning,
    MaximumDoseWarning,
    LateDoseWarning,
)


def caught(patient, regimen=None, **kw):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        messages = check_label(patient, regimen, **{"rules": DRUG} | kw)
    return record, messages


def test_every_class_is_a_pkmodel_warning_and_contraindications_share_a_base():
    for cls in ALL_CLASSES:
        assert issubclass(cls, LabelWarning) and issubclass(cls, PKModelWarning)
    for cls in (PaediatricWarning, PregnancyWarning, BreastfeedingWarning):
        assert issubclass(cls, ContraindicationWarning)
    assert issubclass(SevereRenalImpairmentWarning, RenalImpairmentWarning)
    assert issubclass(SevereRenalImpairmentWarning, ContraindicationWarning)
    assert issubclass(SevereHepaticImpairmentWarning, HepaticImpairmentWarning)
    assert not issubclass(RenalImpairmentWarning, ContraindicationWarning)
    assert not issubclass(LateDoseWarning, ContraindicationWarning)


def test_a_normal_adult_on_a_label_regimen_gets_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_label(Patient(age=45, weight=75, sex="male", serum_creatinine=0.9), MORNING, rules=DRUG) == []
        assert check_label(None, MORNING, rules=DRUG) == []
        assert check_label(Patient(), None, rules=DRUG) == []
        assert check_label(None, Regimen.repeated("500 mg", "12 h", n_doses=28), rules=DRUG) == []  # 00:00 and 12:00


@pytest.mark.parametrize(
    "patient, cls, words",
    [
        (Patient(age=16), PaediatricWarning, "no data on the safety and efficacy of using mildronate in children"),
        (Patient(pregnant=True), PregnancyWarning, "contraindicated during pregnancy"),
        (Patient(breastfeeding=True, sex="female"), BreastfeedingWarning, "contraindicated during breastfeeding"),
        (Patient(egfr_category="G4"), SevereRenalImpairmentWarning, "severe liver and/or kidney failure"),
        (Patient(crcl=10), SevereRenalImpairmentWarning, "severe liver and/or kidney failure"),
        (Patient(egfr_category="mild"), RenalImpairmentWarning, "mild to moderate severity should use a smaller dose"),
        (Patient(crcl=45), RenalImpairmentWarning, "excreted by the body through the kidneys"),
        (Patient(child_pugh="C"), SevereHepaticImpairmentWarning, "severe liver and/or kidney failure"),
        (Patient(child_pugh="A"), HepaticImpairmentWarning, "impaired liver function of mild to moderate severity"),
    ],
)
def test_each_patient_rule_warns_with_its_class_and_quotes_the_label(patient, cls, words):
    record, messages = caught(patient, MORNING)
    assert [w.category for w in record] == [cls]
    assert messages == [str(record[0].message)]
    assert words in messages[0]
    assert "“" in messages[0] and "Injection label" in messages[0]


def test_contraindicated_versus_caution_wording():
    (msg,) = caught(Patient(crcl=20))[1]
    assert msg.startswith("Contraindicated: severe renal impairment (KDIGO G4: creatinine clearance 20 mL/min)")
    (msg,) = caught(Patient(crcl=45))[1]
    assert msg.startswith("Caution, a smaller dose: moderate renal impairment (KDIGO G3: creatinine clearance 45")
    assert "liver and/or kidney function monitoring should be performed" in msg
    # Cockcroft–Gault: 80 years, 50 kg, woman, SCr 2.0 -> 60 * 50 / 144 * 0.85 = 17.7 mL/min (severe).
    (msg,) = caught(Patient(age=80, weight=50, sex="female", serum_creatinine=2.0))[1]
    assert "severe renal impairment" in msg and "(Cockcroft–Gault) 18 mL/min" in msg


def test_elderly_sentence_joins_a_caution_only_for_the_elderly():
    (old,) = caught(Patient(age=70, egfr_category="mild"))[1]
    (young,) = caught(Patient(age=50, egfr_category="mild"))[1]
    sentence = "Elderly patients with impaired liver and/or kidney function may have their mildronate dose reduced."
    assert sentence in old and sentence not in young
    record, _ = caught(Patient(age=70))
    assert record == []  # age alone is no rule


def test_several_rules_at_once_contraindications_first():
    patient = Patient(age=17, sex="female", pregnant=True, breastfeeding=True, crcl=25, child_pugh="B")
    record, messages = caught(patient, Regimen.daily("750 mg", ["08:00", "20:00"], days=2))
    assert [w.category for w in record] == [
        PaediatricWarning,
        PregnancyWarning,
        BreastfeedingWarning,
        SevereRenalImpairmentWarning,
        HepaticImpairmentWarning,
        MaximumDoseWarning,
        LateDoseWarning,
    ]
    assert len(messages) == 7


@pytest.mark.parametrize("silenced", ALL_CLASSES)
def test_each_warning_can_be_silenced_by_its_class(silenced):
    patient = Patient(age=17, sex="female", pregnant=True, breastfeeding=True, crcl=25, child_pugh="B")
    regimen = Regimen.daily("750 mg", ["08:00", "20:00"], days=2)
    other = Patient(crcl=45, child_pugh="C")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", silenced)
        check_label(patient, regimen, rules=DRUG)
        check_label(other, None, rules=DRUG)
    shown = {w.category for w in record}
    assert silenced not in shown
    assert len(shown) >= 6  # the others still show


def test_filters_by_group():
    patient = Patient(pregnant=True, crcl=45, egfr_category="G4", child_pugh="C")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ContraindicationWarning)
        check_label(patient, MORNING, rules=DRUG)
    assert record == []  # every finding here is a contraindication (G4 is worse than CrCL 45)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", RenalImpairmentWarning)  # both severities
        check_label(Patient(crcl=10), None, rules=DRUG)
        check_label(Patient(crcl=50), None, rules=DRUG)
    assert record == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ContraindicationWarning)
        with pytest.raises(PregnancyWarning):
            check_label(Patient(pregnant=True), None, rules=DRUG)
        with warnings.catch_warnings(record=True) as record:  # a caution is still only a warning
            warnings.simplefilter("always", RenalImpairmentWarning)
            check_label(Patient(crcl=50), None, rules=DRUG)
        assert [w.category for w in record] == [RenalImpairmentWarning]


def test_warnings_point_at_the_caller():
    record, _ = caught(Patient(pregnant=True))
    assert record[0].filename == __file__

    def wrapper():
        return check_label(Patient(pregnant=True), stacklevel=3, rules=DRUG)

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        wrapper()
    assert record[0].filename == __file__ and record[0].lineno != 0


# --- regimen rules ------------------------------------------------------------------------------


def test_maximum_daily_dose_per_calendar_day():
    record, messages = caught(None, Regimen.daily("500 mg", ["06:00", "08:00", "10:00"], days=3))
    assert [w.category for w in record] == [MaximumDoseWarning]
    assert "maximum daily dose of 1000 mg on 3 of 3 dosing days (highest 1500 mg" in messages[0]
    assert "The dose is 500-1000 mg (5-10 ml) per day" in messages[0]
    assert caught(None, Regimen.repeated("500 mg", "12 h", over="14 d"))[0] == []  # exactly 1000 mg/day
    assert caught(None, Regimen.daily("1 g", ["08:00"], days=5))[0] == []
    # One day over: a loading day of 1500 mg then 500 mg/day.
    loading = Regimen.daily("750 mg", ["08:00", "11:00"], days=1).then(Regimen.daily("500 mg", ["08:00"], days=3))
    (msg,) = caught(None, loading)[1]
    assert "on 1 of 4 dosing days" in msg and "first on day 0" in msg


def test_late_doses_after_the_first_half_of_the_waking_day():
    # Default cut-off 15:00 (first half of a 07:00-23:00 day), the reading of params/mildronate-regimens.toml.
    assert caught(None, Regimen.daily("250 mg", ["08:00", "14:00"], days=7))[0] == []
    assert caught(None, Regimen.daily("250 mg", ["08:00", "15:00"], days=7))[0] == []  # 15:00 itself is allowed
    record, messages = caught(None, Regimen.daily("250 mg", ["08:00", "16:00"], days=7))
    assert [w.category for w in record] == [LateDoseWarning]
    assert "7 of 14 doses are after 15:00 clock time (first: day 0 at 16:00" in messages[0]
    assert "first half of the day" in messages[0]
    (msg,) = caught(None, Regimen.repeated("250 mg", "8 h", n_doses=3))[1]  # 00:00, 08:00, 16:00
    assert "1 of 3 doses" in msg and "day 0 at 16:00" in msg
    late = MORNING.late({3: "8 h"})  # dose 3 taken at 16:00 on day 2
    (msg,) = caught(None, late)[1]
    assert "1 of 14 doses" in msg and "day 2 at 16:00" in msg
    # The strict reading, before noon, is one override away.
    strict = load_label_rules(DRUG, late_dose_after="12:00")
    (msg,) = caught(None, Regimen.daily("250 mg", ["08:00", "14:00"], days=7), rules=strict)[1]
    assert "7 of 14 doses are after 12:00" in msg


def test_rules_can_be_overridden():
    rules = load_label_rules(DRUG, late_dose_after="15:00", maximum_daily_dose=2000)
    regimen = Regimen.daily("500 mg", ["08:00", "14:00", "20:00"], days=2)
    record, messages = caught(None, regimen, rules=rules)
    assert [w.category for w in record] == [LateDoseWarning]
    assert "2 of 6 doses are after 15:00" in messages[0]
    assert load_label_rules(DRUG, late_dose_after=13.5).late_dose_after == 13.5
    assert caught(Patient(age=17), rules=load_label_rules(DRUG, paediatric_age=16))[0] == []
    with pytest.raises(PKModelError):
        load_label_rules(DRUG, late_dose_after="25:00")
    with pytest.raises(PKModelError):
        load_label_rules(DRUG, bedtime="22:00")


def test_rules_from_a_user_file(tmp_path):
    path = tmp_path / "label.toml"
    path.write_text("[label.maximum_daily_dose]\nvalue = 2000.0\n", encoding="utf-8")
    rules = load_label_rules(DRUG, path)
    assert rules.maximum_daily_dose == 2000 and "500-1000 mg" in rules.quotes["maximum_daily_dose"].text
    assert caught(None, Regimen.daily("500 mg", ["06:00", "08:00", "10:00"], days=3), rules=rules)[0] == []


# --- populations (array covariates) -----------------------------------------------------------


def test_array_patients_count_the_subjects_concerned():
    patients = Patient(age=np.array([15.0, 40.0, 70.0, 80.0]), crcl=np.array([12.0, 95.0, 50.0, 70.0]))
    record, messages = caught(patients)
    assert [w.category for w in record] == [PaediatricWarning, SevereRenalImpairmentWarning, RenalImpairmentWarning]
    assert "1 of 4 subjects is younger than 18 years (age 15 years)" in messages[0]
    assert "1 of 4 subjects has kidney failure (KDIGO G5: creatinine clearance 12 mL/min)" in messages[1]
    assert (
        "2 of 4 subjects have mild or moderate renal impairment (KDIGO G2/G3: creatinine clearance 50-70" in messages[2]
    )
    assert "Elderly" in messages[2]


def test_findings_without_warnings_and_type_checks():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = label_findings(Patient(pregnant=True), MORNING, rules=DRUG)
    assert [f.category for f in found] == [PregnancyWarning] and found[0].rule == "pregnancy"
    with pytest.raises(PKModelError, match="Patient"):
        check_label({"age": 10}, rules=DRUG)
    with pytest.raises(PKModelError, match="Regimen"):
        check_label(None, "500 mg q12h", rules=DRUG)


# --- a drug whose label has fewer rules (each rule optional) ------------------------------------


def _drug_file(tmp_path, label_tables):
    """A population file with mildronate's factors and the given [label] tables (or none)."""
    text = (data_dir() / f"{DRUG}.toml").read_text(encoding="utf-8")
    factors = text[: text.index("# --- label rules")]
    path = tmp_path / "other-drug-populations.toml"
    path.write_text(factors + label_tables, encoding="utf-8")
    return path


MAXIMUM_ONLY = """
[label.maximum_daily_dose]
value = 4000.0
unit = "mg"
basis = "label"
source = "A made-up label for the test."
quote_source = "Test label, Dosage"
quote = "Do not exceed 4 g per day."
"""


def test_a_label_with_only_a_maximum_daily_dose_checks_only_that(tmp_path):
    rules = load_label_rules(_drug_file(tmp_path, MAXIMUM_ONLY))
    assert rules.maximum_daily_dose == 4000 and rules.late_dose_after is None and rules.paediatric_age is None
    assert dict(rules.renal_status) == {} and set(rules.quotes) == {"maximum_daily_dose"}
    everyone = Patient(age=8, pregnant=True, breastfeeding=True, crcl=10, child_pugh="C")
    late_and_heavy = Regimen.daily("1500 mg", ["08:00", "16:00", "23:00"], days=2)
    # No renal rule: no population factors needed, and the child, pregnancy etc. are not flagged.
    found = label_findings(everyone, late_and_heavy, rules=rules)
    assert [f.category for f in found] == [MaximumDoseWarning]
    assert found[0].message == (
        "Above the label's maximum daily dose of 4000 mg on 2 of 2 dosing days (highest 4500 mg; first on day 0, "
        "day 0 starting at time 0). Label: “Do not exceed 4 g per day.” (Test label, Dosage)"
    )
    with pytest.raises(PKModelError, match="no such rule"):
        load_label_rules(_drug_file(tmp_path, MAXIMUM_ONLY), late_dose_after="12:00")
    assert load_label_rules(_drug_file(tmp_path, MAXIMUM_ONLY), maximum_daily_dose=None).maximum_daily_dose is None


def test_a_drug_without_a_label_table_has_no_rules(tmp_path):
    rules = load_label_rules(_drug_file(tmp_path, ""))
    assert rules == LabelRules()
    assert label_findings(Patient(age=3, pregnant=True, crcl=5), Regimen.daily("9 g", ["23:00"], days=2), rules=rules) == []


def test_a_status_table_lists_only_the_grades_it_flags_and_each_needs_its_sentence(tmp_path):
    severe_only = """
[label.renal_status]
severe = "contraindicated"
"kidney failure" = "contraindicated"

[label.quotes.renal_contraindicated]
quote = "Contraindicated in severe renal impairment."
source = "Test label, Contraindications."
"""
    path = _drug_file(tmp_path, severe_only)
    rules = load_label_rules(path)
    assert rules.renal_status["moderate"] == "none" and rules.renal_status["severe"] == "contraindicated"
    assert label_findings(Patient(crcl=45), rules=rules, factors=path) == []
    (found,) = label_findings(Patient(crcl=20), rules=path)  # the drug's file gives the factors too
    assert found.category is SevereRenalImpairmentWarning
    assert found.message == (
        "Contraindicated: severe renal impairment (KDIGO G4: creatinine clearance 20 mL/min). "
        "Label: “Contraindicated in severe renal impairment.” (Test label, Contraindications)"
    )
    with pytest.raises(PKModelError) as err:
        load_label_rules(_drug_file(tmp_path, severe_only.split("[label.quotes")[0]))
    assert err.value.field == "label.quotes.renal_contraindicated"
    with pytest.raises(PKModelError) as err:
        load_label_rules(_drug_file(tmp_path, '[label.renal_status]\nsevre = "contraindicated"\n'))
    assert err.value.field == "label.renal_status"


def test_without_rules_the_error_says_what_to_give():
    with pytest.raises(PKModelError) as err:
        label_findings(Patient(pregnant=True), MORNING)
    assert err.value.field == "rules" and "load_label_rules" in err.value.allowed
    with pytest.raises(PKModelError):
        load_label_rules(None)
    rules = load_label_rules(DRUG)
    with pytest.raises(PKModelError) as err:  # renal rules need the renal categories
        label_findings(Patient(crcl=20), rules=rules)
    assert err.value.field == "factors"


@pytest.mark.parametrize("value", [0, -5, "1000", True, float("nan"), [1000]])
def test_label_numbers_pass_the_one_number_validator(value):
    with pytest.raises(PKModelError) as err:
        load_label_rules(DRUG, maximum_daily_dose=value)
    assert err.value.field == "maximum_daily_dose"


def test_a_population_file_read_again_when_it_changes(tmp_path):
    """Label rules and population factors are kept per file version: an edited file (a new
    mtime) gives the new numbers, an unchanged one the same object without reading it again."""
    path = tmp_path / "drug-populations.toml"
    text = (data_dir() / "mildronate-populations.toml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = load_label_rules(path)
    assert first.maximum_daily_dose == 1000.0
    assert load_label_rules(path) is first and load_population_factors(path) is load_population_factors(path)
    start = text.index("[label.maximum_daily_dose]")
    edited = text[:start] + text[start:].replace("value = 1000", "value = 750", 1)
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    assert load_label_rules(path).maximum_daily_dose == 750.0
