"""From parsed command-line options to pkmodel values: the model, the patient, the regimen, the
output times and the dose suggestion. Each value is built by the module that owns it; this module
only maps options to arguments, and reports a refused value under the option that was typed."""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from pkmodel.analysis.suggest import DoseSuggestion, suggest_dose
from pkmodel.dosing import library as regimens
from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import PopulationFactors, load_population_factors
from pkmodel.errors import PKModelError, PKModelWarning
from pkmodel.interfaces.options import DEFAULT_PARAMS, FIELDS, PATIENT_OPTION, UsageError
from pkmodel.model import Model
from pkmodel.params import load_params, model_from_fields
from pkmodel.simulation.simulate import default_times
from pkmodel.units import parse_quantity, read_number

__all__ = [
    "build_model",
    "build_patient",
    "build_regimen",
    "build_suggestion",
    "build_times",
    "library_drug",
    "names_a_library_regimen",
    "population_factors",
]


def build_model(args: argparse.Namespace) -> Model:
    """The model of ``--params`` with the given parameter options replacing its values.

    Options replace the model's physiological parameters (CL, V1, Q, V2 ...) and keep the others,
    so ``--cl "3 L/h"`` halves the clearance with the volumes unchanged (and the half-lives longer).
    """
    given = {f: getattr(args, f) for f in FIELDS if getattr(args, f) is not None}
    if args.params.lower() == "none":
        missing = [f"--{f}" for f in ("cl", "v1") if f not in given]
        if missing:
            raise PKModelError("--params", "none", f"a model from options alone needs {' and '.join(missing)}")
        return model_from_fields(given, name="custom")
    try:
        model = load_params(args.params)
    except UnicodeDecodeError as err:
        raise PKModelError("--params", args.params, f"not a UTF-8 text (TOML) file ({err.reason})") from None
    except OSError as err:
        raise PKModelError("--params", args.params, f"cannot read the file ({err.strerror or err})") from None
    return model.replace(**given) if given else model


def build_patient(args: argparse.Namespace) -> Patient | None:
    """The patient the "patient" options describe, or None when none of them is given. An invalid
    value is reported under the option that was typed, with the text that was typed."""
    typed = {field: getattr(args, option[2:].replace("-", "_")) for field, option in PATIENT_OPTION.items()}
    if all(value in (None, False) for value in typed.values()):
        return None
    # Serum creatinine and CrCL go to Patient as typed: pkmodel.units reads their units.
    numbers = {
        "age": _number(args.age, "--age", ("y", "years"), "67"),
        "weight": _number(args.weight, "--weight", ("kg",), "70"),
    }
    try:
        patient = Patient(**(typed | numbers))
    except PKModelError as err:
        option = PATIENT_OPTION.get(err.field)
        if option is None:
            raise
        if option in ("--pregnant", "--breastfeeding"):
            raise UsageError(f"{option}: not possible with --sex {args.sex}") from None
        raise PKModelError(option, typed[err.field], err.allowed) from None
    if args.scr is not None:
        missing = [option for option in ("--age", "--weight", "--sex") if typed[option[2:]] is None]
        if missing:
            raise UsageError(
                f"--scr: Cockcroft–Gault also needs {', '.join(missing)}; or give --crcl or --egfr-category instead"
            )
        if args.crcl is not None:
            warnings.warn(PKModelWarning("--scr is not used: --crcl is given and comes first"), stacklevel=2)
    return patient


def _number(text: str | None, option: str, units: tuple[str, ...], example: str) -> float | None:
    """The number of ``text`` ("67" or "67 years"), bare or followed by one of ``units``
    (any case), which all mean the option's own unit (years, kg)."""
    if text is None:
        return None
    read = read_number(text)
    if read is None or (read[1] and read[1].lower() not in units):
        raise PKModelError(option, text, f"expected a number, e.g. {example}")
    return read[0]


def population_factors(args: argparse.Namespace, model: Model) -> PopulationFactors:
    """The special-population factors of the model's drug: the file its ``populations`` names,
    which simulate() reads too."""
    if model.populations is None:
        raise PKModelError(
            "--params",
            args.params,
            f"the patient options need a model with population factors (a population file, as the shipped "
            f"{DEFAULT_PARAMS} has); this model has none",
        )
    return load_population_factors(model)


def build_suggestion(
    args: argparse.Namespace, model: Model, patient: Patient, regimen: Regimen, factors: PopulationFactors
) -> DoseSuggestion:
    """suggest_dose() for --suggest-dose; its complaints about the regimen are under that option."""
    try:
        return suggest_dose(model, patient, regimen, target=args.suggest_dose, factors=factors)
    except PKModelError as err:
        raise PKModelError("--suggest-dose", args.suggest_dose, err.allowed) from None


_DOSING = ("dose", "route", "interval", "doses", "over", "duration")


def build_regimen(args: argparse.Namespace) -> Regimen:
    """The regimen the dosing options describe, or the library regimen of ``--regimen``."""
    if args.regimen is not None:
        given = [f"--{option}" for option in _DOSING if getattr(args, option) is not None]
        if given:
            raise UsageError(
                f"--regimen: not allowed with {', '.join(given)} (a library regimen sets its own doses)"
            )
        if names_a_library_regimen(args):
            return regimens.load(args.regimen, args.variant or regimens.DEFAULT_VARIANT, drug=library_drug(args))
        # Not a library name: a regimen written out, e.g. "500 mg IV q12h x 14 d".
        return Regimen.parse(args.regimen)
    if args.variant is not None:
        raise UsageError("--variant: needs --regimen NAME (see: pkmodel regimens)")
    if args.dose is None:
        raise UsageError("--dose: required, or --regimen NAME for a label regimen (see: pkmodel regimens)")
    route = args.route or "oral"
    infusion = args.duration if args.duration is not None else 0.0
    if args.duration is not None and route != "iv":
        raise PKModelError("--duration", args.duration, "an infusion is an IV dose: add --route iv or drop --duration")
    if args.interval is None:
        if args.doses is not None or args.over is not None:
            option = "--doses" if args.doses is not None else "--over"
            raise PKModelError(option, args.doses or args.over, "repeated doses need --interval")
        return Regimen.single(args.dose, route, duration=infusion)
    if args.doses is None and args.over is None:
        raise PKModelError("--interval", args.interval, "also give --doses N or --over (treatment length)")
    return Regimen.repeated(
        args.dose, args.interval, n_doses=args.doses, over=args.over, route=route, duration=infusion
    )


def names_a_library_regimen(args: argparse.Namespace) -> bool:
    """Whether ``--regimen`` names a library regimen: a library name has no digits; anything with
    a number is a regimen in words (and ``--variant`` only goes with a library name)."""
    return args.variant is not None or not any(ch.isdigit() for ch in args.regimen)


def library_drug(args: argparse.Namespace) -> str | None:
    """Whose regimen library ``--regimen NAME`` and ``pkmodel regimens`` read: the ``--params``
    drug's (a shipped name or a parameter file); with ``--params none``, every drug's."""
    return None if args.params.lower() == "none" else args.params


def build_times(args: argparse.Namespace, model: Model, regimen: Regimen) -> np.ndarray | None:
    """Output times (h) from --until/--step; the default grid fills in what is not given."""
    if args.until is None and args.step is None:
        return None
    end = None if args.until is None else parse_quantity(args.until, "time", field="--until", positive=True)
    step = None if args.step is None else parse_quantity(args.step, "time", field="--step", positive=True)
    return default_times(model, regimen, end=end, step=step)
