"""Error and warning classes raised by pkmodel.

Every invalid input raises :class:`PKModelError`, a :class:`ValueError`, whose message names the
field, the value that was given and what is allowed, so that a student can fix the call without
reading the source.
"""

from __future__ import annotations

from typing import Any

#: Longest ``repr`` of a value quoted in a message; a longer one keeps its start and end.
MAX_SHOWN = 80


def shown(value: Any) -> str:
    """``repr(value)`` for a message, at most :data:`MAX_SHOWN` characters: a longer one keeps
    its start and end around an ellipsis, so that a 100,000-character input gives a short line
    that still shows where the value begins and ends."""
    text = repr(value)
    if len(text) <= MAX_SHOWN:
        return text
    head = (MAX_SHOWN - 1) // 2
    tail = MAX_SHOWN - 1 - head
    return f"{text[:head]}\N{HORIZONTAL ELLIPSIS}{text[-tail:]}"


class PKModelError(ValueError):
    """Invalid input to pkmodel: the message names the field, the value and what is allowed.

    ``value`` is kept whole; the message quotes it shortened by :func:`shown`."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: got {shown(value)}; {allowed}")


class PKModelWarning(UserWarning):
    """Base class of every warning pkmodel issues, so a notebook can filter them all at once."""
