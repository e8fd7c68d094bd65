"""figures/make_figures.py (``make figures``) draws the README's gallery: every figure is written,
is a PNG, is committed in docs/figures and is shown in the README."""

import importlib.util
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "figures" / "make_figures.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_writes_every_gallery_figure(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "SUBJECTS", 20)  # the band figure's population, small for speed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = script.main(tmp_path / "gallery")
    assert [p.name for p in written] == [f"{name}.png" for name in script.FIGURES]
    assert 4 <= len(written) <= 6
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_gallery_is_committed_and_shown_in_the_readme():
    script = load_script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in script.FIGURES:
        assert (ROOT / "docs" / "figures" / f"{name}.png").is_file()
        assert f"docs/figures/{name}.png" in readme
