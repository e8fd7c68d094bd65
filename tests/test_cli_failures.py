"""The command fails cleanly: one line and exit 2 for anything wrong with the input or the files,
130 for Ctrl-C and 143 for SIGTERM, and nothing left behind (no temporary file, no new folder, an
existing output unchanged). Each reproduction of issue 7 item 3/6 is a test here; most run
in-process through ``main(argv)``, a few as real processes (signals, another user)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pkmodel.interfaces.cli
from pkmodel.interfaces.cli import main

# A small, fast simulation: 4 doses, 73 output times.
FAST = ["simulate", "--dose", "500 mg", "--interval", "12 h", "--doses", "4", "--until", "3 d", "--step", "1 h"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code, out, err, option=None):
    assert code == 2, (code, err)
    assert out == ""
    assert err.startswith("pkmodel: error:") and err.endswith("\n") and len(err.splitlines()) == 1, err
    if option is not None:
        assert err.startswith(f"pkmodel: error: {option}"), err


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


# --- output paths --------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--csv", "--plot"])
def test_an_empty_file_name_is_reported_as_empty(tmp_path, capsys, monkeypatch, option):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *FAST, option, "")
    assert_one_error_line(code, out, err, option)
    assert f"{option}: got ''; a file name is needed" in err  # not "got '.'"
    assert tree(tmp_path) == []


def broken_plot(sim, path, fmt, **options):
    with open(path, "wb") as f:
        f.write(b"half a picture")
    raise OSError(28, "No space left on device")


def test_a_failing_output_removes_the_folders_the_command_created(tmp_path, capsys, monkeypatch):
    (tmp_path / "old").mkdir()
    monkeypatch.setattr(pkmodel.interfaces.cli, "_save_plot", broken_plot)
    csv, png = tmp_path / "new" / "deep" / "x.csv", tmp_path / "old" / "more" / "x.png"
    code, out, err = run(capsys, *FAST, "--csv", str(csv), "--plot", str(png))
    assert_one_error_line(code, out, err, "--plot")
    assert err.endswith("cannot write the file (No space left on device)\n")
    assert tree(tmp_path) == ["old"]  # new/, new/deep/ and old/more/ are gone, old/ stays


def test_a_bug_is_still_a_traceback_but_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    def buggy(sim, path, fmt, **options):
        raise ZeroDivisionError("a bug, not bad input")

    monkeypatch.setattr(pkmodel.interfaces.cli, "_save_plot", buggy)
    with pytest.raises(ZeroDivisionError):
        main([*FAST, "--csv", str(tmp_path / "a" / "x.csv"), "--plot", str(tmp_path / "b" / "x.png")])
    assert tree(tmp_path) == []


def test_a_file_where_a_folder_should_be(tmp_path, capsys):
    (tmp_path / "file").write_text("I am a file\n")
    code, out, err = run(capsys, *FAST, "--csv", str(tmp_path / "file" / "sub" / "x.csv"))
    assert_one_error_line(code, out, err, "--csv")
    assert str(tmp_path / "file" / "sub") in err  # the folder that cannot be made, named whole
    assert tree(tmp_path) == ["file"] and (tmp_path / "file").read_text() == "I am a file\n"


# --- input files -----------------------------------------------------------------------------------


def test_params_that_are_not_text_or_refer_to_a_missing_file(tmp_path, capsys):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff" * 10)
    code, out, err = run(capsys, *FAST, "--params", str(binary))
    assert_one_error_line(code, out, err, "--params")
    assert "UTF-8" in err
    labelled = tmp_path / "labelled.toml"
    labelled.write_text('[model]\nname = "x"\npopulations = "no-such-label"\n[parameters]\ncl = 5.0\nv1 = 20.0\n')
    code, out, err = run(capsys, "simulate", "--params", str(labelled), "--dose", "500 mg", "--route", "iv")
    assert_one_error_line(code, out, err)
    assert "no-such-label" in err


NOBODY = 65534


def run_as_another_user(argvs, cwd):
    """Run ``main(argv)`` for each argv in a process of an unprivileged user (root reads and writes
    everywhere, so the permission errors need another uid); returns [(code, out, err)]."""
    driver = textwrap.dedent(
        """
        import contextlib, io, json, sys
        from pkmodel.interfaces.cli import main
        results = []
        for argv in json.loads(sys.argv[1]):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
            results.append((code, out.getvalue(), err.getvalue()))
        print(json.dumps(results))
        """
    )
    command = [sys.executable, "-c", driver, json.dumps(argvs)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: no other user to be")
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    env = {**os.environ, "MPLCONFIGDIR": str(cwd), "HOME": str(cwd)}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return [tuple(r) for r in json.loads(done.stdout)]


@pytest.fixture
def shared_dir():
    """A folder another user can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="pkmodel-test-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder)


def test_permission_errors_are_one_line_naming_the_option_and_path(shared_dir):
    locked = shared_dir / "locked"  # read-only for its owner, not writable by anyone else
    locked.mkdir(mode=0o500)
    secret = shared_dir / "secret.toml"
    secret.write_text('[model]\nname = "s"\n[parameters]\ncl = 5.0\nv1 = 20.0\n')
    secret.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(locked, 0, 0)
        os.chown(secret, 0, 0)
    existing = locked / "kept.csv"
    cases = {
        "--csv": [*FAST, "--csv", str(locked / "new" / "deep" / "x.csv")],
        "--plot": [*FAST, "--plot", str(locked / "x.png")],
        "--params": [*FAST, "--params", str(secret)],
    }
    if os.geteuid() == 0:
        cases["--csv "] = [*FAST, "--csv", "/root/x.csv"]  # root's home is closed to others
    results = run_as_another_user(list(cases.values()), shared_dir)
    for (option, argv), (code, out, err) in zip(cases.items(), results, strict=True):
        assert_one_error_line(code, out, err, option.strip())
        assert argv[-1] in err and "Permission denied" in err, err
    assert not existing.exists() and tree(locked) == []


# --- signals ---------------------------------------------------------------------------------------

SLOW_WRITER = textwrap.dedent(
    """
    import signal, sys, time
    import pkmodel.interfaces.cli

    # Ctrl-C as in a terminal: a test run started as a shell's background job inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def slow(sim, path):
        with open(path, "w") as f:
            f.write("time_h,conc_mg_L\\n0,")
            f.flush()
        time.sleep(120)

    pkmodel.interfaces.cli._write_csv = slow
    sys.exit(pkmodel.interfaces.cli.main(sys.argv[1:]))
    """
)


def interrupt_while_writing(tmp_path, target, signum):
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, *FAST, "--csv", str(target), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.rglob("*.part")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the writer never started"
            time.sleep(0.05)
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out, err


def test_sigterm_while_writing_removes_the_staged_file_and_new_folders(tmp_path):
    code, out, err = interrupt_while_writing(tmp_path, tmp_path / "new" / "deep" / "x.csv", signal.SIGTERM)
    assert (code, out, err) == (143, "", "pkmodel: terminated\n")
    assert tree(tmp_path) == []


def test_ctrl_c_while_writing_leaves_the_old_file(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("old\n")
    code, out, err = interrupt_while_writing(tmp_path, target, signal.SIGINT)
    assert (code, out, err) == (130, "", "pkmodel: interrupted\n")
    assert tree(tmp_path) == ["x.csv"] and target.read_text() == "old\n"


def test_a_signal_waits_while_a_staged_file_is_recorded_whatever_thread_receives_it():
    import threading

    from pkmodel import files

    # A second thread that does not block the signal, as numpy's BLAS threads: the system may hand
    # a signal sent to the process to it, and Python then interrupts the main thread anyway.
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with files._signals_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)  # an unheld signal interrupts here
                reached.append("the end of the held block")
    finally:
        signal.signal(signal.SIGINT, previous)
        stop.set()
        other.join()
    assert reached == ["the end of the held block"]


@pytest.mark.parametrize(("signum", "code", "line"), [(signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGTERM, 143, "terminated")])
def test_signals_in_process(tmp_path, capsys, monkeypatch, signum, code, line):
    def interrupted(sim, path):
        Path(path).write_text("half")
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler raises long before this ends
        raise AssertionError("the signal was not delivered")

    monkeypatch.setattr(pkmodel.interfaces.cli, "_write_csv", interrupted)
    before = signal.getsignal(signal.SIGTERM)
    # Ctrl-C as in a terminal, even when the test run inherited SIGINT ignored (a background job).
    sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert run(capsys, *FAST, "--csv", str(tmp_path / "a" / "b.csv")) == (code, "", f"pkmodel: {line}\n")
    finally:
        signal.signal(signal.SIGINT, sigint)
    assert tree(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is before  # main() puts the old handler back


# --- long values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--dose", "--cl", "--age", "--csv", "--params", "--variant", "--route", "--doses"])
def test_a_huge_value_gives_a_short_line(tmp_path, capsys, option):
    huge = "7" + "x" * 100_000 + ".csv"
    argv = [*FAST, option, huge]
    if option == "--variant":
        argv = ["simulate", "--regimen", "alcohol-withdrawal", "--variant", huge]
    code, out, err = run(capsys, *argv)
    assert_one_error_line(code, out, err)
    assert option in err  # argparse's own errors say "argument --route: ..."
    assert len(err) < 400, len(err)
    assert "…" in err and err.count("x") < 200


# --- fuzz ----------------------------------------------------------------------------------------

MODEL_OPTIONS = {  # option -> (typical value in its first unit, its units)
    "--cl": (6.0, ["L/h", "mL/min", "L/min"]),
    "--v1": (50.0, ["L", "mL"]),
    "--q": (0.5, ["L/h", "mL/min"]),
    "--v2": (7.0, ["L", "mL"]),
    "--ka": (2.0, ["1/h", "/min", "d-1"]),
    "--tlag": (0.25, ["h", "min"]),
    "--dose": (500.0, ["mg", "g", "µg"]),
    "--interval": (12.0, ["h", "min", "d"]),
    "--duration": (0.5, ["h", "min"]),
    "--until": (72.0, ["h", "d"]),
    "--step": (1.0, ["h", "min"]),
}
PATIENT_OPTIONS = {
    "--age": ["", " y", " years"],
    "--weight": ["", " kg"],
    "--scr": [" mg/dL", " µmol/L", " μmol/l", " mg"],
    "--crcl": [" mL/min", " L/h"],
}
CHOICES = {
    "--params": ["mildronate", "none", "aspirin", "/", ".", "-", "params/mildronate.toml"],
    "--route": ["iv", "oral", "IV", "sc", ""],
    "--sex": ["female", "male", "f", "M", "other", ""],
    "--egfr-category": ["normal", "mild", "G3a", "G6", "kidney failure", ""],
    "--child-pugh": ["A", "B", "C", "D", "a", ""],
    "--suggest-dose": ["auc", "cmax", "tmax"],
    "--regimen": ["alcohol-withdrawal", "500 mg PO bid for 3 days", "1 g IV q24h x 3", "no-such", "500 mg PO"],
    "--variant": ["low", "high", "none"],
    "--doses": ["1", "3", "0", "-1", "2.5", "1e3", "x"],
    "--over": ["2 d", "3 h", "0 d", "-1 d"],
}
# Numbers no option accepts, or boundaries: the command must refuse each in one line.
ODD_NUMBERS = ["0", "-0", "-1", "nan", "inf", "-inf", "1e309", "1_000", "١٢", ".", "e5", "5e", "+-5", "0x1A", "1e-320"]
ODD_TEXT = ["", " ", "-", "--dose", "500 mg mg", "500 Mg", "500\u00a0mg", "500 mg; rm -rf /", "\x00", "\u202e500 mg"]


@st.composite
def option_values(draw):
    """(option, value) pairs: junk, odd numbers with any unit, and numbers within a factor of
    30 of a typical value (extreme values past that meet simulate()'s size limits, tested below)."""
    option = draw(st.sampled_from(sorted({*MODEL_OPTIONS, *PATIENT_OPTIONS, *CHOICES, "--f"})))
    units = [" " + u for u in MODEL_OPTIONS.get(option, (0, []))[1]] or PATIENT_OPTIONS.get(option, [""])
    kind = draw(st.sampled_from(["junk", "odd", "scaled", "choice"]))
    if kind == "junk":
        value = draw(st.one_of(st.text(max_size=30), st.sampled_from(ODD_TEXT)))
    elif kind == "odd":
        value = draw(st.sampled_from(ODD_NUMBERS)) + draw(st.sampled_from([*units, "", " furlongs", "%"]))
    elif kind == "scaled" and option in MODEL_OPTIONS:
        typical, names = MODEL_OPTIONS[option]
        value = f"{typical * 30 ** draw(st.floats(-1, 1)):.4g} {names[0]}"
    elif kind == "scaled" and option in PATIENT_OPTIONS:
        value = f"{draw(st.floats(-5, 1200)):.4g}{draw(st.sampled_from(units))}"
    elif kind == "scaled" and option == "--f":
        value = draw(st.sampled_from([f"{draw(st.floats(-0.5, 1.5)):.3g}", f"{draw(st.floats(-10, 150)):.3g} %"]))
    else:
        value = draw(st.sampled_from(CHOICES.get(option, ["1"])))
    return option, value


def fuzzed_argv(pairs, flags):
    argv = list(FAST)
    for option, value in pairs:
        if option in argv:
            argv[argv.index(option) + 1] = value  # replace the base value
        else:
            argv += [option, value]
    return argv + flags


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.lists(option_values(), min_size=1, max_size=3),
    flags=st.lists(st.sampled_from(["--quiet", "--pregnant", "--breastfeeding"]), unique=True, max_size=2),
)
def test_fuzzed_options_exit_0_or_one_error_line_and_keep_the_old_file(tmp_path, capsys, pairs, flags):
    target = tmp_path / "kept.csv"
    target.write_text("old\n")
    before = tree(tmp_path)
    argv = fuzzed_argv(pairs, flags) + ["--csv", str(target)]
    code, out, err = run(capsys, *argv)
    event(f"exit {code}")
    if code == 0:
        assert target.read_text().startswith("time_h,conc_mg_L")
        assert all(line.startswith("pkmodel: warning:") for line in err.splitlines()), err
    else:
        assert_one_error_line(code, out, err)
        assert target.read_text() == "old\n"
    assert tree(tmp_path) == before


segment = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    folders=st.lists(segment.filter(lambda s: s not in (".", "..")), max_size=3),
    name=st.one_of(segment, st.just("")),
    suffix=st.sampled_from([".csv", ".CSV", ".txt", "", ". csv", ".csv ", ".jpg"]),
    option=st.sampled_from(["--csv", "--plot"]),
)
def test_fuzzed_output_paths(tmp_path, capsys, monkeypatch, folders, name, suffix, option):
    """Random relative paths inside a fresh folder: written, or one line and the folder unchanged."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.chdir(work)
    path = os.path.join(*folders, name + suffix) if folders else name + suffix
    code, out, err = run(capsys, *FAST, "--quiet", option, path)
    if code == 0:
        assert option == "--csv" and (work / path).read_text().startswith("time_h,conc_mg_L")
    else:
        assert_one_error_line(code, out, err)
        assert option in err  # "--csv: ...", or argparse's "argument --csv: ..." for a value like "-.csv"
        assert tree(work) == []


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(option_values(), min_size=1, max_size=2))
def test_fuzzed_options_in_a_real_process(tmp_path, pairs):
    pairs = [(o, v.replace("\x00", "")) for o, v in pairs]  # a process argument cannot hold NUL
    target = tmp_path / "kept.csv"
    target.write_text("old\n")
    argv = fuzzed_argv(pairs, ["--quiet"]) + ["--csv", str(target)]
    done = subprocess.run([sys.executable, "-m", "pkmodel", *argv], capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=120, check=False)
    assert "Traceback" not in done.stderr
    if done.returncode == 0:
        assert target.read_text().startswith("time_h,conc_mg_L")
    else:
        assert_one_error_line(done.returncode, done.stdout, done.stderr)
        assert target.read_text() == "old\n"
    assert tree(tmp_path) == ["kept.csv"]


# Inputs issue 7 found exhausting the machine or ending in a numpy error; simulate()'s size and
# time guards refuse them (the command needs no copy of those limits).
EXTREME = [
    ["--cl", "1e-300 L/h"],
    ["--v1", "1e12 L"],
    ["--q", "1e300 L/h"],
    ["--v2", "1e-300 L"],
    ["--tlag", "1e300 h"],
    ["--doses", "10000000"],
    ["--interval", "1 s", "--over", "4 weeks"],
]


@pytest.mark.parametrize("extra", EXTREME, ids=[" ".join(e) for e in EXTREME])
def test_extreme_values_are_refused_before_they_exhaust_the_machine(tmp_path, extra):
    base = ["simulate", "--dose", "500 mg", "--interval", "12 h"]
    argv = [*base, *extra] if "--interval" in extra else [*base, "--doses", "4", *extra]
    if "--interval" in extra:
        argv = ["simulate", "--dose", "500 mg", *extra]
    limit = "ulimit -v 4000000; exec \"$0\" \"$@\""  # 4 GB of address space: a failure, not a frozen machine
    done = subprocess.run(["sh", "-c", limit, sys.executable, "-m", "pkmodel", *argv, "--csv", str(tmp_path / "x.csv")],
                          capture_output=True, text=True, encoding="utf-8", timeout=60, check=False)
    assert_one_error_line(done.returncode, done.stdout, done.stderr)
    assert tree(tmp_path) == []


def test_a_closed_output_pipe_ends_quietly():
    """pkmodel regimens | head: the reader goes away; no BrokenPipeError traceback."""
    process = subprocess.Popen([sys.executable, "-m", "pkmodel", "regimens"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()  # before the command (still importing) has written anything
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=120) == 141
    assert err == b""
