"""How the patient changes the model: the patient's renal function and category, and the scaling
of clearance. :func:`apply_patient` turns a reference :class:`~pkmodel.model.Model` into that
patient's model by the covariate effects its drug file declares (:mod:`pkmodel.drugs.covariate_model`);
for mildronate that scales clearance only, by a ``pathways`` effect:

    CL_patient = CL · [(1 − fe) · f_hepatic + fe · CrCL / CrCL_ref]

with ``fe`` the fraction of the reference clearance that is renal, ``f_hepatic`` the Child–Pugh
factor on non-renal clearance (1 without hepatic impairment), ``CrCL`` the patient's creatinine
clearance (:func:`renal_function`) and ``CrCL_ref`` that of the reference adult. A patient with
no impairment information is the reference adult and gets exactly the reference model.

The factors are the drug's (:mod:`pkmodel.drugs.populations`); the patient is a
:class:`~pkmodel.drugs.patient.Patient`. Units: creatinine clearance mL/min, clearance L/h.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pkmodel.drugs.covariates import RENAL_CATEGORIES
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import Drug, PopulationFactors, factors_of
from pkmodel.drugs.renal import cockcroft_gault
from pkmodel.errors import PKModelError
from pkmodel.model import Model, Value, format_value

# --- renal function ---------------------------------------------------------------------------


def renal_function(patient: Patient | None, factors: PopulationFactors | Drug | None) -> Value:
    """The patient's creatinine clearance, mL/min: the ``crcl`` given; else Cockcroft–Gault from
    age, weight, serum creatinine and sex; else the representative value of the eGFR category;
    else the reference adult's (normal renal function). ``factors``: the drug's population factors
    (or the drug, see :data:`Drug`), which hold the category values and the reference.

    Serum creatinine without age, weight or sex is an error rather than silently ignored.
    """
    f = factors_of(factors, "renal_function")
    if patient is None:
        return f.crcl_reference
    if patient.crcl is not None:
        return patient.crcl
    if patient.serum_creatinine is not None:
        age, weight, sex = patient.age, patient.weight, patient.sex
        if age is None or weight is None or sex is None:
            missing = [k for k in ("age", "weight", "sex") if getattr(patient, k) is None]
            raise PKModelError(
                "serum_creatinine",
                format_value(patient.serum_creatinine),
                f"Cockcroft-Gault also needs {', '.join(missing)}; or give crcl or egfr_category instead",
            )
        return cockcroft_gault(age, weight, patient.serum_creatinine, sex)
    if patient.egfr_category is not None:
        return f.category(patient.egfr_category).representative
    return f.crcl_reference


def renal_evidence(patient: Patient | None) -> str | None:
    """Where :func:`renal_function` takes the patient's renal function from: "crcl",
    "cockcroft-gault", "category", or None (nothing known: the reference adult)."""
    if patient is None:
        return None
    if patient.crcl is not None:
        return "crcl"
    if patient.serum_creatinine is not None:
        return "cockcroft-gault"
    if patient.egfr_category is not None:
        return "category"
    return None


def renal_category(patient: Patient | None, factors: PopulationFactors | Drug | None) -> Any:
    """The renal category name (array of names for array covariates), or None when nothing about
    renal function is known. When both a category and a clearance are given, the worse counts.
    ``factors``: as for :func:`renal_function`."""
    index = renal_index(patient, factors_of(factors, "renal_category"))
    if index is None:
        return None
    names = np.array(RENAL_CATEGORIES, dtype=object)[index]
    return str(names) if np.ndim(names) == 0 else names


def renal_index(patient: Patient | None, f: PopulationFactors) -> Any:
    if patient is None:
        return None
    found: list[Any] = []
    if patient.egfr_category is not None:
        found.append(RENAL_CATEGORIES.index(patient.egfr_category))
    if patient.crcl is not None or patient.serum_creatinine is not None:
        found.append(f.categorise(renal_function(patient, f)))
    if not found:
        return None
    return np.asarray(found[0]) if len(found) == 1 else np.maximum(found[0], found[1])


# --- clearance ----------------------------------------------------------------------------------


def patient_covariates(patient: Patient, factors: PopulationFactors | Drug | None) -> dict[str, Any]:
    """The covariates of ``patient`` by name, as covariate effects read them
    (:mod:`pkmodel.drugs.covariate_model`): age, weight, sex, serum_creatinine, child_pugh as given
    (None when not known) and crcl, the renal function of :func:`renal_function`."""
    return {
        "age": patient.age,
        "weight": patient.weight,
        "sex": patient.sex,
        "serum_creatinine": patient.serum_creatinine,
        "crcl": renal_function(patient, factors),
        "child_pugh": patient.child_pugh,
    }


def clearance_scale(patient: Patient | None, factors: PopulationFactors | Drug | None) -> Value:
    """CL_patient / CL_reference: the drug's covariate effects on CL for this patient. For a drug
    file declaring the renal/hepatic pathways (as mildronate's does) that is

        (1 − fe) · f_hepatic + fe · CrCL / CrCL_ref,

    computed as 1 + (1 − fe)(f_hepatic − 1) + fe (CrCL/CrCL_ref − 1), the same number written so
    that the reference adult gets exactly 1.0. A scalar, or an array for array covariates.
    ``factors``: the drug's population factors (or the drug, see :data:`Drug`).
    """
    if patient is None:
        return 1.0
    f = factors_of(factors, "clearance_scale")
    return f.effects.factor("cl", patient_covariates(patient, f))


def apply_patient(model: Model, patient: Patient | None, factors: PopulationFactors | Drug | None = None) -> Model:
    """The patient's model: ``model`` (the reference adult) with the drug's covariate effects
    applied (for mildronate: CL multiplied by :func:`clearance_scale`, every other parameter
    unchanged). ``patient=None`` returns ``model``. ``factors``: the population factors, by
    default those of the model's own population file. Array parameters and array covariates
    broadcast (one subject per element)."""
    if not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "expected a pkmodel.Model")
    if patient is None:
        return model
    if not isinstance(patient, Patient):
        raise PKModelError("patient", type(patient).__name__, "expected a pkmodel.Patient or None")
    f = factors_of(model if factors is None else factors, "apply_patient")
    covariates = patient_covariates(patient, f)
    n = patient.n_subjects
    if n is not None and model.n_subjects not in (None, n):
        raise PKModelError(
            "patient",
            f"{n} subjects",
            f"the model has {model.n_subjects} subjects: one patient value each",
        )
    return f.effects.apply(model, covariates)
