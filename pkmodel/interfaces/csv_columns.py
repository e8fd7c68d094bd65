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

from pkmodel.errors import PKModelError

# Rows converted to Python values at a time: the whole table as Python objects would take about
# 30 bytes per cell on top of the arrays.
_ROWS_PER_CHUNK = 1 << 16


def write_columns(path: str, columns: Mapping[str, np.ndarray]) -> None:
    """Write ``columns`` (name -> 1-D array, all of one length: floats, integers or booleans) to the
    file ``path`` as CSV text, header first, as pandas' ``to_csv(index=False)`` writes them."""
    arrays = [np.asarray(column) for column in columns.values()]
    for name, a in zip(columns, arrays, strict=True):
        # Text fields might need quoting, which the rows below do not do.
        if a.ndim != 1 or a.dtype.kind not in "biuf":
            raise PKModelError("columns", name, f"a 1-D array of numbers or booleans, not {a.dtype} of shape {a.shape}")
    n_rows = len(arrays[0]) if arrays else 0
    # The text of a number never needs quoting, so the rows are formatted directly (the csv
    # writer takes a third longer); only the header's names, and a row of one empty field (NaN in
    # a one-column table, which csv writes as ""), go through it.
    line = ",".join(["%s"] * len(arrays)) + "\n"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(list(columns))
        for start in range(0, n_rows, _ROWS_PER_CHUNK):
            rows = zip(*(_values(a[start : start + _ROWS_PER_CHUNK]) for a in arrays), strict=True)
            if len(arrays) == 1:
                writer.writerows(rows)
            else:
                file.write("".join([line % row for row in rows]))


def _values(array: np.ndarray) -> list[object]:
    """The fields of one column: Python numbers, whose str is their text in the file (a float's
    str is its repr), with NaN as an empty field as pandas writes it."""
    # A float32 as a Python float would show its float64 digits (0.10000000149011612): numpy's
    # own text of it is pandas' too.
    narrow = array.dtype.kind == "f" and array.dtype != np.float64
    values: list[object] = array.astype(str).tolist() if narrow else array.tolist()
    if array.dtype.kind == "f":
        for i in np.flatnonzero(np.isnan(array)).tolist():
            values[i] = ""
    return values
