"""Every Python block of README.md runs on its own (a fresh namespace each), as a reader would
paste it."""

import re
from pathlib import Path

import matplotlib
import pytest

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_there_are_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs_on_its_own(code):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        plt.close("all")
