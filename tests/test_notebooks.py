"""Every notebook in notebooks/ runs top to bottom (executed with nbclient, outputs discarded), and
the notebooks form a course: numbered in reading order, each with exercises."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_notebooks_are_numbered_in_reading_order():
    numbers = [re.match(r"(\d\d)-[a-z0-9-]+\.ipynb$", p.name) for p in NOTEBOOKS]
    assert all(numbers), [p.name for p, m in zip(NOTEBOOKS, numbers, strict=True) if not m]
    assert [int(m.group(1)) for m in numbers] == list(range(1, len(NOTEBOOKS) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_exercises_and_no_stored_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert any(c.cell_type == "markdown" and "Try it yourself" in c.source for c in nb.cells)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for cell in nb.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
