"""The ``pkmodel`` command: simulate a regimen from the shell, print the exposure, save CSV and plot.

    pkmodel simulate --dose "500 mg" --route iv --interval "12 h" --over "14 d" --plot out/demo.png
    pkmodel simulate --regimen alcohol-withdrawal --variant high     # a regimen of the label library
    pkmodel simulate --regimen "500 mg PO bid at 08:00,14:00 for 10 days"   # a regimen in words
    pkmodel simulate --regimen alcohol-withdrawal --crcl "45 mL/min" --suggest-dose auc  # a patient
    pkmodel regimens                                                  # list the label library

Every invalid input ends with one line on stderr, ``pkmodel: error: <option>: <what is wrong>``,
and exit status 2; nothing is written then. Output files are written by
:func:`pkmodel.files.write_files`: to a temporary file next to the target, moved into place only
when every output is complete, so a failure never leaves a partial or half-updated file, nor a
folder the command created. Ctrl-C ends with ``pkmodel: interrupted`` and status 130, SIGTERM with
``pkmodel: terminated`` and status 143, after the same clean-up.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import NoReturn

import numpy as np

from pkmodel.analysis.suggest import TARGETS, DoseSuggestion, suggest_dose
from pkmodel.dosing import library as regimens
from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.clearance import apply_patient, renal_category, renal_evidence, renal_function
from pkmodel.drugs.covariates import CHILD_PUGH, RENAL_CATEGORIES
from pkmodel.drugs.label import load_label_rules
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import PopulationFactors, load_population_factors
from pkmodel.errors import MAX_SHOWN, PKModelError, PKModelWarning, shown
from pkmodel.files import write_files
from pkmodel.model import Model
from pkmodel.params import load_params, model_from_fields
from pkmodel.simulation.simulate import Simulation, default_times, simulate
from pkmodel.units import format_number, parse_quantity, read_number

FIELDS = ("cl", "v1", "q", "v2", "ka", "f", "tlag")
PLOT_FORMATS = ("png", "pdf", "svg")
#: The shipped parameter set used when --params is not given.
DEFAULT_PARAMS = "mildronate"
# Library field names -> the option a user of the command typed.
_OPTION = {
    "amount": "--dose",
    "duration": "--duration",
    "over": "--over",
    "n_doses": "--doses",
    "interval": "--interval",
    "route": "--route",
    "params": "--params",
    "times": "--until/--step",
    "regimen": "--regimen",
    "variant": "--variant",
    **{f: f"--{f}" for f in FIELDS},
}
# Patient fields -> options of the "patient" group.
_PATIENT_OPTION = {
    "age": "--age",
    "weight": "--weight",
    "sex": "--sex",
    "serum_creatinine": "--scr",
    "crcl": "--crcl",
    "egfr_category": "--egfr-category",
    "child_pugh": "--child-pugh",
    "pregnant": "--pregnant",
    "breastfeeding": "--breastfeeding",
}
_METRICS = {  # summary column -> (label in the one-subject table, column name for several subjects)
    "cmax_mg_L": ("Cmax, peak (mg/L)", "Cmax (mg/L)"),
    "tmax_h": ("Tmax, time of peak (h)", "Tmax (h)"),
    "cmin_mg_L": ("Cmin, trough before last dose (mg/L)", "Cmin (mg/L)"),
    "auc_mg_h_L": ("AUC, whole simulation (mg·h/L)", "AUC (mg·h/L)"),
    "auc_tau_mg_h_L": ("AUC, last dosing interval (mg·h/L)", "AUCtau (mg·h/L)"),
    "cavg_mg_L": ("Cavg, last dosing interval (mg/L)", "Cavg (mg/L)"),
    "cavg_ss_mg_L": ("Cavg at steady state (mg/L)", "Cavg,ss (mg/L)"),
    "accumulation": ("Accumulation ratio (steady state / first dose)", "Accumulation"),
    "t90ss_h": ("Time to 90 % of steady state (h)", "t90ss (h)"),
}
EXAMPLES = """examples:
  pkmodel simulate --dose "500 mg" --route iv --interval "12 h" --over "14 d" --csv out/demo.csv --plot out/demo.png
  pkmodel simulate --dose "1 g" --interval "24 h" --doses 7 --cl "3 L/h"        # oral, halved clearance
  pkmodel simulate --params none --cl "6 L/h" --v1 "50 L" --dose "500 mg" --route iv --duration "30 min"
  pkmodel simulate --regimen alcohol-withdrawal --variant high   # a label regimen; list them: pkmodel regimens
  pkmodel simulate --regimen "1 g PO daily for 6 weeks" --tlag "20 min"
  pkmodel simulate --regimen alcohol-withdrawal --egfr-category moderate --suggest-dose auc
  pkmodel simulate --dose "500 mg" --interval "12 h" --doses 28 --age 78 --weight 60 --sex female --scr "1.3 mg/dL"

Quantities carry their unit: mg or g; h, min, d or weeks; L/h or mL/min; L; 1/h;
serum creatinine mg/dL or µmol/L. Concentrations are in mg/L (= µg/mL)."""


class _UsageError(Exception):
    """An invalid command line found by argparse."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pkmodel`` command."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="pkmodel",
        description="Pharmacokinetic simulation of linear compartment models.",
        epilog=EXAMPLES,
        formatter_class=fmt,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"pkmodel {version('pkmodel')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sim = commands.add_parser(
        "simulate",
        help="simulate a dosing regimen and summarise the exposure",
        description="Simulate a dosing regimen, print the exposure metrics (Cmax, AUC, ...),\n"
        "and optionally save the curve as CSV and as a plot.",
        epilog=EXAMPLES,
        formatter_class=fmt,
        allow_abbrev=False,
    )
    model = sim.add_argument_group(
        "model",
        "A parameter set (--params) whose values the other options replace one by\n"
        'one: --cl "3 L/h" halves the clearance and keeps V1, Q and V2.',
    )
    model.add_argument(
        "--params",
        default=DEFAULT_PARAMS,
        metavar="NAME_OR_PATH",
        help=f'shipped parameter set ("{DEFAULT_PARAMS}", the default), a TOML file, or "none" '
        "to build the model from the options below alone (then --cl and --v1 are needed)",
    )
    for field, text in [
        ("cl", 'clearance, e.g. "6 L/h"'),
        ("v1", 'central volume, e.g. "55 L"'),
        ("q", 'inter-compartmental clearance, e.g. "0.5 L/h"'),
        ("v2", 'peripheral volume, e.g. "7 L"'),
        ("ka", 'absorption rate constant, e.g. "2 1/h"'),
        ("f", 'oral bioavailability, e.g. 0.78 or "78 %%"'),
        ("tlag", 'oral absorption lag, e.g. "15 min"'),
    ]:
        model.add_argument(f"--{field}", metavar="VALUE", help=text)
    library = sim.add_argument_group(
        "label regimen (instead of the dosing options)",
        "A regimen of the label library (list: pkmodel regimens); it replaces --dose,\n"
        "--route, --interval, --doses, --over and --duration.",
    )
    library.add_argument(
        "--regimen",
        metavar="NAME_OR_TEXT",
        help='library regimen, e.g. "alcohol-withdrawal", or a regimen in words, e.g. '
        '"500 mg IV over 30 min q24h x 10 then 500 mg PO bid for 4 weeks"',
    )
    library.add_argument(
        "--variant", metavar="VARIANT", help='its variant: "low" (the default), "high", or another it defines'
    )
    dosing = sim.add_argument_group("dosing")
    dosing.add_argument(
        "--dose", metavar="AMOUNT", help='amount per dose, e.g. "500 mg" or "1 g" (required without --regimen)'
    )
    dosing.add_argument(
        "--route",
        choices=("iv", "oral"),
        default=None,
        type=str.lower,
        help="iv: into a vein (a bolus, or an infusion with --duration); oral (the default)",
    )
    dosing.add_argument("--interval", metavar="TIME", help='time between doses, e.g. "12 h"; omit for a single dose')
    length = dosing.add_mutually_exclusive_group()
    length.add_argument("--doses", type=int, metavar="N", help="number of doses (with --interval)")
    length.add_argument("--over", metavar="LENGTH", help='treatment length, e.g. "14 d" (with --interval)')
    dosing.add_argument("--duration", metavar="LENGTH", help='infuse each IV dose over this time, e.g. "30 min"')
    add_patient_options(sim)
    grid = sim.add_argument_group("time grid (default: through the last dose plus 5 terminal half-lives)")
    grid.add_argument("--until", metavar="TIME", help='end of the simulated time, e.g. "20 d"')
    grid.add_argument("--step", metavar="TIME", help='time between output points, e.g. "15 min"')
    out = sim.add_argument_group("output")
    out.add_argument("--csv", metavar="PATH", help="write the curve as CSV (time_h, conc_mg_L, mg)")
    out.add_argument("--plot", metavar="PATH", help="save a concentration-time plot (.png, .pdf or .svg)")
    out.add_argument("--quiet", action="store_true", help="print nothing (errors and warnings still go to stderr)")
    listing = commands.add_parser(
        "regimens",
        help="list the label regimen library (or show one regimen: its quote, notes and variants)",
        description="The label regimen library: each regimen with its variants (low, high, ...).\n"
        "Simulate one with: pkmodel simulate --regimen NAME [--variant VARIANT]",
        formatter_class=fmt,
        allow_abbrev=False,
    )
    listing.add_argument("name", nargs="?", metavar="NAME", help="show this regimen in full")
    return parser


def add_patient_options(sim: argparse.ArgumentParser) -> None:
    """The "patient" option group of ``pkmodel simulate``; its text is built from the population
    file, so the categories and factors it shows are the ones the simulation uses."""
    reference = load_params(DEFAULT_PARAMS)  # the help describes the default model's files
    population = f"params/{reference.populations}.toml"
    f = load_population_factors(reference)
    rules = load_label_rules(reference)
    bands = [f"{c.name} {_band(c.lower, c.upper)} ({c.kdigo}, CrCL {c.representative:g})" for c in f.categories]
    hepatic = ", ".join(f"{c} {f.hepatic[c]:g}" for c in CHILD_PUGH)
    status = {  # e.g. "caution" -> "renal mild, moderate; Child–Pugh A, B"
        level: f"renal {', '.join(c for c in RENAL_CATEGORIES if rules.renal_status[c] == level)}; "
        f"Child–Pugh {', '.join(c for c in CHILD_PUGH if rules.hepatic_status[c] == level)}"
        for level in ("caution", "contraindicated")
    }
    patient = sim.add_argument_group(
        "patient (scales the clearance; the label's cautions print as warnings)",
        textwrap.dedent(
            f"""\
            Describe a patient and the model's clearance (CL) is scaled for them (only CL changes):
                CL_patient = CL × [(1 − fe) × f_hepatic + fe × CrCL / {f.crcl_reference:g} mL/min]
            fe = {f.fe:g} is the renal fraction of CL. CrCL, the creatinine clearance, is --crcl; else
            estimated by Cockcroft–Gault from --scr, --age, --weight and --sex; else the CrCL of the
            --egfr-category (in brackets below); else {f.crcl_reference:g} mL/min (normal).
            Renal function categories (KDIGO 2012 G1–G5; CrCL or eGFR in mL/min):
              {"; ".join(bands[:3])};
              {"; ".join(bands[3:])}.
            Child–Pugh class (a score of liver disease): A 5–6 points, mild; B 7–9, moderate;
            C 10–15, severe. f_hepatic multiplies non-renal CL: {hepatic}.
            fe, the reference CrCL, the category values and the Child–Pugh factors come from
            the model's population file; for {reference.name} (the default --params) they are
            documented assumptions or values, each with its source or reasoning, in
            {population}.
            The label asks for caution and a smaller dose in {status["caution"]}; it
            contraindicates {status["contraindicated"]}; pregnancy; breastfeeding;
            age < {rules.paediatric_age:g}. These print as warnings; the simulation still runs."""
        ),
    )
    for option, metavar, text in [
        ("--age", "YEARS", "age in years, e.g. 67 (for Cockcroft–Gault and the label's age rules)"),
        ("--weight", "KG", "body weight in kg, e.g. 70 (Cockcroft–Gault takes it as given)"),
        ("--sex", "{female,male}", "female or male (Cockcroft–Gault: × 0.85 for women)"),
    ]:
        patient.add_argument(option, metavar=metavar, help=text)
    patient.add_argument(
        "--scr",
        metavar="VALUE",
        help='serum creatinine with its unit, "1.1 mg/dL" or "97 µmol/L"; needs --age, --weight and --sex '
        "to estimate CrCL by Cockcroft–Gault",
    )
    patient.add_argument(
        "--crcl", metavar="VALUE", help='creatinine clearance with its unit, e.g. "45 mL/min"; used as given, not --scr'
    )
    patient.add_argument(
        "--egfr-category",
        metavar="CATEGORY",
        help='renal category when no number is known: normal, mild, moderate, severe, "kidney failure", '
        "or KDIGO G1, G2, G3 (G3a, G3b), G4, G5; given with --crcl or --scr, the worse category "
        "counts for the label and CL uses the number",
    )
    patient.add_argument(
        "--child-pugh", metavar="{A,B,C}", help="hepatic impairment, Child–Pugh class: A mild, B moderate, C severe"
    )
    patient.add_argument("--pregnant", action="store_true", help="the patient is pregnant")
    patient.add_argument("--breastfeeding", action="store_true", help="the patient is breastfeeding")
    patient.add_argument(
        "--suggest-dose",
        choices=("auc", "cmax"),
        type=str.lower,
        help="also print the dose that gives the patient the reference adult's steady-state AUC (average "
        "exposure) or Cmax (peak), rounded to whole capsules or mL; the simulation keeps the regimen as given",
    )


def _band(lower: float, upper: float) -> str:
    if upper == float("inf"):
        return f"≥ {lower:g}"
    return f"< {upper:g}" if lower == 0 else f"{lower:g} to < {upper:g}"


class _Terminated(BaseException):
    """SIGTERM, raised where the program is, like KeyboardInterrupt for Ctrl-C, so that the
    clean-up of half-written outputs runs. A BaseException: no ``except Exception`` catches it."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status:
    0 done, 2 invalid input or a file that cannot be read or written (one line on stderr),
    130 interrupted (Ctrl-C), 141 output pipe closed by its reader, 143 terminated (SIGTERM)."""
    # Signal handlers can only be set in the main thread; elsewhere SIGTERM keeps its default.
    handle = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if handle else None
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("pkmodel: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("pkmodel: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        # The reader has gone (pkmodel regimens | head): stop quietly, as other commands do, and
        # point stdout at nothing so that the interpreter's final flush does not fail again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    finally:
        if handle and previous is not None:  # None: a handler not set from Python, left alone
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help and --version
            return int(done.code or 0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PKModelWarning)
            text = run_simulate(args) if args.command == "simulate" else run_regimens(args)
    except _UsageError as err:
        # argparse quotes what was typed ("invalid choice: '...'"): shorten it as PKModelError does.
        return _fail(_QUOTED.sub(lambda m: shown(m[1]), str(err)))
    except PKModelError as err:
        return _fail(f"{_OPTION.get(err.field, err.field)}: got {shown(err.value)}; {err.allowed}")
    except BrokenPipeError:
        raise  # the reader of --help went away: main() ends quietly
    except OSError as err:
        # The options that name files report their own; this is a file the command needed
        # besides them (e.g. one a parameter file refers to): an environment problem, not a bug.
        where = f"{err.filename}: " if err.filename else ""
        return _fail(f"cannot read or write a file: {where}{err.strerror or err}")
    for w in caught:  # pkmodel's own cautions as one line each; anything else as Python shows it
        if issubclass(w.category, PKModelWarning):
            print(f"pkmodel: warning: {' '.join(str(w.message).splitlines())}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if not getattr(args, "quiet", False):
        print(text)
    return 0


_QUOTED = re.compile(rf"'([^']{{{MAX_SHOWN},}})'")
# The longest error line: values are shortened to MAX_SHOWN characters where they are quoted;
# this catches whatever else might echo a long input.
_MAX_LINE = 1000


def _fail(message: str) -> int:
    line = " ".join(message.splitlines())
    if len(line) > _MAX_LINE:
        line = f"{line[: _MAX_LINE // 2]}\N{HORIZONTAL ELLIPSIS}{line[-_MAX_LINE // 2 :]}"
    print(f"pkmodel: error: {line}", file=sys.stderr)
    return 2


def run_simulate(args: argparse.Namespace) -> str:
    """Validate everything, simulate, write the requested files; return the text to print."""
    model = build_model(args)
    regimen = build_regimen(args)
    patient = build_patient(args)
    factors = None if patient is None else population_factors(args, model)
    if args.suggest_dose is not None and patient is None:
        raise _UsageError("--suggest-dose: needs a patient (--crcl, --scr, --egfr-category, --child-pugh, ...)")
    targets = output_paths(args)
    times = build_times(args, apply_patient(model, patient, factors), regimen)
    sim = simulate(model, regimen, times, patient=patient)  # sim.model: the patient's model
    suggestion = None
    # patient is not None here (refused above); the check tells mypy, which cannot follow args.
    if args.suggest_dose is not None and patient is not None and factors is not None:
        suggestion = build_suggestion(args, model, patient, regimen, factors)
    table = summary_table(sim)
    writers: dict[str, Callable[[str], None]] = {
        "--csv": lambda tmp: _write_csv(sim, tmp),
        "--plot": lambda tmp: _save_plot(sim, tmp, targets["--plot"].suffix.lower().lstrip(".")),
    }
    outputs = [(option, path, writers[option]) for option, path in targets.items()]
    write_files(outputs)
    lines = [
        f"model:      {model.name or 'custom'}",
        *([] if patient is None or factors is None else describe_patient(patient, factors, model, sim.model)),
        f"parameters: {sim.model.describe()}",
        *(
            [f"library:    {args.regimen}, variant {args.variant or regimens.DEFAULT_VARIANT}"]
            if args.regimen is not None and args.regimen in regimens.names()
            else []
        ),
        f"regimen:    {regimen}",
        f"times:      {sim.times[0]:g} to {sim.times[-1]:g} h, {len(sim.times)} points",
        "",
        table,
    ]
    if suggestion is not None:
        what = f"--suggest-dose {suggestion.metric}: the reference adult's {TARGETS[suggestion.metric][0]}"
        lines += ["", f"dose suggestion ({what}; not simulated above):"]
        # Wrapped at spaces, but never between a number and its "%".
        text = suggestion.explanation.replace(" %", "\N{NO-BREAK SPACE}%")
        wrapped = textwrap.wrap(text, 100, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
        lines += [line.replace("\N{NO-BREAK SPACE}", " ") for line in wrapped]
    lines += [f"wrote {path}" for _, path, _ in outputs]
    return "\n".join(lines)


def output_paths(args: argparse.Namespace) -> dict[str, Path]:
    """The files of --csv and --plot that were given, checked before anything is computed."""
    targets: dict[str, Path] = {}
    for option, text in (("--csv", args.csv), ("--plot", args.plot)):
        if text is None:
            continue
        formats = ("csv",) if option == "--csv" else PLOT_FORMATS
        endings = ", ".join("." + f for f in formats)
        if text.strip() == "":
            raise PKModelError(option, text, f"a file name is needed, ending in {endings}")
        path = Path(text)
        if path.suffix.lower().lstrip(".") not in formats:
            raise PKModelError(option, text, f"the file name must end in {endings}")
        try:
            folder = path.is_dir()
        except OSError as err:
            raise PKModelError(option, text, f"cannot use the path ({err.strerror or err})") from None
        if folder:
            raise PKModelError(option, text, "is a directory; give a file name")
        targets[option] = path
    if len(targets) == 2 and targets["--csv"].resolve() == targets["--plot"].resolve():
        raise PKModelError("--plot", args.plot, "must differ from the --csv path")
    return targets


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
    typed = {field: getattr(args, option[2:].replace("-", "_")) for field, option in _PATIENT_OPTION.items()}
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
        option = _PATIENT_OPTION.get(err.field)
        if option is None:
            raise
        if option in ("--pregnant", "--breastfeeding"):
            raise _UsageError(f"{option}: not possible with --sex {args.sex}") from None
        raise PKModelError(option, typed[err.field], err.allowed) from None
    if args.scr is not None:
        missing = [option for option in ("--age", "--weight", "--sex") if typed[option[2:]] is None]
        if missing:
            raise _UsageError(
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


def describe_patient(patient: Patient, f: PopulationFactors, reference: Model, used: Model) -> list[str]:
    """Two header lines: who the patient is (age, renal function used and its category,
    Child–Pugh class), and the clearance the simulation used."""
    who = [f"age {patient.age:g} y" if patient.age is not None else "age not given"]
    who += [patient.sex] if patient.sex is not None else []
    who += [f"{patient.weight:g} kg"] if patient.weight is not None else []
    who += [state for state in ("pregnant", "breastfeeding") if getattr(patient, state)]
    evidence = renal_evidence(patient)
    sources: dict[str | None, str] = {
        "crcl": "given",
        "category": f"assumed for --egfr-category {patient.egfr_category}",
    }
    # Cockcroft–Gault is the evidence only when a serum creatinine was given.
    if evidence == "cockcroft-gault" and patient.serum_creatinine is not None:
        source = f"Cockcroft–Gault from SCr {_round(patient.serum_creatinine)} mg/dL"
    else:
        source = sources.get(evidence, "not given: normal")
    category = renal_category(patient, f) or "normal"
    renal = f"CrCL {_round(renal_function(patient, f))} mL/min ({source}), renal category {category}"
    renal += f" (KDIGO {f.category(category).kdigo})"
    if patient.egfr_category is not None and evidence != "category":
        renal += ": the worse of --egfr-category and the CrCL"
    if patient.child_pugh is None:
        hepatic = "Child–Pugh not given (no hepatic impairment)"
    else:
        hepatic = f"Child–Pugh {patient.child_pugh} (non-renal CL × {f.hepatic[patient.child_pugh]:g})"
    cl, cl_ref = (float(np.median(m.cl)) for m in (used, reference))
    medians = f", medians of {used.n_subjects} subjects" if used.n_subjects else ""
    return [
        f"patient:    {', '.join(who)}; {renal}; {hepatic}",
        (
            f"clearance:  CL {_round(cl)} L/h for this patient = {_round(100 * cl / cl_ref)} % of the reference "
            f"{_round(cl_ref)} L/h{medians} (renal fraction fe {f.fe:g}, reference CrCL {f.crcl_reference:g} "
            f"mL/min: assumptions in params/{reference.populations}.toml)"
        ),
    ]


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
            raise _UsageError(
                f"--regimen: not allowed with {', '.join(given)} (a library regimen sets its own doses)"
            )
        # A library name has no digits; anything with a number is a regimen in words.
        if args.variant is not None or not any(ch.isdigit() for ch in args.regimen):
            return regimens.load(args.regimen, args.variant or regimens.DEFAULT_VARIANT)
        # Not a library name: a regimen written out, e.g. "500 mg IV q12h x 14 d".
        return Regimen.parse(args.regimen)
    if args.variant is not None:
        raise _UsageError("--variant: needs --regimen NAME (see: pkmodel regimens)")
    if args.dose is None:
        raise _UsageError("--dose: required, or --regimen NAME for a label regimen (see: pkmodel regimens)")
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


def run_regimens(args: argparse.Namespace) -> str:
    """The label regimen library as text: every regimen with its variants, or one in full."""
    if args.name is None:
        return regimens.listing()
    try:
        return regimens.describe(args.name)
    except PKModelError as err:
        if err.field == "regimen":  # the positional NAME, not --regimen
            raise PKModelError("NAME", err.value, err.allowed) from None
        raise


def build_times(args: argparse.Namespace, model: Model, regimen: Regimen) -> np.ndarray | None:
    """Output times (h) from --until/--step; the default grid fills in what is not given."""
    if args.until is None and args.step is None:
        return None
    end = None if args.until is None else parse_quantity(args.until, "time", field="--until", positive=True)
    step = None if args.step is None else parse_quantity(args.step, "time", field="--step", positive=True)
    return default_times(model, regimen, end=end, step=step)


def summary_table(sim: Simulation) -> str:
    """The exposure metrics, rounded to 4 significant digits, with units in the names: a
    "metric / value" table for one subject, one row per subject for several."""
    summary = sim.summary()
    summary = summary.loc[:, summary.notna().any()]  # interval metrics are NaN for a single dose
    shown = summary.map(_round)
    if len(shown) == 1:
        shown = shown.rename(columns={k: long for k, (long, _) in _METRICS.items()})
        rows = [("metric", "value"), *zip(shown.columns, shown.iloc[0])]
        width, digits = (max(len(row[i]) for row in rows) for i in (0, 1))
        return "\n".join(f"{name:<{width}}  {value:>{digits}}" for name, value in rows)
    return shown.rename(columns={k: short for k, (_, short) in _METRICS.items()}).to_string(max_rows=40)


def _round(value: float | np.ndarray) -> str:
    """A scalar (the CLI's patient is one person, so a covariate is never an array of several)."""
    return format_number(float(value))


def _save_plot(sim: Simulation, path: str, fmt: str) -> None:
    from matplotlib.figure import Figure

    from pkmodel.interfaces.plot import concentration_time

    # A figure outside pyplot: nothing to show or close, and no display needed.
    figure = Figure(figsize=(7.0, 4.2), layout="constrained")
    concentration_time(sim, ax=figure.add_subplot())
    figure.savefig(path, format=fmt, dpi=150)


def _write_csv(sim: Simulation, path: str) -> None:
    sim.data.to_csv(path, index=False)
