"""Error and warning classes raised by pkmodel.

Every invalid input raises :class:`PKModelError`, a :class:`ValueError`, whose message names the
field, the value that was given and what is allowed, so that a student can fix the call without
reading the source.
"""

from __future__ import annotations

from typing import Any


class PKModelError(ValueError):
    """Invalid input to pkmodel: the message names the field, the value and what is allowed."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: got {value!r}; {allowed}")


class PKModelWarning(UserWarning):
    """Base class of every warning pkmodel issues, so a notebook can filter them all at once."""
