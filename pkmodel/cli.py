"""The ``pkmodel`` command: simulate a regimen from the shell, print the exposure, save CSV and plot.

    pkmodel simulate --dose "500 mg" --route iv --interval "12 h" --duration "14 d" --plot out/demo.png
    pkmodel simulate --regimen alcohol-withdrawal --variant high     # a regimen of the label library
    pkmodel simulate --regimen "500 mg PO bid at 08:00,14:00 for 10 days"   # a regimen in words
    pkmodel regimens                                                  # list the label library

Every invalid input ends with one line on stderr, ``pkmodel: error: <option>: <what is wrong>``,
and exit status 2; nothing is written then. Output files are written to a temporary file next to
the target and moved into place only when every output is complete, so a failure never leaves a
partial or half-updated file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pkmodel import Model, PKModelError, PKModelWarning, Regimen, __version__, load_params, regimens, simulate
from pkmodel.params import model_from_fields
from pkmodel.simulate import Simulation, default_times
from pkmodel.units import parse_quantity

FIELDS = ("cl", "v1", "q", "v2", "ka", "f", "tlag")
PLOT_FORMATS = ("png", "pdf", "svg")
MAX_TIMES = 1_000_000
# Library field names -> the option a user of the command typed.
_OPTION = {
    "amount": "--dose",
    "duration": "--infusion",
    "over": "--duration",
    "n_doses": "--doses",
    "interval": "--interval",
    "route": "--route",
    "params": "--params",
    "times": "--until/--step",
    "regimen": "--regimen",
    "variant": "--variant",
    **{f: f"--{f}" for f in FIELDS},
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
  pkmodel simulate --dose "500 mg" --route iv --interval "12 h" --duration "14 d" --csv out/demo.csv --plot out/demo.png
  pkmodel simulate --dose "1 g" --interval "24 h" --doses 7 --cl "3 L/h"        # oral, halved clearance
  pkmodel simulate --params none --cl "6 L/h" --v1 "50 L" --dose "500 mg" --route iv --infusion "30 min"
  pkmodel simulate --regimen alcohol-withdrawal --variant high   # a label regimen; list them: pkmodel regimens
  pkmodel simulate --regimen "1 g PO daily for 6 weeks" --tlag "20 min"

Quantities carry their unit: mg or g; h, min, d or weeks; L/h or mL/min; L; 1/h.
Concentrations are in mg/L (= µg/mL)."""


class _UsageError(Exception):
    """An invalid command line found by argparse."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # one line, no usage dump
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
    parser.add_argument("--version", action="version", version=f"pkmodel {__version__}")
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
        default="mildronate",
        metavar="NAME_OR_PATH",
        help='shipped parameter set ("mildronate", the default), a TOML file, or "none" '
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
        "--route, --interval, --doses, --duration and --infusion.",
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
        help="iv: into a vein (a bolus, or an infusion with --infusion); oral (the default)",
    )
    dosing.add_argument("--interval", metavar="TIME", help='time between doses, e.g. "12 h"; omit for a single dose')
    length = dosing.add_mutually_exclusive_group()
    length.add_argument("--doses", type=int, metavar="N", help="number of doses (with --interval)")
    length.add_argument("--duration", metavar="LENGTH", help='treatment length, e.g. "14 d" (with --interval)')
    dosing.add_argument("--infusion", metavar="LENGTH", help='infuse each IV dose over this time, e.g. "30 min"')
    grid = sim.add_argument_group("time grid (default: through the last dose plus 5 terminal half-lives)")
    grid.add_argument("--until", metavar="TIME", help='end of the simulated time, e.g. "20 d"')
    grid.add_argument("--step", metavar="TIME", help='time between output points, e.g. "15 min"')
    out = sim.add_argument_group("output")
    out.add_argument("--csv", type=Path, metavar="PATH", help="write the curve as CSV (time_h, conc_mg_L, mg)")
    out.add_argument("--plot", type=Path, metavar="PATH", help="save a concentration-time plot (.png, .pdf or .svg)")
    out.add_argument("--quiet", action="store_true", help="print nothing (errors and warnings still go to stderr)")
    listing = commands.add_parser(
        "regimens",
        help="list the label regimen library (or show one regimen: its quote, notes and variants)",
        description="The label regimens of mildronate, each with its variants (low, high, ...).\n"
        "Simulate one with: pkmodel simulate --regimen NAME [--variant VARIANT]",
        formatter_class=fmt,
        allow_abbrev=False,
    )
    listing.add_argument("name", nargs="?", metavar="NAME", help="show this regimen in full")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help and --version
            return int(done.code or 0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PKModelWarning)
            text = run_simulate(args) if args.command == "simulate" else run_regimens(args)
    except _UsageError as err:
        return _fail(str(err))
    except PKModelError as err:
        return _fail(f"{_OPTION.get(err.field, err.field)}: got {err.value!r}; {err.allowed}")
    for w in caught:  # pkmodel's own cautions as one line each; anything else as Python shows it
        if issubclass(w.category, PKModelWarning):
            print(f"pkmodel: warning: {' '.join(str(w.message).splitlines())}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if not getattr(args, "quiet", False):
        print(text)
    return 0


def _fail(message: str) -> int:
    print(f"pkmodel: error: {' '.join(message.splitlines())}", file=sys.stderr)
    return 2


def run_simulate(args: argparse.Namespace) -> str:
    """Validate everything, simulate, write the requested files; return the text to print."""
    model = build_model(args)
    regimen = build_regimen(args)
    targets = {"--csv": args.csv, "--plot": args.plot}
    for option, path in targets.items():
        formats = ("csv",) if option == "--csv" else PLOT_FORMATS
        if path is not None and path.suffix.lower().lstrip(".") not in formats:
            raise PKModelError(option, str(path), f"the file name must end in {', '.join('.' + f for f in formats)}")
        if path is not None and path.is_dir():
            raise PKModelError(option, str(path), "is a directory; give a file name")
    if args.csv is not None and args.plot is not None and args.csv.resolve() == args.plot.resolve():
        raise PKModelError("--plot", str(args.plot), "must differ from the --csv path")
    sim = simulate(model, regimen, build_times(args, model, regimen))
    table = summary_table(sim)
    writers: dict[str, Callable[[str], None]] = {
        "--csv": lambda tmp: sim.data.to_csv(tmp, index=False),
        "--plot": lambda tmp: _save_plot(sim, tmp, args.plot.suffix.lower().lstrip(".")),
    }
    outputs = [(option, path, writers[option]) for option, path in targets.items() if path is not None]
    write_all(outputs)
    lines = [
        f"model:      {model.name or 'custom'}",
        f"parameters: {describe(model)}",
        *(
            [f"library:    {args.regimen}, variant {args.variant or regimens.DEFAULT_VARIANT}"]
            if args.regimen in regimens.names()
            else []
        ),
        f"regimen:    {regimen}",
        f"times:      {sim.times[0]:g} to {sim.times[-1]:g} h, {len(sim.times)} points",
        "",
        table,
    ]
    lines += [f"wrote {path}" for _, path, _ in outputs]
    return "\n".join(lines)


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
    model = load_params(args.params)
    return model.replace(**given) if given else model


_DOSING = ("dose", "route", "interval", "doses", "duration", "infusion")


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
    infusion = args.infusion if args.infusion is not None else 0.0
    if args.infusion is not None and route != "iv":
        raise PKModelError("--infusion", args.infusion, "an infusion is an IV dose: add --route iv or drop --infusion")
    if args.interval is None:
        if args.doses is not None or args.duration is not None:
            option = "--doses" if args.doses is not None else "--duration"
            raise PKModelError(option, args.doses or args.duration, "repeated doses need --interval")
        return Regimen.single(args.dose, route, duration=infusion)
    if args.doses is None and args.duration is None:
        raise PKModelError("--interval", args.interval, "also give --doses N or --duration (treatment length)")
    return Regimen.repeated(
        args.dose, args.interval, n_doses=args.doses, over=args.duration, route=route, duration=infusion
    )


def run_regimens(args: argparse.Namespace) -> str:
    """The label regimen library as text: every regimen with its variants, or one in full."""
    if args.name is not None:
        try:
            return describe_regimen(regimens.info(args.name))
        except PKModelError as err:
            if err.field == "regimen":  # the positional NAME, not --regimen
                raise PKModelError("NAME", err.value, err.allowed) from None
            raise
    table = regimens.table()
    lines = [
        "Label regimens of mildronate (labelled mildronate amounts; time 0 is midnight before the first dose).",
        "Simulate one: pkmodel simulate --regimen NAME [--variant VARIANT]; details: pkmodel regimens NAME",
    ]
    width = max(len(v) for v in table["variant"])
    for name, rows in table.groupby("name", sort=True):
        first = rows.iloc[0]
        lines += ["", f"{name}  [{first['source']}]", *_wrapped(first["indication"], "  ")]
        lines += [
            f"  {row.variant:<{width}}  {row.regimen}  ({row.daily_dose_mg:g} mg/day, {row.n_doses} doses)"
            for row in rows.itertuples()
        ]
    return "\n".join(lines)


def describe_regimen(entry: dict) -> str:
    """One library regimen in full: indication, source, quote, notes and variants."""
    source = entry["source"]
    lines = [f"{entry['name']}", *_wrapped(f"indication: {entry['indication']}", "  ")]
    lines += _wrapped(f"source: {' '.join(source.get('title', source['key']).split())}", "  ")
    lines += ["  quote:"] + [line for para in entry["quote"].split("\n\n") for line in _wrapped(para, "    ")]
    if source.get("timing"):
        lines += _wrapped(f"timing: {source['timing']}", "  ")
    lines += _wrapped(f"max daily dose: {entry['max_daily_dose_mg']:g} mg", "  ")
    lines += ["  notes:"] + [line for note in entry["notes"] for line in _wrapped(f"- {note}", "    ", "      ")]
    lines += ["  variants:"]
    for variant, v in entry["variants"].items():
        lines.append(f"    {variant}: {v['regimen']}  ({v['daily_dose_mg']:g} mg/day, {v['n_doses']} doses)")
        if v["note"]:
            lines += _wrapped(v["note"], "      ")
    return "\n".join(lines)


def _wrapped(text: str, indent: str, subsequent: str | None = None) -> list[str]:
    return textwrap.wrap(
        " ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=subsequent or indent
    )


def build_times(args: argparse.Namespace, model: Model, regimen: Regimen) -> np.ndarray | None:
    """Output times (h) from --until/--step; the default grid fills in what is not given. Dose
    and infusion-end times of IV doses are added so that the peaks are on the grid."""
    if args.until is None and args.step is None:
        return None
    default = default_times(model, regimen)
    end = float(default[-1]) if args.until is None else parse_quantity(args.until, "time", field="--until")
    step = parse_quantity(args.step, "time", field="--step") if args.step else float(np.median(np.diff(default)))
    if not end > 0:
        raise PKModelError("--until", args.until, "must be > 0")
    if not step > 0:
        raise PKModelError("--step", args.step, "must be > 0")
    if end / step >= MAX_TIMES:
        raise PKModelError("--step", args.step, f"gives {end / step:.3g} points up to {end:g} h; at most {MAX_TIMES:,}")
    grid = np.round(np.arange(int(np.ceil(end / step)) + 1) * step, 10)
    peaks = [d.time + d.duration for d in regimen.doses if d.route == "iv" and d.time + d.duration <= end]
    return np.union1d(grid[grid < end - 1e-9 * step], [end, *peaks])


def describe(model: Model) -> str:
    """The model's parameters in one line (the median when they vary between subjects)."""
    shown = [
        ("CL", model.cl, "L/h"),
        ("V1", model.v1, "L"),
        ("Q", model.q, "L/h"),
        ("V2", model.v2, "L"),
        ("ka", model.ka, "1/h"),
        ("F", model.f, ""),
        ("tlag", model.tlag, "h"),
        ("terminal t½", model.t_half_beta, "h"),
    ]
    text = ", ".join(
        f"{k} {_round(float(np.median(v)))}{' ' + u if u else ''}"
        for k, v, u in shown
        if v is not None and not (k in ("Q", "tlag") and np.all(np.asarray(v) == 0))
    )
    return f"{text} (medians of {model.n_subjects} subjects)" if model.n_subjects else text


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


def _round(value: float) -> str:
    if not np.isfinite(value):
        return "-"
    return np.format_float_positional(value, precision=4, unique=False, fractional=False, trim="-")


def _save_plot(sim: Simulation, path: str, fmt: str) -> None:
    from matplotlib.figure import Figure

    from pkmodel.plot import concentration_time

    # A figure outside pyplot: nothing to show or close, and no display needed.
    ax = Figure(figsize=(7.0, 4.2), layout="constrained").add_subplot()
    concentration_time(sim, ax=ax).figure.savefig(path, format=fmt, dpi=150)


def write_all(outputs: list[tuple[str, Path, Callable[[str], None]]]) -> None:
    """Write every (option, path, writer) to a temporary file beside its target, then move them
    all into place: a failure leaves the targets as they were (missing or unchanged), never partial."""
    umask = os.umask(0)
    os.umask(umask)
    staged: list[tuple[str, Path, str]] = []
    option, path = "", Path()
    try:
        for option, path, write in outputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            os.close(fd)
            staged.append((option, path, tmp))
            write(tmp)
            os.chmod(tmp, 0o666 & ~umask)
        for option, path, tmp in staged:
            os.replace(tmp, path)
    except OSError as err:
        raise PKModelError(option, str(path), f"cannot write the file ({err.strerror or err})") from None
    finally:
        for _, _, tmp in staged:
            if os.path.exists(tmp):
                os.remove(tmp)
