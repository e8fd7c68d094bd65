"""Engine benchmark (issue: exact, vectorised engine). Run with `make bench`.

Regimen: 500 mg oral twice daily for 6 weeks (84 doses) in the shipped mildronate model, output
every 15 minutes from 0 to 1008 h (4,033 points). Each scenario runs in its own process so that
its peak memory (RSS) is its own:
  a  one subject, analytic engine through simulate()
  b  10,000 subjects, 30 % log-normal variability on CL and V1, through simulate()
  c  the single subject of (a) through the independent solve_ivp reference
  d  numpy.exp over an array the size of (b)'s output: the floor for any method that touches
     every output value once
Prints median times, peak RSS and the ratios b/d (target < 3) and c/a (target >= 100). Targets
for (b): under 1 s and under 1 GB peak RSS on a 2-core machine.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

N_SUBJECTS = 10_000
TIMES = np.arange(0.0, 1008.0 + 1e-9, 0.25)
REPEATS = {"a": 21, "b": 5, "c": 3, "d": 5}


def _setup(n_subjects: int | None):
    from pkmodel import Regimen, load_params

    model = load_params("mildronate")
    if n_subjects:
        rng = np.random.default_rng(20261125)
        omega = np.sqrt(np.log(1 + 0.3**2))  # 30 % coefficient of variation
        model = model.replace(
            cl=model.cl * np.exp(omega * rng.standard_normal(n_subjects)),
            v1=model.v1 * np.exp(omega * rng.standard_normal(n_subjects)),
        )
    return model, Regimen.repeated("500 mg", "12 h", over="6 weeks", route="oral")


def scenario(name: str) -> dict:
    from pkmodel import simulate

    if name in ("a", "b"):
        model, regimen = _setup(N_SUBJECTS if name == "b" else None)

        def run():
            return simulate(model, regimen, TIMES).concentration
    elif name == "c":
        from pkmodel.dosing.events import regimen_events
        from pkmodel.engine.ode import ode_amounts

        model, regimen = _setup(None)
        ev = regimen_events(model, regimen, 1)
        kin = model.kinetics(1)

        def run():
            amount, rate = (np.broadcast_to(a, (1, ev.time.size))[0] for a in (ev.amount, ev.rate))
            amounts = ode_amounts(kin.ka[0], kin.k10[0], kin.k12[0], kin.k21[0], ev.time, ev.cmt, amount, rate, TIMES)
            return amounts[:, 1] / model.v1
    else:
        x = -np.random.default_rng(0).random((N_SUBJECTS, len(TIMES)))

        def run():
            return np.exp(x)

    times = []
    for _ in range(REPEATS[name]):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
        del out
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"median_s": statistics.median(times), "peak_rss_mb": peak_kib / 1024}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--scenario":
        print(json.dumps(scenario(sys.argv[2])))
        return
    results = {}
    labels = {
        "a": "one subject, analytic",
        "b": f"{N_SUBJECTS:,} subjects, analytic",
        "c": "one subject, ODE reference (solve_ivp)",
        "d": f"numpy.exp over {N_SUBJECTS:,} x {len(TIMES):,}",
    }
    print(f"500 mg oral q12h for 6 weeks, {len(TIMES):,} output times (15 min)\n")
    print(f"{'scenario':<45}{'median':>12}{'peak RSS':>12}")
    for name in "abcd":
        raw = subprocess.run([sys.executable, __file__, "--scenario", name], capture_output=True, text=True, check=True)
        results[name] = json.loads(raw.stdout.strip().splitlines()[-1])
        r = results[name]
        print(f"{name}  {labels[name]:<42}{r['median_s'] * 1000:>9.1f} ms{r['peak_rss_mb']:>9.0f} MB")
    b_d = results["b"]["median_s"] / results["d"]["median_s"]
    c_a = results["c"]["median_s"] / results["a"]["median_s"]
    print(f"\nb/d = {b_d:.2f} (target < 3)    c/a = {c_a:.0f} (target >= 100)")
    b = results["b"]
    print(f"b: {b['median_s']:.3f} s (target < 1 s), peak {b['peak_rss_mb']:.0f} MB (target < 1024 MB)")


if __name__ == "__main__":
    main()
