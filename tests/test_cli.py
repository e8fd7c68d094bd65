"""The ``pkmodel`` command, run in-process through ``main([...])`` (and once as a subprocess)."""

import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import pkmodel.interfaces.cli
import pkmodel.interfaces.plot
from pkmodel import Regimen, load_params, simulate
from pkmodel.interfaces.cli import main
from pkmodel.params import model_from_fields

DEMO = ["simulate", "--dose", "500 mg", "--route", "iv", "--interval", "12 h", "--over", "14 d"]
PNG = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path):
    return pd.read_csv(path)


def metric(out, name):
    """The value printed on the line of the metric table that starts with ``name``."""
    (line,) = [line for line in out.splitlines() if line.startswith(name)]
    return float(line.split()[-1])


# --- results equal the library's -------------------------------------------------------------


def test_demo_csv_equals_simulate_and_plot_is_a_png(tmp_path, capsys):
    csv, png = tmp_path / "out" / "demo.csv", tmp_path / "out" / "demo.png"
    code, out, err = run(capsys, *DEMO, "--csv", str(csv), "--plot", str(png))
    assert (code, err) == (0, "")
    sim = simulate(load_params("mildronate"), Regimen.repeated("500 mg", "12 h", over="14 d", route="iv"))
    data = read_csv(csv)
    assert list(data.columns) == ["time_h", "conc_mg_L", "central_mg", "peripheral_mg"]
    np.testing.assert_allclose(data["time_h"], sim.times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(data["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)
    amounts = ["central_mg", "peripheral_mg"]
    np.testing.assert_allclose(data[amounts], sim.data[amounts], rtol=0, atol=1e-12)
    assert png.read_bytes().startswith(PNG)
    assert not [p.name for p in csv.parent.iterdir() if p.name.endswith(".part")]
    # the printed summary: header, and metrics rounded to 4 significant digits
    summary = sim.summary().iloc[0]
    assert "mildronate" in out and str(sim.regimen) in out
    assert metric(out, "Cmax") == pytest.approx(summary["cmax_mg_L"], rel=5e-4)
    assert metric(out, "Tmax") == pytest.approx(summary["tmax_h"], rel=5e-4)
    assert metric(out, "AUC, whole") == pytest.approx(summary["auc_mg_h_L"], rel=5e-4)
    assert metric(out, "Accumulation") == pytest.approx(summary["accumulation"], rel=5e-4)
    assert re.search(r"^metric\s+value$", out, re.MULTILINE)
    assert "Cmax, peak (mg/L)" in out and "(mg·h/L)" in out
    assert f"wrote {csv}" in out and f"wrote {png}" in out


def test_oral_dose_with_overrides(tmp_path, capsys):
    csv = tmp_path / "oral.csv"
    code, out, _ = run(capsys, "simulate", "--dose", "1 g", "--interval", "24 h", "--doses", "3",
                       "--cl", "3 L/h", "--f", "50 %", "--tlag", "30 min", "--csv", str(csv))
    assert code == 0
    model = load_params("mildronate").replace(cl=3.0, f=0.5, tlag=0.5)
    sim = simulate(model, Regimen.repeated("1 g", "24 h", n_doses=3, route="oral"))
    data = read_csv(csv)
    assert list(data.columns) == ["time_h", "conc_mg_L", "depot_mg", "central_mg", "peripheral_mg"]
    np.testing.assert_allclose(data["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)
    assert metric(out, "Cmax") == pytest.approx(sim.summary()["cmax_mg_L"][0], rel=5e-4)
    assert "CL 3 L/h" in out and "F 0.5" in out


def test_model_from_options_alone_with_an_infusion(tmp_path, capsys):
    csv = tmp_path / "inf.csv"
    code, out, _ = run(capsys, "simulate", "--params", "none", "--cl", "6 L/h", "--v1", "50 L", "--dose", "500 mg",
                       "--route", "iv", "--duration", "30 min", "--csv", str(csv))
    assert code == 0
    sim = simulate(model_from_fields({"cl": "6 L/h", "v1": "50 L"}), Regimen.single("500 mg", "iv", duration="30 min"))
    data = read_csv(csv)
    assert list(data.columns) == ["time_h", "conc_mg_L", "central_mg"]
    np.testing.assert_allclose(data["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)
    # a single dose: no trough or interval metrics are printed
    assert metric(out, "Cmax") == pytest.approx(sim.summary()["cmax_mg_L"][0], rel=5e-4)
    assert "Cmin" not in out and "Accumulation" not in out


def test_until_and_step_set_the_time_grid(tmp_path, capsys):
    csv = tmp_path / "grid.csv"
    code, _, _ = run(capsys, *DEMO, "--until", "3 d", "--step", "15 min", "--csv", str(csv), "--quiet")
    assert code == 0
    times = np.arange(0, 72 * 4 + 1) / 4
    data = read_csv(csv)
    np.testing.assert_array_equal(data["time_h"], times)
    sim = simulate(load_params("mildronate"), Regimen.repeated("500 mg", "12 h", over="14 d", route="iv"), times)
    np.testing.assert_allclose(data["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)


def test_several_subjects_print_one_row_each(tmp_path, capsys):
    toml = tmp_path / "population.toml"
    toml.write_text('[model]\nname = "three"\n[parameters]\ncl = [4.0, 6.0, 8.0]\nv1 = "50 L"\n', encoding="utf-8")
    code, out, _ = run(capsys, "simulate", "--params", str(toml), "--dose", "500 mg", "--route", "iv")
    assert code == 0
    rows = [line for line in out.splitlines() if re.match(r"^[0-2]\s", line)]
    assert len(rows) == 3
    assert "Cmax (mg/L)" in out and "AUC (mg·h/L)" in out and "medians of 3 subjects" in out
    cmax = simulate(load_params(toml), Regimen.single("500 mg")).summary()["cmax_mg_L"]
    header = next(line for line in out.splitlines() if "Cmax" in line)
    assert header.index("Cmax") < header.index("AUC")
    for row, expected in zip(rows, cmax):
        assert float(row.split()[1]) == pytest.approx(expected, rel=5e-4)


def test_plot_axes_carry_units_and_other_formats(tmp_path, capsys, monkeypatch):
    drawn = []

    def spy(sim, *args, **kwargs):
        drawn.append(original(sim, *args, **kwargs))
        return drawn[-1]

    original = pkmodel.interfaces.plot.concentration_time
    monkeypatch.setattr(pkmodel.interfaces.plot, "concentration_time", spy)
    for suffix, magic in [("png", PNG), ("pdf", b"%PDF"), ("svg", b"<?xml")]:
        path = tmp_path / f"c.{suffix}"
        assert run(capsys, *DEMO, "--plot", str(path), "--quiet") == (0, "", "")
        assert path.read_bytes().startswith(magic)
    ax = drawn[-1]
    assert ax.get_xlabel() == "Time (days)"
    assert "mg/L" in ax.get_ylabel()
    assert ax.get_title() == "500 mg IV every 12 h, 28 doses (14 d)"


def test_quiet_prints_nothing_and_help_has_examples(tmp_path, capsys):
    assert run(capsys, *DEMO, "--quiet") == (0, "", "")
    code, out, _ = run(capsys, "simulate", "--help")
    assert code == 0
    assert "examples:" in out and '--dose "500 mg" --route iv --interval "12 h"' in out and "mg/L" in out


# --- bad input: one line, exit 2, nothing written ----------------------------------------------

BAD = [
    (["--dose", "-500 mg"], "--dose"),
    (["--dose", "500 mg", "--route", "sc"], "--route"),
    (["--dose", "12 h"], "--dose"),
    (["--dose", "500 mg", "--f", "1.5"], "--f"),
    (["--dose", "500 mg", "--params", "aspirin"], "--params"),
    (["--dose", "500 mg", "--duration", "30 min"], "--duration"),
    (["--dose", "500 mg", "--cl", "6 L"], "--cl"),
    (["--dose", "500 mg", "--interval", "12 h"], "--interval"),
    (["--dose", "500 mg", "--doses", "3"], "--doses"),
    (["--dose", "500 mg", "--interval", "12 h", "--doses", "0"], "--doses"),
    (["--dose", "500 mg", "--interval", "12 h", "--doses", "2", "--over", "1 d"], "--over"),
    (["--dose", "500 mg", "--params", "none", "--cl", "6 L/h"], "--v1"),
    (["--dose", "500 mg", "--params", "none", "--cl", "6 L/h", "--v1", "50 L"], "--ka"),
    (["--dose", "500 mg", "--step", "1 s", "--until", "100 d"], "--step"),
    (["--dose", "500 mg", "--until", "0 h"], "--until"),
    (["--route", "iv"], "--dose"),
]


@pytest.mark.parametrize("pre_existing", [False, True], ids=["new", "existing"])
@pytest.mark.parametrize(("args", "field"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, field, pre_existing):
    csv, png = tmp_path / "out" / "r.csv", tmp_path / "out" / "r.png"
    if pre_existing:
        csv.parent.mkdir()
        csv.write_text("old csv\n")
        png.write_bytes(b"old png")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, out, err = run(capsys, "simulate", *args, "--csv", str(csv), "--plot", str(png))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.endswith("\n")
    assert err.startswith("pkmodel: error:")
    assert field in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    if pre_existing:
        assert csv.read_text() == "old csv\n" and png.read_bytes() == b"old png"


def test_bad_output_paths(tmp_path, capsys):
    same, folder = str(tmp_path / "x.csv"), tmp_path / "folder.png"
    folder.mkdir()
    for args, field in [(["--plot", str(tmp_path / "c.jpg")], "--plot"), (["--csv", str(tmp_path / "c.txt")], "--csv"),
                        (["--plot", str(folder)], "--plot"), (["--csv", same, "--plot", same], "--plot")]:
        code, _, err = run(capsys, *DEMO, *args)
        assert code == 2 and err.startswith(f"pkmodel: error: {field}") and len(err.splitlines()) == 1
    assert list(tmp_path.rglob("*")) == [folder]


def test_a_failed_output_leaves_every_target_unchanged(tmp_path, capsys, monkeypatch):
    csv, png = tmp_path / "r.csv", tmp_path / "r.png"
    csv.write_text("old csv\n")

    def broken(sim, path, fmt, **options):
        with open(path, "wb") as f:
            f.write(b"half a pic")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pkmodel.interfaces.cli, "_save_plot", broken)
    code, out, err = run(capsys, *DEMO, "--csv", str(csv), "--plot", str(png))
    assert code == 2 and out == ""
    assert err == f"pkmodel: error: --plot: got '{png}'; cannot write the file (No space left on device)\n"
    assert csv.read_text() == "old csv\n" and not png.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]  # no temporary files left behind


def test_missing_or_unknown_command(capsys):
    for argv in ([], ["frobnicate"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("pkmodel: error:")


def test_python_m_pkmodel_fails_cleanly_in_a_subprocess(tmp_path):
    target = tmp_path / "never.csv"
    done = subprocess.run([sys.executable, "-m", "pkmodel", "simulate", "--dose", "12 h", "--csv", str(target)],
                          check=False, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("pkmodel: error: --dose") and len(done.stderr.splitlines()) == 1
    assert done.stdout == "" and not target.exists()
