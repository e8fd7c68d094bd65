"""PKModelError quotes a value at most MAX_SHOWN characters long and keeps the value whole."""

import numpy as np
import pytest

from pkmodel.errors import MAX_SHOWN, PKModelError, shown


@pytest.mark.parametrize("value", ["500 mg", 7.5, None, [1, 2], "x" * (MAX_SHOWN - 2)])
def test_a_short_value_is_quoted_as_its_repr(value):
    assert str(PKModelError("dose", value, "must be > 0")) == f"dose: got {value!r}; must be > 0"


def test_a_long_value_keeps_its_start_and_end():
    value = "start" + "-" * 100_000 + "end"
    err = PKModelError("--regimen", value, "unknown word")
    quoted = shown(value)
    assert len(quoted) == MAX_SHOWN
    assert quoted.startswith("'start---") and quoted.endswith("---end'") and quoted.count("…") == 1
    assert str(err) == f"--regimen: got {quoted}; unknown word"
    assert len(str(err)) < 120  # not a 200 KB line
    assert err.value is value  # the value itself is intact for code that reads it


def test_other_long_values_are_shortened_too():
    err = PKModelError("times", list(range(10_000)), "must be sorted")
    assert len(str(err)) < 120 and str(err).startswith("times: got [0, 1, 2")
    assert len(shown(np.arange(10.0))) <= MAX_SHOWN
