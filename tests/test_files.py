"""pkmodel.files.write_files: all outputs or none, nothing left behind, errors naming the path."""

import os
import stat

import pytest

from pkmodel import PKModelError
from pkmodel.files import write_files


def text(content):
    def write(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)

    return write


def failing(path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("half")
    raise OSError(28, "No space left on device")


def tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_writes_every_output_and_creates_missing_folders(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "new" / "deep" / "b.txt"
    write_files([("first", a, text("A")), ("second", str(b), text("B"))])
    assert a.read_text() == "A" and b.read_text() == "B"
    assert tree(tmp_path) == ["a.txt", "new", "new/deep", "new/deep/b.txt"]


def test_a_new_file_has_the_usual_permissions_and_a_replaced_one_keeps_its_own(tmp_path):
    umask = os.umask(0o022)
    try:
        new, old = tmp_path / "new.txt", tmp_path / "old.txt"
        old.write_text("old")
        old.chmod(0o640)
        write_files([("new", new, text("1")), ("old", old, text("2"))])
    finally:
        os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o644  # 0o666 less the umask, not mkstemp's 0o600
    assert stat.S_IMODE(old.stat().st_mode) == 0o640 and old.read_text() == "2"


def test_a_failure_leaves_every_target_as_it_was(tmp_path):
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    outputs = [("first", kept, text("new")), ("second", tmp_path / "x" / "y" / "z.txt", failing)]
    with pytest.raises(PKModelError) as err:
        write_files(outputs)
    assert (err.value.field, err.value.value) == ("second", str(tmp_path / "x" / "y" / "z.txt"))
    assert err.value.allowed == "cannot write the file (No space left on device)"
    assert tree(tmp_path) == ["kept.txt"] and kept.read_text() == "old"  # no x/, x/y/, no .part


@pytest.mark.parametrize("exception", [KeyboardInterrupt, ZeroDivisionError])
def test_other_exceptions_pass_through_after_the_clean_up(tmp_path, exception):
    def interrupted(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("half")
        raise exception

    with pytest.raises(exception):
        write_files([("out", tmp_path / "a" / "b.txt", interrupted)])
    assert tree(tmp_path) == []


def test_folders_that_existed_or_hold_other_files_are_kept(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(PKModelError):
        write_files([("out", tmp_path / "a" / "b" / "c.txt", failing)])
    assert tree(tmp_path) == ["a"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("", "a file name is needed"), (".", "is a folder"), (42, "a file path")],
)
def test_bad_paths_are_refused_before_anything_is_written(tmp_path, monkeypatch, path, allowed):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PKModelError, match=allowed):
        write_files([("out", tmp_path / "first.txt", text("1")), ("path", path, text("2"))])
    assert tree(tmp_path) == []


def test_a_file_in_the_way_of_a_folder(tmp_path):
    (tmp_path / "f").write_text("file")
    with pytest.raises(PKModelError, match=r"^out: got '.*'; cannot create the folder .*f/g \(Not a directory\)"):
        write_files([("out", tmp_path / "f" / "g" / "h.txt", text("1"))])
    assert tree(tmp_path) == ["f"]
