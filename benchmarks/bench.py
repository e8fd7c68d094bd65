"""Issue 9's benchmark table, measured side by side in one process. Run with `make bench`.

Work (unless a row says otherwise): the shipped two-compartment oral mildronate model, 500 mg
oral every 12 h for 7 weeks (98 doses), output every 15 minutes from 0 to 1203 h (4,813 times),
10,000 subjects whose CL and V1 are log-normal with a 30 % coefficient of variation.

How it measures:
  * Probe: every row first runs once in a child process of its own (killed after ROW_TIMEOUT_S).
    A row that pkmodel refuses, that fails or that takes longer is reported as skipped, with the
    reason, and is not timed. The probe also gives the row's peak memory: the peak resident set
    size (RSS) of that child during the run alone (Linux VmHWM, reset just before the run; where
    that is unavailable, ru_maxrss minus the RSS before the run). Rows that are fresh processes
    (imports, the CLI) report the whole process's peak RSS.
  * Rounds: the rows that passed are timed in this process in ROUNDS rounds; each round runs
    every row once in a freshly shuffled order, so that machine noise falls on all rows alike.
    Medians and minima are reported. Rounds stop early (at least 3) if the next one would end
    past the time budget; the table says how many ran.
  * Floors: one ``np.exp`` pass over an array with as many cells (subjects x times) as a row's
    output, timed in the same rounds; "÷ exp" is a row's median over that floor's median. For
    ``.data``, which writes five new columns, also ``np.ones`` over as many cells: on machines
    where memory never touched before is slow to fault in, that alone is most of its time.
  * Peers: a numpy closed form written here by hand (superposition of the oral two-compartment
    unit response over the doses, each exponential carried from dose to dose) and, for the one
    subject with 28 doses, the plain sum over doses; both are checked against pkmodel's
    concentrations to 1e-10 relative before they are timed. That row also has the solve_ivp
    reference of pkmodel.engine.ode (what benchmarks/engine.py used to time). "÷ ref" is a
    row's median over the named row's median.
  * Fresh processes: ``import pkmodel`` and ``import numpy`` report the import statement's own
    time in a new interpreter; the CLI row is the wall time of the whole process.
  * ``.summary()`` and ``.data`` are timed on a simulation whose concentration is already
    computed (untimed), so they show their own cost.

Prints the machine first, then the table; writes out/bench.json. No assertions on times.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROUNDS = 7
BUDGET_S = 180.0  # the timed rounds; the probes and agreement.py come on top
ROW_TIMEOUT_S = 60.0
CHECK_RTOL = 1e-10
SEED = 20261125
N_SUBJECTS = 10_000
N_TIMES = 4_813
STEP_H = 0.25
TIMES = np.arange(N_TIMES) * STEP_H  # 0 to 1203 h
COARSE = TIMES[::6]  # every 1.5 h: 803 times
# 1,000 times over the same span, every 1.2 h: no dose falls on the grid, so every dose's run starts
# at a step of its own (np.linspace, as a user would write it).
OFF_GRID = np.linspace(0.0, TIMES[-1], 1_000)
CV = 0.30
DOSE_MG = 500.0
INTERVAL_H = 12.0
OVER = "7 weeks"
ROOT = Path(__file__).resolve().parent.parent


# --- the work -------------------------------------------------------------------------------


def _model(n_subjects: int | None):
    from pkmodel import load_params

    model = load_params("mildronate")
    if n_subjects is None:
        return model
    rng = np.random.default_rng(SEED)
    omega = np.sqrt(np.log(1 + CV**2))
    return model.replace(
        cl=model.cl * np.exp(omega * rng.standard_normal(n_subjects)),
        v1=model.v1 * np.exp(omega * rng.standard_normal(n_subjects)),
    )


def _regimen(over: str = OVER):
    from pkmodel import Regimen

    return Regimen.repeated(f"{DOSE_MG:g} mg", f"{INTERVAL_H:g} h", over=over, route="oral")


def _simulate(model, regimen, times):
    from pkmodel import simulate

    # Label warnings are about the prescription, not the speed; they must not print per round.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate(model, regimen, times)


def closed_form(model, dose_times: np.ndarray, dose_mg: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Central concentration (mg/L), (n_subjects, n_times), of oral doses ``dose_mg`` (mg) given
    at ``dose_times`` (h) in a one- or two-compartment model with first-order absorption.

    Written from the textbook, independently of pkmodel's engine: the micro constants come from
    CL, V1, Q, V2 (L/h, L), the unit response is a sum of three exponentials (alpha, beta, ka),
    and the doses are superposed. Each exponential's sum over past doses is carried from dose
    to dose (S_j = S_{j-1} e^{-lam (t_j - t_{j-1})} + F D_j), so the cost is one exponential per
    mode per output cell instead of one per dose; the cells are filled one dosing interval at a
    time, so the temporaries stay small.
    """
    n = model.n_subjects or 1
    cl, v1, ka, f = (np.broadcast_to(np.asarray(x, dtype=float), (n,)) for x in (model.cl, model.v1, model.ka, model.f))
    # A one-compartment model has no Q (or Q = 0) and no V2: k12 = k21 = 0 and beta = 0.
    q = np.broadcast_to(np.asarray(0.0 if model.q is None else model.q, dtype=float), (n,))
    v2 = np.broadcast_to(np.asarray(1.0 if model.v2 is None else model.v2, dtype=float), (n,))
    k10, k12, k21 = cl / v1, q / v1, q / v2
    s = k10 + k12 + k21
    root = np.sqrt(s * s - 4 * k10 * k21)
    alpha, beta = (s + root) / 2, (s - root) / 2
    modes = (
        (alpha, ka * (k21 - alpha) / ((ka - alpha) * (beta - alpha))),
        (beta, ka * (k21 - beta) / ((ka - beta) * (alpha - beta))),
        (ka, ka * (k21 - ka) / ((alpha - ka) * (beta - ka))),
    )
    # The output times from dose j up to dose j + 1 (right-continuous: a time equal to a dose
    # time is after that dose); the times before the first dose stay 0.
    bounds = np.append(np.searchsorted(times, dose_times, side="left"), times.size)
    out = np.zeros((n, times.size))
    for lam, coef in modes:
        carried = f * dose_mg[0]  # F D_i e^{-lam (t_j - t_i)} summed over the doses i <= j (mg)
        for j in range(dose_times.size):
            if j:
                carried = carried * np.exp(-lam * (dose_times[j] - dose_times[j - 1])) + f * dose_mg[j]
            part = slice(bounds[j], bounds[j + 1])
            if part.start < part.stop:
                since = times[part] - dose_times[j]
                out[:, part] += (coef * carried / v1)[:, None] * np.exp(np.multiply.outer(-lam, since))
    return out


def direct_sum(model, dose_times: np.ndarray, dose_mg: np.ndarray, times: np.ndarray) -> np.ndarray:
    """One subject's concentration (mg/L), (1, n_times), as the plain sum over doses of the
    oral two-compartment unit response: one pass over the output times after each dose."""
    ka, f, v1 = float(model.ka), float(model.f), float(model.v1)
    k10, k12, k21 = float(model.cl) / v1, float(model.q or 0.0) / v1, float(model.q or 0.0) / float(model.v2 or 1.0)
    s = k10 + k12 + k21
    root = np.sqrt(s * s - 4 * k10 * k21)
    alpha, beta = (s + root) / 2, (s - root) / 2
    ca = ka * (k21 - alpha) / ((ka - alpha) * (beta - alpha))
    cb = ka * (k21 - beta) / ((ka - beta) * (alpha - beta))
    ck = ka * (k21 - ka) / ((alpha - ka) * (beta - ka))
    out = np.zeros(times.size)
    for t_dose, amount in zip(dose_times, dose_mg, strict=True):
        i = np.searchsorted(times, t_dose)
        dt = times[i:] - t_dose
        out[i:] += f * amount / v1 * (ca * np.exp(-alpha * dt) + cb * np.exp(-beta * dt) + ck * np.exp(-ka * dt))
    return out[None, :]


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """max |value - reference| / |reference|, where |reference| counts as at least a thousandth of
    that subject's peak: at the exact 0 of a first oral dose's own time, the closed form's three
    exponentials cancel to a rounding residue of the peak (1e-16 relative to it), which relative
    to 0 would mean nothing."""
    floor = 1e-3 * np.max(np.abs(reference), axis=-1, keepdims=True)
    return float(np.max(np.abs(value - reference) / np.maximum(np.abs(reference), floor)))


# --- rows -----------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    prepare: Callable[[], Callable[[], Any]] | None = None  # returns the thing to time
    command: list[str] | None = None  # or a fresh process, timed from outside (wall)
    inner_time: bool = False  # the process prints its own time (an import) instead
    cells: int | None = None  # output cells, for the np.exp floor
    versus: str | None = None  # key of the row this one is divided by in "÷ ref"
    check: Callable[[], float] | None = None  # relative error against pkmodel, before timing
    only_if: str | None = None  # skipped when that row was skipped
    short: str = ""  # its name in another row's "÷ ref" column
    result: dict[str, Any] = field(default_factory=dict)


def _fresh(fn: Callable[[], Any]) -> Callable[[], Callable[[], Any]]:
    return lambda: fn


def rows() -> list[Row]:
    pop: dict[int, Any] = {}

    def population(n):
        if n not in pop:
            pop[n] = _model(n)
        return pop[n]

    # Each returns a prepare(): the model, regimen and times are built untimed; what it returns is timed.
    def conc(n, regimen_over=OVER, times=TIMES):
        def prepare():
            model, regimen = population(n) if n > 1 else _model(None), _regimen(regimen_over)
            return lambda: _simulate(model, regimen, times).concentration

        return prepare

    def peer(n, regimen_over=OVER, times=TIMES, how=closed_form):
        def prepare():
            model, doses = population(n) if n > 1 else _model(None), _regimen(regimen_over).doses
            dose_times, dose_mg = np.array([d.time for d in doses]), np.array([d.amount for d in doses])
            return lambda: how(model, dose_times, dose_mg, times)

        return prepare

    def computed(what):
        def prepare():
            sim = _simulate(population(N_SUBJECTS), _regimen(), TIMES)
            sim.concentration  # computed here, untimed
            return lambda: what(sim)

        return prepare

    def checked(n, regimen_over=OVER, times=TIMES, how=closed_form):
        return lambda: relative_error(peer(n, regimen_over, times, how)()(), conc(n, regimen_over, times)()())

    def floor(cells):
        def prepare():
            x = -np.random.default_rng(0).random(cells)
            return lambda: np.exp(x)

        return prepare

    def with_closed_form(key, label, n, regimen_over=OVER, times=TIMES, short=""):
        """pkmodel's row and the hand-written closed form on the same work, checked against it."""
        cells = n * times.size
        return [
            Row(key, label, conc(n, regimen_over, times), cells=cells, versus=f"{key}_cf", short=short),
            Row(
                f"{key}_cf",
                "  numpy closed form, same work",
                peer(n, regimen_over, times),
                cells=cells,
                short="closed form",
                check=checked(n, regimen_over, times),
                only_if=key,
            ),
        ]

    big = np.linspace(0.0, TIMES[-1], 1_000_000)
    exe = Path(sys.executable)
    cli = exe.parent / "pkmodel"
    cli_cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "pkmodel"]
    timed_import = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"
    cells = N_SUBJECTS * N_TIMES
    return [
        *with_closed_form("conc", "simulate().concentration", N_SUBJECTS),
        Row("summary", ".summary() (concentration computed)", computed(lambda s: s.summary()), cells=cells),
        Row("data", ".data (concentration computed)", computed(lambda s: s.data), cells=cells, versus="data_mem"),
        # .data writes five new columns (subject, time and three amounts) as large as the output:
        # on a machine where memory never touched before is slow to fault in, writing them at all
        # is most of its cost, which the np.exp floor (one new array) does not show.
        Row(
            "data_mem",
            "  np.ones over its 5 new columns (writing new memory)",
            _fresh(lambda: np.ones(5 * cells)),
            short="np.ones",
            only_if="data",
        ),
        *with_closed_form("conc20k", "20k subjects: simulate().concentration (50k exceeds limits.MAX_CELLS)", 20_000),
        *with_closed_form("offgrid", "10k subjects x 1,000 points, doses off the grid", N_SUBJECTS, times=OFF_GRID),
        # Cost per cell from 1k to 100k subjects on one grid (item 3 of issue 9: flat within 1.5x);
        # a coarser grid keeps 100k subjects within limits.MAX_CELLS.
        Row("conc1k", "1k subjects x 803 points", conc(1_000, times=COARSE), cells=1_000 * COARSE.size),
        Row("conc100k", "100k subjects x 803 points", conc(100_000, times=COARSE), cells=100_000 * COARSE.size),
        *with_closed_form("big1", "1 subject x 1M points", 1, times=big),
        *with_closed_form("one", "1 subject x 4,813 points (28 doses)", 1, "14 days", short="pkmodel"),
        Row(
            "one_sum",
            "  numpy plain sum over the 28 doses",
            peer(1, "14 days", how=direct_sum),
            cells=N_TIMES,
            short="plain sum",
            check=checked(1, "14 days", how=direct_sum),
            only_if="one",
        ),
        Row("one_ode", "  ODE reference (solve_ivp), same work", _ode, cells=N_TIMES, versus="one"),
        Row("repeated", "Regimen.repeated of 10k doses", _fresh(_repeated)),
        Row(
            "import",
            "import pkmodel (fresh process)",
            command=[sys.executable, "-c", timed_import.format("pkmodel")],
            inner_time=True,
            versus="import_np",
        ),
        Row(
            "import_np",
            "  import numpy (fresh process)",
            command=[sys.executable, "-c", timed_import.format("numpy")],
            inner_time=True,
            short="numpy",
        ),
        Row(
            "cli",
            "pkmodel simulate --regimen alcohol-withdrawal --csv x.csv (wall)",
            command=[*cli_cmd, "simulate", "--regimen", "alcohol-withdrawal", "--csv", "x.csv"],
        ),
        *(
            Row(f"exp{c}", f"np.exp floor, {c:,} cells", floor(c), cells=c)
            for c in sorted(
                {cells, 20_000 * N_TIMES, N_SUBJECTS * OFF_GRID.size, 1_000 * COARSE.size, 100_000 * COARSE.size, big.size, N_TIMES}
            )
        ),
    ]


def _ode() -> Callable[[], Any]:
    """The single subject of the 28-dose row through pkmodel's independent solve_ivp reference."""
    from pkmodel.engine.ode import ode_amounts

    model = _model(None)
    doses = _regimen("14 days").doses
    v1, q, v2 = float(model.v1), float(model.q), float(model.v2)
    n = len(doses)
    dose_times, amounts = np.array([d.time for d in doses]), float(model.f) * np.array([d.amount for d in doses])
    constants = (float(model.ka), float(model.cl) / v1, q / v1, q / v2)
    return lambda: ode_amounts(*constants, dose_times, np.zeros(n, dtype=int), amounts, np.zeros(n), TIMES)[:, 1] / v1


def _repeated():
    from pkmodel import Regimen

    return Regimen.repeated(f"{DOSE_MG:g} mg", f"{INTERVAL_H:g} h", n_doses=10_000, route="oral")


# --- measuring ------------------------------------------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _hwm_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))


def probe_child(key: str) -> dict[str, Any]:
    """Runs one row once (in a child process): its time, or the reason it cannot run, and its peak memory."""
    row = next(r for r in rows() if r.key == key)
    try:
        run = row.prepare()
        gc.collect()
        before = _rss_kib()
        exact = _reset_peak()
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        peak = _hwm_kib() if exact else max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    except Exception as e:  # the reason is the report
        return {"error": f"{type(e).__name__}: {e}"}
    # With VmHWM reset, the peak counts what was resident before too; report the growth.
    return {"seconds": seconds, "peak_mib": (peak - before if exact else peak) / 1024}


def _run_process(cmd: list[str], cwd: str, timeout: float) -> tuple[float, float, str]:
    """(wall s, peak RSS MiB, stdout) of a fresh process, killed after ``timeout`` s."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, text=True)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # the child's own peak RSS, which Popen.wait drops
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        last = stderr.strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"exit status {proc.returncode} after {wall:.1f} s {last[0]}".strip())
    return wall, usage.ru_maxrss / 1024, stdout


# A child's ru_maxrss starts from the RSS of the process that forked it, so the fresh processes'
# peak memory is read through this small launcher rather than from the benchmark's own fork.
_PEAK_OF = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, s, u = os.wait4(p.pid, 0); "
    "p.returncode = os.waitstatus_to_exitcode(s); print(u.ru_maxrss); sys.exit(p.returncode)"
)


def _killed(message: str) -> bool:
    return message.startswith(f"exit status {-9}")


def probe(row: Row, workdir: str) -> None:
    """Fills ``row.result`` with ``skipped`` (the reason) or the probe's time and peak memory."""
    if row.command is not None:
        try:
            wall, _, out = _run_process([sys.executable, "-c", _PEAK_OF, *row.command], workdir, ROW_TIMEOUT_S)
        except RuntimeError as e:
            reason = f"did not finish within {ROW_TIMEOUT_S:g} s" if _killed(str(e)) else str(e)
            row.result["skipped"] = reason
            return
        peak = int(out.strip().splitlines()[-1]) / 1024
        row.result.update(probe_s=wall, peak_mib=peak, memory="peak RSS of the whole process")
        return
    try:
        _, _, out = _run_process([sys.executable, __file__, "--probe", row.key], workdir, ROW_TIMEOUT_S + 30)
    except RuntimeError as e:
        row.result["skipped"] = f"did not finish within {ROW_TIMEOUT_S:g} s" if _killed(str(e)) else str(e)
        return
    found = json.loads(out.strip().splitlines()[-1])
    if "error" in found:
        row.result["skipped"] = found["error"]
    elif found["seconds"] > ROW_TIMEOUT_S:
        row.result["skipped"] = f"took {found['seconds']:.0f} s (more than {ROW_TIMEOUT_S:g} s)"
    else:
        row.result.update(probe_s=found["seconds"], peak_mib=found["peak_mib"], memory="peak RSS growth during the run")


def _time_once(row: Row, workdir: str) -> float:
    if row.command is not None:
        wall, _, out = _run_process(row.command, workdir, ROW_TIMEOUT_S)
        return float(out.strip().splitlines()[-1]) if row.inner_time else wall
    run = row.prepare()
    gc.collect()
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    del result
    return seconds


def time_rounds(timed: list[Row], rounds: int, budget: float, workdir: str) -> int:
    """Times every row of ``timed`` once per round, in a new shuffled order each round; stops
    before a round that would end past ``budget`` seconds once 3 rounds have run. Returns the
    number of rounds run."""
    order = random.Random(SEED)
    for row in timed:
        row.result["seconds"] = []
    done, last, start = 0, 0.0, time.perf_counter()
    while done < rounds and not (done >= 3 and time.perf_counter() - start + last > budget):
        t0 = time.perf_counter()
        for row in order.sample(timed, len(timed)):
            if "skipped" in row.result:
                continue
            try:
                row.result["seconds"].append(_time_once(row, workdir))
            except Exception as e:  # passed its probe, failed here: say so rather than lose the table
                row.result["skipped"] = f"failed in round {done + 1}: {type(e).__name__}: {e}"
        last = time.perf_counter() - t0
        done += 1
    return done


def summarise(table: list[Row]) -> None:
    """Medians, minima, the ratio to the np.exp floor of the same cell count and to the row named
    by ``versus``, into each row's ``result``."""
    by_key = {r.key: r for r in table}
    for row in table:
        if row.result.get("seconds") and "skipped" not in row.result:
            row.result["median_s"] = statistics.median(row.result["seconds"])
            row.result["min_s"] = min(row.result["seconds"])
    for row in table:
        if "median_s" not in row.result:
            continue
        floor = by_key.get(f"exp{row.cells}")
        if row.cells and not row.key.startswith("exp") and floor is not None and "median_s" in floor.result:
            row.result["per_exp_floor"] = row.result["median_s"] / floor.result["median_s"]
        ref = by_key.get(row.versus or "")
        if ref is not None and "median_s" in ref.result:
            row.result["versus"] = ref.key
            row.result["per_versus"] = row.result["median_s"] / ref.result["median_s"]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    with contextlib.suppress(Exception):
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    info["blas_threads"] = _blas_threads()
    return info


def _blas_threads() -> int | str:
    """The BLAS library's own thread count, asked through ctypes (no threadpoolctl needed)."""
    import ctypes

    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and ".so" in line}
    for lib in sorted(libs):
        with contextlib.suppress(OSError):
            handle = ctypes.CDLL(lib)
            for name in (
                "scipy_openblas_get_num_threads64_",
                "openblas_get_num_threads64_",
                "scipy_openblas_get_num_threads",
                "openblas_get_num_threads",
            ):
                if hasattr(handle, name):
                    return int(getattr(handle, name)())
    env = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ]
    return ", ".join(env) or "unknown"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1e3:.2f} ms"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the timed rounds")
    parser.add_argument("--only", nargs="*", help="row keys to run (default: all)")
    parser.add_argument("--json", default=str(ROOT / "out" / "bench.json"))
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--population", help="issue 10's population rows instead: 100k, 1m or all (long)")
    args = parser.parse_args(argv)
    if args.population:
        return population_bench(args.population)
    if args.probe:
        print(json.dumps(probe_child(args.probe)))
        return {}
    started = time.perf_counter()
    info = machine()
    print(
        f"machine: {info['cpus_usable']} of {info['cpu_count']} cores, load {info['load_average']}, "
        f"Python {info['python']}, numpy {info['numpy']}, BLAS {info.get('blas', '?')} "
        f"({info['blas_threads']} threads)"
    )
    print(
        f"work: mildronate 2-cmt oral, {DOSE_MG:g} mg q{INTERVAL_H:g}h for {OVER} ({len(_regimen().doses)} doses), "
        f"{N_TIMES:,} times every {STEP_H * 60:g} min (0-{TIMES[-1]:g} h), {N_SUBJECTS:,} subjects, "
        f"CL and V1 log-normal {CV:.0%} CV"
    )
    table = [r for r in rows() if not args.only or r.key in args.only or r.key.startswith("exp")]
    by_key = {r.key: r for r in table}
    with tempfile.TemporaryDirectory() as workdir:
        for row in table:
            if row.key.startswith("exp"):
                continue
            if row.only_if in by_key and "skipped" in by_key[row.only_if].result:
                row.result["skipped"] = "pkmodel's row above was skipped"
                continue
            probe(row, workdir)
        used = {r.cells for r in table if not r.key.startswith("exp") and "skipped" not in r.result}
        for row in table:
            if row.key.startswith("exp"):
                if row.cells in used:
                    probe(row, workdir)
                else:
                    row.result["skipped"] = "no row of this size ran"
        for row in table:
            if row.check is not None and "skipped" not in row.result:
                try:
                    error = row.check()
                except Exception as e:  # the reason is the report
                    row.result["skipped"] = f"check against pkmodel failed: {type(e).__name__}: {e}"
                    continue
                row.result["rel_error_vs_pkmodel"] = error
                if not error <= CHECK_RTOL:
                    row.result["skipped"] = f"disagrees with pkmodel: relative error {error:.2g} > {CHECK_RTOL:g}"
        timed = [r for r in table if "skipped" not in r.result]
        print(f"probes and checks done in {time.perf_counter() - started:.0f} s; timing {len(timed)} rows", flush=True)
        rounds = time_rounds(timed, args.rounds, args.budget, workdir)
    summarise(table)
    _print(table, rounds)
    report = {
        "machine": info,
        "work": {
            "model": "mildronate",
            "dose_mg": DOSE_MG,
            "interval_h": INTERVAL_H,
            "over": OVER,
            "n_subjects": N_SUBJECTS,
            "n_times": N_TIMES,
            "step_h": STEP_H,
            "cv": CV,
        },
        "rounds": rounds,
        "rows": {r.key: {"label": r.label.strip(), "cells": r.cells, **r.result} for r in table},
        "total_s": time.perf_counter() - started,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    print(f"{rounds} rounds in shuffled order; whole run {report['total_s']:.0f} s; wrote {args.json}")
    return report


def _ratio(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _print(table: list[Row], rounds: int) -> None:
    width = max(len(r.label) for r in table) + 2
    names = {r.key: r.short or r.key for r in table}
    print(f"\n{'row':<{width}}{'median':>11}{'min':>11}{'ns/cell':>9}{'÷ exp':>8}{'÷ ref':>19}{'peak mem':>11}")
    for row in table:
        r = row.result
        if "skipped" in r:
            print(f"{row.label:<{width}}skipped: {r['skipped']}")
            continue
        ratio = _ratio(r["per_exp_floor"]) if "per_exp_floor" in r else ""
        ref = f"{_ratio(r['per_versus'])} {names[r['versus']]}" if "per_versus" in r else ""
        mem = f"{r['peak_mib']:,.0f} MiB" + ("*" if r["memory"].endswith("process") else "") if "peak_mib" in r else ""
        per_cell = f"{r['median_s'] / row.cells * 1e9:.1f}" if row.cells else ""
        print(f"{row.label:<{width}}{_ms(r['median_s']):>11}{_ms(r['min_s']):>11}{per_cell:>9}{ratio:>8}{ref:>19}{mem:>11}")
    checks = [f"{r.key} {r.result['rel_error_vs_pkmodel']:.1g}" for r in table if "rel_error_vs_pkmodel" in r.result]
    print(
        f"\nns/cell: median over the output cells (subjects x times). ÷ exp: median over np.exp on as many\n"
        f"cells, same run (np.exp itself costs less per cell while its cells fit in cache). ÷ ref: median\n"
        f"over the named row's median.\n"
        f"peak mem: peak RSS growth during one run in a child process; * peak RSS of the whole fresh process.\n"
        f"imports: time of the import statement in a fresh interpreter; CLI: wall time of the process.\n"
        f"closed forms vs pkmodel, max relative error: {', '.join(checks) or 'none checked'}"
    )


# --- virtual populations (issue 10's benchmark; a section of its own) ------------------------------


def population_bench(which: str) -> dict[str, Any]:
    """Issue 10's population rows, each in a fresh child process (its peak RSS is the whole
    process's, or its largest worker's): "100k" = 100,000 subjects, 500 mg oral twice daily for 6 weeks, a 15-minute grid,
    percentiles only, streamed in chunks on this machine; "1m" = 1,000,000 subjects x 1,000 times
    through a Dask LocalCluster (2 worker processes, 1 thread each); "engine" = the same
    work held in memory for 2,000 subjects (the engine's throughput, for comparison). Variability:
    the shipped mildronate [variability] table. Prints subject-points per second side by side."""
    if which.startswith("child:"):
        return _population_child(which.removeprefix("child:"))
    keys = ["engine", "100k", "1m"] if which == "all" else ["engine", which]
    results = {}
    for key in keys:
        out = subprocess.run(
            [sys.executable, __file__, "--population", f"child:{key}"], capture_output=True, text=True, timeout=3600
        )
        if out.returncode != 0:
            results[key] = {"skipped": (out.stderr.strip().splitlines() or ["failed"])[-1]}
        else:
            results[key] = json.loads(out.stdout.strip().splitlines()[-1])
    print("\npopulation rows (fresh process each; peak mem = peak RSS of the process or its largest worker)")
    print(f"{'row':<72}{'time':>10}{'points/s':>14}{'peak mem':>11}{'chunk':>9}")
    for key, r in results.items():
        if "skipped" in r:
            print(f"{r.get('label', key):<72}skipped: {r['skipped']}")
            continue
        print(
            f"{r['label']:<72}{r['seconds']:>9.1f}s{r['points_per_s']:>14.3g}{r['peak_mib']:>8,.0f} MiB"
            f"{r.get('chunk', ''):>9}"
        )
    return results


def _population_child(key: str) -> dict[str, Any]:
    from pkmodel import Regimen, load_params, simulate
    from pkmodel.simulation.population import CHUNK_CELLS, Population

    model = load_params("mildronate")
    regimen = Regimen.repeated("500 mg", "12 h", over="6 weeks", route="oral")
    n, times = {"engine": (2_000, None), "100k": (100_000, None), "1m": (1_000_000, 1_000)}[key]
    grid = np.arange(0.0, 6 * 7 * 24 + 0.25, 0.25) if times is None else np.linspace(0.0, 6 * 7 * 24, times)
    client = None
    if key == "1m":
        import dask
        from dask.distributed import Client, LocalCluster

        # Worker processes (threads share one interpreter lock: two gave 1.3 times one). Dask starts
        # them with MALLOC_TRIM_THRESHOLD_=65536, which hands every freed array back to the system,
        # so each chunk faults its memory in again: 1.7 times slower per chunk on this machine.
        # pkmodel's chunks are bounded in size, so the bench lets malloc keep what it freed.
        environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), "MALLOC_TRIM_THRESHOLD_": 1 << 30}
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
        cluster = LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    population = Population(n, "mildronate", seed=SEED, metrics=False)
    chunk = CHUNK_CELLS // (len(grid) + len(regimen.doses))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        result = simulate(model, regimen, grid, population=population, progress=False, client=client)
        if key == "engine":
            result.concentration  # noqa: B018 (the work being timed)
        else:
            result.percentiles((5, 50, 95))
        seconds = time.perf_counter() - started
    if client is not None:
        client.close()
        cluster.close()
    label = {
        "engine": f"engine in memory: {n:,} subjects x {len(grid):,} times",
        "100k": f"population streamed: {n:,} subjects x {len(grid):,} times",
        "1m": f"population on LocalCluster(2 processes): {n:,} subjects x {len(grid):,} times",
    }[key]
    report = {
        "label": label,
        "seconds": seconds,
        "points_per_s": n * len(grid) / seconds,
        # With worker processes (closed and reaped by now), the largest one's peak counts too.
        "peak_mib": max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        / 1024,
        "chunk": "" if key == "engine" else chunk,
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
