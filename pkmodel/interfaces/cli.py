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
from pathlib import Path
from types import FrameType

import numpy as np

from pkmodel.analysis.suggest import TARGETS
from pkmodel.dosing import library as regimens
from pkmodel.drugs.clearance import apply_patient, renal_category, renal_evidence, renal_function
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import PopulationFactors
from pkmodel.errors import MAX_SHOWN, PKModelError, PKModelWarning, shown
from pkmodel.files import write_files
from pkmodel.interfaces.arguments import (
    build_model,
    build_patient,
    build_regimen,
    build_suggestion,
    build_times,
    library_drug,
    names_a_library_regimen,
    population_factors,
)
from pkmodel.interfaces.csv_columns import write_columns
from pkmodel.interfaces.options import (
    OPTION,
    PLOT_FORMATS,
    UsageError,
    build_parser,
)
from pkmodel.model import Model
from pkmodel.simulation import exposure
from pkmodel.simulation.simulate import Simulation, simulate
from pkmodel.units import format_number

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
    except UsageError as err:
        # argparse quotes what was typed ("invalid choice: '...'"): shorten it as PKModelError does.
        return _fail(_QUOTED.sub(lambda m: shown(m[1]), str(err)))
    except PKModelError as err:
        return _fail(f"{OPTION.get(err.field, err.field)}: got {shown(err.value)}; {err.allowed}")
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
        raise UsageError("--suggest-dose: needs a patient (--crcl, --scr, --egfr-category, --child-pugh, ...)")
    targets = output_paths(args)
    if args.log and "--plot" not in targets:
        raise UsageError("--log: needs --plot PATH (it sets the plot's concentration axis)")
    times = build_times(args, apply_patient(model, patient, factors), regimen)
    sim = simulate(model, regimen, times, patient=patient)  # sim.model: the patient's model
    suggestion = None
    # patient is not None here (refused above); the check tells mypy, which cannot follow args.
    if args.suggest_dose is not None and patient is not None and factors is not None:
        suggestion = build_suggestion(args, model, patient, regimen, factors)
    table = summary_table(sim)
    writers: dict[str, Callable[[str], None]] = {
        "--csv": lambda tmp: _write_csv(sim, tmp),
        "--plot": lambda tmp: _save_plot(sim, tmp, targets["--plot"].suffix.lower().lstrip("."), log=args.log),
    }
    outputs = [(option, path, writers[option]) for option, path in targets.items()]
    write_files(outputs)
    lines = [
        f"model:      {model.name or 'custom'}",
        *([] if patient is None or factors is None else describe_patient(patient, factors, model, sim.model)),
        f"parameters: {sim.model.describe()}",
        *(
            [f"library:    {args.regimen}, variant {args.variant or regimens.DEFAULT_VARIANT}"]
            if args.regimen is not None and names_a_library_regimen(args)
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


def run_regimens(args: argparse.Namespace) -> str:
    """The label regimen library as text: every regimen with its variants, or one in full."""
    if args.name is None:
        return regimens.listing(drug=library_drug(args))
    try:
        return regimens.describe(args.name, drug=library_drug(args))
    except PKModelError as err:
        if err.field == "regimen":  # the positional NAME, not --regimen
            raise PKModelError("NAME", err.value, err.allowed) from None
        raise


def summary_table(sim: Simulation) -> str:
    """The exposure metrics, rounded to 4 significant digits, with units in the names: a
    "metric / value" table for one subject, one row per subject for several."""
    # Interval metrics are NaN for a single dose: not shown.
    table = {k: v for k, v in sim.metrics().items() if not np.isnan(v).all()}
    if sim.n_subjects == 1:
        rows = [("metric", "value"), *((_METRICS[k][0], _round(v[0])) for k, v in table.items())]
        width, digits = (max(len(row[i]) for row in rows) for i in (0, 1))
        return "\n".join(f"{name:<{width}}  {value:>{digits}}" for name, value in rows)
    # Several subjects come only from a parameter file with arrays (a population, whose
    # simulation dwarfs pandas' import): the table is pandas' layout, so pandas draws it.
    shown = exposure.frame(table).map(_round)
    return shown.rename(columns={k: short for k, (_, short) in _METRICS.items()}).to_string(max_rows=40)


def _round(value: float | np.ndarray) -> str:
    """A scalar (the CLI's patient is one person, so a covariate is never an array of several)."""
    return format_number(float(value))


def _save_plot(sim: Simulation, path: str, fmt: str, *, log: bool = False) -> None:
    from matplotlib.figure import Figure

    from pkmodel.interfaces.plot import concentration_time

    # A figure outside pyplot: nothing to show or close, and no display needed.
    figure = Figure(figsize=(7.0, 4.2), layout="constrained")
    concentration_time(sim, ax=figure.add_subplot(), log=log)
    figure.savefig(path, format=fmt, dpi=150)


def _write_csv(sim: Simulation, path: str) -> None:
    # The text of sim.data.to_csv(path, index=False), without loading pandas.
    write_columns(path, sim.columns())
