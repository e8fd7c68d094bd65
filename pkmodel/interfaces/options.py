"""The ``pkmodel`` command line: its options, their help texts and the names the command uses
for the library's fields. :mod:`pkmodel.interfaces.cli` runs what they describe.

The patient options' help is built from the default model's population file, so the categories
and factors it shows are the ones a simulation uses.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, NoReturn

from pkmodel.drugs.covariates import CHILD_PUGH, RENAL_CATEGORIES
from pkmodel.drugs.label_rules import load_label_rules
from pkmodel.drugs.populations import load_population_factors
from pkmodel.params import default_params, load_params

FIELDS = ("cl", "v1", "q", "v2", "ka", "f", "tlag")
PLOT_FORMATS = ("png", "pdf", "svg")
#: The shipped parameter set used when --params is not given: data, named in params/defaults.toml.
DEFAULT_PARAMS = default_params()
# Library field names -> the option a user of the command typed.
OPTION = {
    "amount": "--dose",
    "duration": "--duration",
    "over": "--over",
    "n_doses": "--doses",
    "interval": "--interval",
    "route": "--route",
    "params": "--params",
    "drug": "--params",  # the library's drug= is the --params drug
    "times": "--until/--step",
    "regimen": "--regimen",
    "variant": "--variant",
    **{f: f"--{f}" for f in FIELDS},
}
# Patient fields -> options of the "patient" group.
PATIENT_OPTION = {
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


class UsageError(Exception):
    """An invalid command line found by argparse."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise UsageError(message)


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
    parser.add_argument("--version", action=_Version)
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
        "A regimen of the --params drug's label library (list: pkmodel regimens); it replaces --dose,\n"
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
    out.add_argument(
        "--log", action="store_true", help="semi-log plot: a logarithmic concentration axis in the --plot file"
    )
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
    listing.add_argument(
        "--params",
        default=DEFAULT_PARAMS,
        metavar="NAME_OR_PATH",
        help=f'the drug whose library to show: a shipped parameter set ("{DEFAULT_PARAMS}", the default) or a '
        'TOML file that names its library ([model] regimens), or "none" for every drug\'s',
    )
    return parser


class _Version(argparse.Action):
    """``--version``: the installed distribution's version (pyproject.toml is its one home),
    looked up only when asked for: importlib.metadata and the lookup take about 30 ms of every
    start-up."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, default=argparse.SUPPRESS,
                         help="show program's version number and exit")  # fmt: skip

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import version

        print(f"pkmodel {version('pkmodel')}")
        parser.exit()


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
