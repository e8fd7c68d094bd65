"""The words of a regimen text: the tokenizer, its vocabulary and the reading of one token at a
time (numbers with their units, whole numbers, errors that point at a word).

:mod:`pkmodel.dosing.text` holds the grammar and builds on :class:`Reader`. Every number + unit is
read by :func:`pkmodel.units.parse_quantity`. Letters and digits are separate tokens, so "q12h"
reads exactly like "q 12 h"; dots inside words are ignored ("p.o." is "po").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_DOSES
from pkmodel.units import Kind, parse_quantity

# An error quotes this many characters either side of the bad word, not the whole text: a
# 100,000-character --regimen must not come back as a 200 KB error line.
_CONTEXT = 30
_LONGEST_WORD = 40  # a quoted word or clause longer than this is cut with "…"
_LONGEST_UNIT = 20  # longer than any unit units.py knows; a longer word is cut before it is quoted

# Only ASCII digits (as in units.py). Letters and digits are separate tokens, so "q12h" reads
# exactly like "q 12 h"; "/", "." and "-" may join letters ("mg/h", "p.o.", "steady-state").
TOKEN_PATTERN = re.compile(
    r"(?P<space>\s+)|(?P<clock>[0-9]{1,2}:[0-9]{2})|(?P<number>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
    r"|(?P<word>[^\W\d_]+(?:[./-][^\W\d_]+)*\.?)|(?P<punct>[,+×])"
)
ROUTES = {"iv": "iv", "intravenous": "iv", "po": "oral", "oral": "oral"}
ROUTE_LIST = "IV, intravenous, PO, p.o. or oral"
PER_DAY = {"daily": 1, "qd": 1, "bid": 2, "tid": 3, "qid": 4}
ADVERBS = {"once": 1, "twice": 2, "thrice": 3}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
CONNECTORS = {"then", "and", "+"}
# Words that start a clause: after "x 10" one of these means "10 doses", anything else a unit.
KEYWORDS = {
    *ROUTES, *PER_DAY, *ADVERBS, *NUMBER_WORDS, *CONNECTORS,
    "q", "every", "weekly", "x", "for", "over", "rate", "at", "from", "ss", "steady", "steady-state",
    "start", "starting", "after", "loading",
}
STEADY = ("ss", "steady", "steady-state")
_UNIT_OF = {"amount": "an amount unit", "time": "a time unit", "infusion_rate": "an infusion rate unit"}


@dataclass(frozen=True)
class Token:
    kind: str  # space is dropped; clock, number, word or punct
    text: str
    pos: int
    key: str  # what the grammar compares: lower case, without dots


class Reader:
    """The tokens of ``text`` read one at a time: the grammar (:class:`pkmodel.dosing.text.Parser`)
    asks for the next word, a number, a number with its unit, and refuses the text at a word."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i = text, [], 0
        pos = 0
        while pos < len(text):
            m = TOKEN_PATTERN.match(text, pos)
            if m is None:
                self.fail_at(text[pos], pos, "unexpected character; expected words, numbers, clock times, ',' or '+'")
            if m.lastgroup != "space":
                key = m.group().lower().replace(".", "") if m.lastgroup == "word" else m.group().replace("×", "x")
                self.tokens.append(Token(m.lastgroup or "", m.group(), pos, key))
            pos = m.end()

    # --- reading tokens -----------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def key(self, ahead: int = 0) -> str | None:
        tok = self.peek(ahead)
        return tok.key if tok else None

    def take(self) -> Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def next_is(self, kind: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind

    def accept(self, *keys: str) -> Token | None:
        return self.take() if self.key() in keys else None

    def fail_at(self, word: str, pos: int, message: str) -> NoReturn:
        """Refuse the text at ``word`` (at character ``pos``): the error's value is the text around
        the word, not the whole text, and the word itself is cut if it is long."""
        number = len(re.findall(r"\S+", self.text[: pos + 1]))  # the user's words, not our tokens
        raise PKModelError(
            "regimen", _excerpt(self.text, pos, pos + len(word)),
            f"'{shorten(word)}' (word {number}, character {pos + 1}): {message}",
        )

    def fail(self, tok: Token | None, message: str) -> NoReturn:
        if tok is None:  # the text ended too early: point at its last word
            last = self.tokens[-1]
            self.fail_at(last.text, last.pos, f"the text ends after it; {message}")
        self.fail_at(tok.text, tok.pos, message)

    def number(self, expected: str) -> Token:
        tok = self.peek()
        if tok is None or tok.kind != "number":
            self.fail(tok, f"expected {expected}")
        return self.take()

    def whole(self, tok: Token, what: str) -> int:
        if "." in tok.text or not 1 <= float(tok.text) <= MAX_DOSES:  # float() first: no 5000-digit int()
            self.fail(tok, f"{what} must be a whole number from 1 to {MAX_DOSES}")
        return int(tok.text)

    def measure(self, kind: Kind, what: str, num: Token | str | None = None, *, positive: bool = True) -> float:
        """NUMBER UNIT of ``kind``, read by units.py. ``num``: the number token, already taken, or
        the number a text may leave out ("every day" is "every 1 day"); None: read it here."""
        if num is None:
            num = self.number(f"a number for {what}")
        count = num if isinstance(num, str) else num.text
        unit = self.peek()
        written = unit.text.rstrip(".") if unit is not None and unit.kind == "word" else ""
        if len(written) > _LONGEST_UNIT:  # not a unit; cut it so units.py's message stays short
            written = written[: _LONGEST_UNIT - 1] + "…"
        try:
            value = parse_quantity(f"{count} {written}", kind, field="regimen")
        except PKModelError as err:
            try:  # no two time units differ only by case, so "Q12H" and "14 D" are safe to read
                if kind != "time":
                    raise
                value = parse_quantity(f"{count} {written.lower()}", "time", field="regimen")
            except PKModelError:
                if self.is_unit(unit, kind):  # the unit is fine; the number is not (e.g. too large)
                    self.fail(unit if isinstance(num, str) else num, f"{what}: {err.allowed}")
                self.fail(unit, f"expected {_UNIT_OF[kind]} for {what}; {err.allowed}")
        if positive and not value > 0:
            self.fail(unit if isinstance(num, str) else num, f"{what} must be more than 0")
        self.take()
        return value

    def is_unit(self, tok: Token | None, kind: Kind) -> bool:
        try:
            return tok is not None and tok.kind == "word" and bool(
                parse_quantity(f"1 {tok.text.rstrip('.')}", kind, field="regimen")
            )
        except PKModelError:
            return False


def shorten(word: str) -> str:
    return word if len(word) <= _LONGEST_WORD else word[: _LONGEST_WORD - 1] + "…"


def _excerpt(text: str, start: int, end: int) -> str:
    """The text around characters [start, end): _CONTEXT characters either side, a long bad word
    cut to _LONGEST_WORD, and "…" where the text goes on."""
    end = min(end, start + _LONGEST_WORD)
    left, right = max(0, start - _CONTEXT), min(len(text), end + _CONTEXT)
    return ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")
