"""The command's label regimen library: ``pkmodel regimens`` and ``pkmodel simulate --regimen``."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from pkmodel import load_params, regimens, simulate
from pkmodel.drugs.label import LabelWarning
from pkmodel.interfaces.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, out, err, *words):
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("pkmodel: error:") and err.endswith("\n")
    for word in words:
        assert word in err, (word, err)


# --- pkmodel regimens --------------------------------------------------------------------------


def test_regimens_lists_every_name_with_its_variants(capsys):
    code, out, err = run(capsys, "regimens")
    assert (code, err) == (0, "")
    for name in regimens.names():
        assert f"\n{name}  [" in out
    table = regimens.table()
    for row in table.itertuples():
        assert row.regimen in out
    assert "Alcohol withdrawal syndrome" in out and "pkmodel simulate --regimen NAME" in out
    lines = out.splitlines()
    block = lines[lines.index(next(line for line in lines if line.startswith("alcohol-withdrawal"))):]
    assert block[2].split()[0] == "low" and block[3].split()[0] == "high"
    assert "(2000 mg/day, 40 doses)" in block[3]


def test_regimens_name_shows_quote_notes_and_variants(capsys):
    code, out, err = run(capsys, "regimens", "injection-then-oral")
    assert (code, err) == (0, "")
    assert "The dose is 500-1000 mg (5-10 ml) per day" in out
    assert "repeated 2-3 times a year" in out
    assert "first half of the day" in out and "VASOPRO" in out
    for variant in ("low", "high", "high-once", "low-yearly", "high-yearly"):
        assert f"    {variant}: " in out
    assert "notes:" in out and "max daily dose: 1000 mg" in out


def test_regimens_unknown_name_is_one_line(capsys):
    code, out, err = run(capsys, "regimens", "hangover")
    one_line_error(code, out, err, "NAME", "'hangover'", "alcohol-withdrawal")


# --- pkmodel simulate --regimen ---------------------------------------------------------------


def test_simulate_a_library_regimen_equals_the_library(tmp_path, capsys):
    csv, png = tmp_path / "out" / "aw.csv", tmp_path / "out" / "aw.png"
    code, out, err = run(capsys, "simulate", "--regimen", "alcohol-withdrawal", "--variant", "high",
                         "--csv", str(csv), "--plot", str(png))
    assert code == 0
    # 2 g a day, the last doses in the evening: the label's two cautions, one line each.
    warned = err.strip().splitlines()
    assert len(warned) == 2 and all(line.startswith("pkmodel: warning: ") for line in warned)
    assert "maximum daily dose of 1000 mg" in warned[0] and "after 15:00" in warned[1]
    regimen = regimens.load("alcohol-withdrawal", "high")
    with pytest.warns(LabelWarning):
        sim = simulate(load_params("mildronate"), regimen)
    data = pd.read_csv(csv)
    np.testing.assert_allclose(data["time_h"], sim.times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(data["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)
    assert png.read_bytes().startswith(PNG)
    assert "library:    alcohol-withdrawal, variant high" in out
    assert f"regimen:    {regimen}" in out and "08:00,12:00,16:00,20:00" in out
    assert f"wrote {csv}" in out and f"wrote {png}" in out


def test_default_variant_is_low_and_model_options_still_apply(tmp_path, capsys):
    csv = tmp_path / "ms.csv"
    code, out, _ = run(capsys, "simulate", "--regimen", "mental-stress", "--cl", "3 L/h", "--csv", str(csv))
    assert code == 0 and "variant low" in out
    sim = simulate(load_params("mildronate").replace(cl=3.0), regimens.load("mental-stress", "low"))
    np.testing.assert_allclose(pd.read_csv(csv)["conc_mg_L"], sim.concentration[0], rtol=0, atol=1e-12)


def test_injection_courses_with_a_coarse_grid(tmp_path, capsys):
    csv = tmp_path / "inj.csv"
    code, _, _ = run(capsys, "simulate", "--regimen", "injection-then-oral", "--variant", "high-yearly",
                     "--until", "300 d", "--step", "6 h", "--csv", str(csv), "--quiet")
    assert code == 0
    data = pd.read_csv(csv)
    assert data["time_h"].iloc[-1] == 300 * 24
    assert np.all(np.isfinite(data["conc_mg_L"])) and data["conc_mg_L"].min() >= 0


def test_help_mentions_the_library(capsys):
    code, out, _ = run(capsys, "simulate", "--help")
    assert code == 0 and "--regimen NAME" in out and "--variant VARIANT" in out and "pkmodel regimens" in out
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "regimens" in out


# --- bad combinations: one line, exit 2, nothing written ----------------------------------------

DOSING = [
    ["--dose", "500 mg"],
    ["--route", "iv"],
    ["--interval", "12 h"],
    ["--doses", "3"],
    ["--over", "14 d"],
    ["--duration", "30 min"],
]


@pytest.mark.parametrize("extra", DOSING, ids=[a[0] for a in DOSING])
def test_regimen_excludes_the_dosing_options(tmp_path, capsys, extra):
    csv = tmp_path / "never.csv"
    code, out, err = run(capsys, "simulate", "--regimen", "alcohol-withdrawal", *extra, "--csv", str(csv))
    one_line_error(code, out, err, "--regimen", extra[0])
    assert not csv.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--regimen", "hangover"], ["--regimen", "'hangover'", "alcohol-withdrawal", "mental-stress"]),
        (["--regimen", "alcohol-withdrawal", "--variant", "medium"], ["--variant", "'medium'", "low, high"]),
        (["--variant", "high"], ["--variant", "--regimen"]),
        (["--variant", "high", "--dose", "500 mg"], ["--variant", "--regimen"]),
        ([], ["--dose", "--regimen"]),
        (["--regimen"], ["--regimen"]),
    ],
)
def test_bad_library_options(tmp_path, capsys, args, words):
    csv = tmp_path / "never.csv"
    code, out, err = run(capsys, "simulate", *args, "--csv", str(csv))
    one_line_error(code, out, err, *words)
    assert not csv.exists()


def test_regimen_in_words(tmp_path, capsys):
    from pkmodel import Regimen, load_params, simulate
    from pkmodel.interfaces.cli import main

    text = "500 mg PO bid at 08:00,14:00 for 10 days"
    csv = tmp_path / "words.csv"
    assert main(["simulate", "--regimen", text, "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "500 mg oral at 08:00,14:00 daily for 10 d" in out and "library:" not in out
    import pandas as pd

    written = pd.read_csv(csv)
    expected = simulate(load_params("mildronate"), Regimen.parse(text), written.time_h.to_numpy())
    assert abs(written.conc_mg_L.to_numpy() - expected.concentration[0]).max() < 1e-12


def test_regimen_in_words_with_a_typo_is_one_line(capsys):
    from pkmodel.interfaces.cli import main

    assert main(["simulate", "--regimen", "500 mg PO bid for 10 dayz"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'dayz'" in err[0] and err[0].startswith("pkmodel: error: --regimen")


# --- the library of the --params drug -------------------------------------------------------------


def test_the_library_is_the_params_drugs(capsys):
    code, out, err = run(capsys, "regimens", "--params", "mildronate")
    assert (code, err) == (0, "") and "\nalcohol-withdrawal  [" in out
    code, every, err = run(capsys, "regimens", "--params", "none")  # every drug's library
    assert (code, err, every) == (0, "", out)
    # theophylline's parameter file names no library: its own regimens are written out.
    one_line_error(*run(capsys, "regimens", "--params", "theophylline"), "--params", "theophylline", "no regimen library")
    one_line_error(
        *run(capsys, "simulate", "--params", "theophylline", "--regimen", "alcohol-withdrawal"), "--params", "mildronate"
    )
    code, out, err = run(capsys, "simulate", "--params", "theophylline", "--regimen", "300 mg PO q12h x 4")
    assert (code, err) == (0, "") and "library:" not in out
