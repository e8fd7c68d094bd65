"""The command's summary text and CSV bytes are what pandas makes of the same results, though the
command no longer loads pandas: pandas is the independent reference here."""

import io
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pkmodel import Regimen, load_params, simulate
from pkmodel.dosing import library
from pkmodel.errors import PKModelError
from pkmodel.interfaces import csv_columns
from pkmodel.interfaces.cli import _METRICS, main, summary_table
from pkmodel.interfaces.csv_columns import write_columns
from pkmodel.params import model_from_fields
from pkmodel.units import format_number

EDGE = [0.0, 1e-05, 1234567.0, -0.0, 0.1, 1 / 3, 1e16, 1e-300, 5e-324, 2.5e-05, 123456789.125, np.inf]


def pandas_summary(summary: pd.DataFrame) -> str:
    """The summary table as the command printed it with pandas (up to its pandas-free version)."""
    summary = summary.loc[:, summary.notna().any()]
    shown = summary.map(lambda v: format_number(float(v)))
    if len(shown) == 1:
        shown = shown.rename(columns={k: long for k, (long, _) in _METRICS.items()})
        rows = [("metric", "value"), *zip(shown.columns, shown.iloc[0])]
        width, digits = (max(len(row[i]) for row in rows) for i in (0, 1))
        return "\n".join(f"{name:<{width}}  {value:>{digits}}" for name, value in rows)
    return shown.rename(columns={k: short for k, (_, short) in _METRICS.items()}).to_string(max_rows=40)


def pandas_csv(columns: dict[str, np.ndarray]) -> bytes:
    buffer = io.StringIO()
    pd.DataFrame(columns).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def written(columns: dict[str, np.ndarray]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        write_columns(str(path), columns)
        return path.read_bytes()


def run_cli(capsys, *argv) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


CASES = {
    # oral, two compartments (depot, central and peripheral columns), label regimen
    "oral two-compartment": (
        ["--regimen", "alcohol-withdrawal"],
        lambda: (load_params("mildronate"), library.load("alcohol-withdrawal")),
    ),
    # IV infusion, one compartment: a single dose, so no interval metrics
    "one-compartment IV": (
        ["--params", "none", "--cl", "6 L/h", "--v1", "50 L", "--dose", "500 mg", "--route", "iv",
         "--duration", "30 min"],
        lambda: (model_from_fields({"cl": "6 L/h", "v1": "50 L"}), Regimen.single("500 mg", "iv", duration="30 min")),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_one_subject_summary_and_csv_equal_pandas(case, tmp_path, capsys):
    argv, build = CASES[case]
    csv = tmp_path / "out.csv"
    out = run_cli(capsys, "simulate", *argv, "--csv", str(csv))
    sim = simulate(*build(), check_label=False)  # the command has shown the label warnings
    assert sim.n_subjects == 1
    assert f"\n\n{pandas_summary(sim.summary())}\nwrote {csv}\n" in out
    assert csv.read_bytes() == pandas_csv(sim.data)


@pytest.mark.parametrize("n", [3, 50])  # 50: pandas shows rows 0-19 and 30-49 around "..."
def test_several_subjects_summary_and_csv_equal_pandas(n, tmp_path, capsys):
    toml, csv = tmp_path / "population.toml", tmp_path / "out.csv"
    cl = ", ".join(f"{4 + 0.1 * i:.1f}" for i in range(n))
    toml.write_text(f'[model]\nname = "many"\n[parameters]\ncl = [{cl}]\nv1 = "50 L"\n', encoding="utf-8")
    out = run_cli(capsys, "simulate", "--params", str(toml), "--dose", "500 mg", "--route", "iv", "--interval",
                  "12 h", "--doses", "4", "--csv", str(csv))
    sim = simulate(load_params(toml), Regimen.repeated("500 mg", "12 h", n_doses=4, route="iv"))
    assert f"\n\n{pandas_summary(sim.summary())}\nwrote {csv}\n" in out
    assert "\n0  " in out and f"\n{n - 1}  " in out
    data = csv.read_bytes()
    assert data == pandas_csv(sim.data)
    assert data.startswith(b"subject,time_h,conc_mg_L,central_mg\n0,0.0,10.0,500.0\n")


@pytest.mark.parametrize("n", [1, 2, 45])
def test_summary_of_edge_values_equals_pandas(n):
    rng = np.random.default_rng(n)
    table = {k: rng.choice(EDGE, n) for k in _METRICS}
    table["cmin_mg_L"] = np.full(n, np.nan)  # a metric without a value is not shown
    table["accumulation"][0] = np.nan  # ... but one with some values is
    sim = SimpleNamespace(n_subjects=n, metrics=lambda: {k: v.copy() for k, v in table.items()})
    expected = pandas_summary(pd.DataFrame(table, index=pd.RangeIndex(n, name="subject")))
    assert summary_table(sim) == expected
    assert ("Cmin" in expected, "Accumulation" in expected) == (False, n > 1)


def test_csv_of_edge_values_equals_pandas():
    n = len(EDGE) + 2
    columns = {
        "subject": np.arange(n),
        "time_h": np.array([*EDGE, np.nan, -np.inf]),
        "conc_mg_L": np.array([np.nan, *EDGE[::-1], 7.0]),
        "narrow": np.array([0.1, *EDGE, 3.3], dtype=np.float32),
        "flag": np.arange(n) % 2 == 0,
    }
    data = written(columns)
    assert data == pandas_csv(columns)
    assert data.splitlines()[:3] == [b"subject,time_h,conc_mg_L,narrow,flag", b"0,0.0,,0.1,True", b"1,1e-05,inf,0.0,False"]


def test_csv_of_one_column_empty_tables_and_quoted_names_equal_pandas():
    for columns in [
        {"a": np.array([np.nan, 1.0, np.nan])},  # a row of one empty field is written as ""
        {},
        {"a": np.array([], dtype=float), "b": np.array([], dtype=np.int64)},
        {"a,b": np.array([1.0, np.nan]), 'c"': np.array([np.nan, np.nan]), "d e": np.array([1, 2])},
    ]:
        assert written(columns) == pandas_csv(columns), columns
    assert written({"a": np.array([np.nan])}) == b'a\n""\n'


def test_csv_refuses_text_columns():
    # text may need quoting, which the writer does not do: refused rather than written wrongly
    with pytest.raises(PKModelError, match="numbers or booleans"):
        written({"a": np.array([1.0]), "b": np.array(["x,y"])})


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(allow_nan=True, allow_infinity=True)),
    st.integers(-(2**62), 2**62),
    st.integers(1, 3),
)
def test_csv_of_any_floats_equals_pandas(values, offset, n_columns):
    columns = {"x": values, "i": np.arange(len(values)) + offset, "y": values[::-1].copy()}
    columns = dict(list(columns.items())[:n_columns])
    with mock.patch.object(csv_columns, "_ROWS_PER_CHUNK", 7):  # rows in several chunks
        assert written(columns) == pandas_csv(columns)


def test_python_m_pkmodel_simulate_with_csv_imports_no_pandas(tmp_path):
    # Run twice in one interpreter: plain, then with --suggest-dose cmax, whose trial simulations
    # need only the peak, not pandas' table.
    target = tmp_path / "x.csv"
    code = (
        "import runpy, sys\n"
        "path, codes = sys.argv[1], []\n"
        "for extra in ([], ['--crcl', '45 mL/min', '--suggest-dose', 'cmax']):\n"
        "    sys.argv = ['pkmodel', 'simulate', '--regimen', 'alcohol-withdrawal', '--csv', path, '--quiet',"
        " *extra]\n"
        "    try:\n"
        "        runpy.run_module('pkmodel', run_name='__main__')\n"
        "    except SystemExit as done:\n"
        "        codes.append(done.code)\n"
        "    print(codes, sorted(m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # each run: the exit statuses so far, then the heavy libraries loaded (none)
    assert [line for line in done.stderr.splitlines() if line.startswith("[")] == ["[0] []", "[0, 0] []"]
    assert target.read_bytes().startswith(b"time_h,conc_mg_L,depot_mg,central_mg,peripheral_mg\n0.0,0.0,")


def test_version_is_the_installed_distributions(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr() == (f"pkmodel {version('pkmodel')}\n", "")
