"""Columns of numpy arrays written as CSV text, byte for byte what pandas writes for the same
table with ``DataFrame.to_csv(path, index=False)``, without importing pandas (0.4 s of the
command's start-up).

What pandas writes, and so this module: a header of the column names, then one line per row,
fields separated by "," and lines ended by "\\n", quoted only where a field needs it (the
standard library's :mod:`csv`, which pandas uses too); a float as its shortest repr (``0.0``,
``1e-05``, ``1234567.0``; pandas formats float64 with ``numpy.ndarray.astype(str)``, which is
the same text), NaN as an empty field, an integer as its digits.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping

import numpy as np

# Rows converted to Python values at a time: the whole table as Python objects would take about
# 30 bytes per cell on top of the arrays.
_ROWS_PER_CHUNK = 1 << 16


def write_columns(path: str, columns: Mapping[str, np.ndarray]) -> None:
    """Write ``columns`` (name -> 1-D array, all of one length: floats, integers or booleans) to the
    file ``path`` as CSV text, header first, as pandas' ``to_csv(index=False)`` writes them."""
    arrays = [np.asarray(column) for column in columns.values()]
    n_rows = len(arrays[0]) if arrays else 0
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(list(columns))
        for start in range(0, n_rows, _ROWS_PER_CHUNK):
            chunk = [_values(a[start : start + _ROWS_PER_CHUNK]) for a in arrays]
            writer.writerows(zip(*chunk, strict=True))


def _values(array: np.ndarray) -> list[object]:
    """The fields of one column: Python numbers, whose str (repr for floats) the csv writer
    writes, with NaN as an empty field as pandas writes it."""
    # A float32 as a Python float would show its float64 digits (0.10000000149011612): numpy's
    # own text of it is pandas' too.
    narrow = array.dtype.kind == "f" and array.dtype != np.float64
    values: list[object] = array.astype(str).tolist() if narrow else array.tolist()
    if array.dtype.kind == "f":
        for i in np.flatnonzero(np.isnan(array)).tolist():
            values[i] = ""
    return values
