"""Regimens written as text: "500 mg IV q12h x 14 d", "1 g PO bid at 08:00,14:00 for 10 days".

mrgsolve's ``ev_rx`` reads such text with regular expressions and silently drops words it does
not know ("100 mg q 24" loses "mg"). Here a tokenizer (:mod:`pkmodel.dosing.words`) and a small
recursive-descent parser (this module) read every word: a word that fits nowhere raises
:class:`PKModelError` quoting it, giving its word number and character position and saying what
was expected there. Every number + unit goes
through :func:`pkmodel.units.parse_quantity`.

Layers: this module is the *syntax* layer and imports nothing from regimen.py (imports point
downwards). :func:`read_plan` turns text into a plan: immutable steps in postfix order, each a
constructor call (:class:`Part`: ``Regimen.single``, ``repeated`` or ``daily`` with its
arguments) or a combination of the two regimens before it (:class:`Then`, :class:`Plus`).
:meth:`pkmodel.dosing.regimen.Regimen.parse` carries the steps out with its own constructors,
``then`` and ``+``, so text and code give identical doses; an error they raise is handed back to
the step (``step.refuse(err)``), which reports it at the step's words. The steps come one at a
time, so a part that cannot be built is reported before the words after it are read.

Grammar (keywords and routes case-insensitive; dots in words ignored, so "p.o." is "po"; units are
read by units.py, which is case-sensitive except that time units have no case clash)::

    text      = chain { ("+" | "and") chain }                  both at once (Regimen + Regimen)
    chain     = part { "then" ["after" TIME] part }            sequence (Regimen.then, gap=TIME)
    part      = NUMBER AMOUNT-UNIT route { [","] clause }      each clause kind at most once
    route     = "iv" | "intravenous" | "po" | "oral"
    clause    = frequency
              | ("x" | "×") NUMBER ["doses" | TIME-UNIT]       10 doses, or a length "x 14 d"
              | "for" NUMBER ("doses" | TIME-UNIT)             "for 6 weeks"
              | "over" TIME | "rate" RATE | "at" RATE           IV infusion length or rate (mg/h)
              | "loading" ["dose"] AMOUNT                      the first dose's amount (needs a frequency)
              | "at" CLOCK { ("," | "and") CLOCK }             clock times each day: Regimen.daily
              | ["from" | "at"] ("ss" | "steady state")        start at steady state
              | ("starting" | "start") ["at" | "from"] TIME | "from" TIME | "at" TIME
    frequency = ("q" | "every") [NUMBER] TIME-UNIT             q12h, q 12 h, every 12 h, every day
              | "daily" | "qd" | "bid" | "tid" | "qid" | "weekly"
              | (NUMBER ("times" | "x") | ("one".."six") "times" | "once" | "twice" | "thrice" ["times"])
                ("daily" | ("a" | "per") "day")                 "2 times a day", "twice daily"

"x" and "for" need a frequency (or clock times) before them; a frequency needs a length; "x 14 d"
at q12h is every dose that starts before 14 d (28 doses, Regimen.repeated's rule). Clock times
mean "daily" and must number as many as the frequency's doses a day. A part after "then" starts
where :meth:`Regimen.then` puts it: when the previous part's next dose is due, or, after a single
dose such as a loading dose, one of its own intervals later ("500 mg IV then 250 mg IV q12h x 5":
250 mg from 12 h); so it may not have its own start or clock times. A rate is the dose's rate, as
in NONMEM ("at 50 mg/h"), and infusions are IV only: "500 mg PO over 30 min" is refused.
Errors quote the words around the bad one, not the whole text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, NoReturn

from pkmodel.dosing.words import (
    ADVERBS,
    CONNECTORS,
    KEYWORDS,
    NUMBER_WORDS,
    PER_DAY,
    ROUTE_LIST,
    ROUTES,
    STEADY,
    Reader,
    Token,
    shorten,
)
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_DOSES
from pkmodel.units import parse_clock

_SLOTS = {
    "frequency": "the frequency", "length": "the length", "infusion": "the infusion length or rate",
    "clock": "the clock times", "ss": "steady state", "start": "the start",
}
_CLAUSES = (
    "a frequency (q12h, every 12 h, daily, bid, tid, qid, 2 times a day), a length ('x 10', 'x 14 d', "
    "'for 7 days'), 'over 30 min', 'at 50 mg/h', 'at 08:00,20:00', 'from steady state', "
    "'starting at 8 h', 'then', '+' or the end"
)


def read_plan(text: str) -> Iterator[Step]:
    """The steps that build the regimen written in ``text`` (grammar in the module docstring), in
    postfix order: a :class:`Then` or :class:`Plus` joins the two regimens built before it. A step
    is read only when the previous one has been taken, so whoever carries them out reports an
    earlier part's error before a later word's. The text is checked for being a non-empty string
    and tokenized here, before the first step."""
    if not isinstance(text, str):
        raise PKModelError("regimen", text, "expected a string such as '500 mg IV q12h x 14 d'")
    if not text.strip():
        raise PKModelError("regimen", text, "the text is empty: expected a regimen such as '500 mg IV q12h x 14 d'")
    return Parser(text).steps()


Fail = Callable[[str], NoReturn]
"""Refuses the text at a step's words with the given message (a bound ``Reader.fail_at``)."""


@dataclass(frozen=True)
class Part:
    """One regimen as written: ``Regimen.<constructor>(*args, **dict(kwargs))``. Amounts mg, times
    h, rates mg/h, clock times h after midnight, as the constructors take them."""

    constructor: Literal["single", "repeated", "daily"]
    args: tuple[object, ...]
    kwargs: tuple[tuple[str, object], ...]
    text: str  # the part as written
    fail: Fail = field(compare=False, repr=False)  # at the part's text

    def refuse(self, err: PKModelError) -> NoReturn:
        """The constructor refused the part (e.g. a dose past MAX_TIME_H): say which part."""
        self.fail(f"{err.field}: {err.allowed}")


@dataclass(frozen=True)
class Then:
    """``first.then(second, gap=gap)`` of the two regimens before it; ``gap`` h or None."""

    gap: float | None
    fail: Fail = field(compare=False, repr=False)  # at the word "then"

    def refuse(self, err: PKModelError) -> NoReturn:
        hint = " (write 'then after 12 h')" if err.field == "gap" else ""
        self.fail(f"{err.allowed}{hint}")


@dataclass(frozen=True)
class Plus:
    """``first + second`` of the two regimens before it (both at once)."""

    fail: Fail = field(compare=False, repr=False)  # at the "+" or "and"

    def refuse(self, err: PKModelError) -> NoReturn:
        """E.g. more doses than MAX_DOSES together."""
        self.fail(f"{err.allowed}")


Step = Part | Then | Plus


@dataclass
class _Clauses:
    """One part while it is read: the dose, the route and each clause (value, text, pos)."""

    amount: float
    pos: int = 0  # where the part starts in the text
    route: str = ""
    slots: dict[str, tuple[object, str, int]] = field(default_factory=dict)
    text: str = ""


class Parser(Reader):
    """The grammar of the module docstring, over the words :class:`Reader` reads."""

    def set(self, part: _Clauses, slot: str, value: object, start: int) -> None:
        first, last = self.tokens[start], self.tokens[self.i - 1]
        said = self.text[first.pos : last.pos + len(last.text)]
        if slot in part.slots:
            given = shorten(part.slots[slot][1])
            self.fail_at(said, first.pos, f"{_SLOTS[slot]} is already given by '{given}'; give it once")
        part.slots[slot] = (value, said, first.pos)

    # --- grammar ----------------------------------------------------------------------------------

    def steps(self) -> Iterator[Step]:
        yield from self.chain()
        while (plus := self.accept("+", "and")) is not None:  # chain() stops only at the end or here
            yield from self.chain()
            yield Plus(partial(self.fail_at, plus.text, plus.pos))

    def chain(self) -> Iterator[Step]:
        yield self.call(self.part())
        while (then := self.accept("then")) is not None:
            self.accept(",")
            # No "after": Regimen.then's default (after a single dose, one interval of the next part).
            gap = self.measure("time", "the break after 'then'", positive=False) if self.accept("after") else None
            self.accept(",")
            part = self.part()
            # Regimen.then moves the part to when the previous one's next dose is due: a start would
            # be ignored and clock times would stop being clock times. Say so rather than do it.
            if "start" in part.slots:
                _, said, pos = part.slots["start"]
                self.fail_at(said, pos, "a part after 'then' starts when the previous one ends; write 'then after 2 d'")
            if "clock" in part.slots:
                _, said, pos = part.slots["clock"]
                self.fail_at(said, pos, "after 'then' the doses would move off these clock times; write "
                             "'+ <dose> at <times> for <length> starting <whole days>' instead")
            yield self.call(part)
            yield Then(gap, partial(self.fail_at, then.text, then.pos))

    def part(self) -> _Clauses:
        first = self.number("a dose such as '500 mg' (a number, then a unit)")
        part = _Clauses(self.measure("amount", "the dose", first), first.pos)
        tok = self.peek()
        if tok is None or tok.key not in ROUTES:
            self.fail(tok, f"expected a route: {ROUTE_LIST}")
        part.route, route = ROUTES[tok.key], self.take()
        while (tok := self.peek()) is not None and tok.key not in CONNECTORS:
            start, k = self.i, self.take().key
            if k == ",":
                if self.peek() is None:
                    self.fail(None, "expected another clause after the ','")
                continue
            if k in ROUTES:
                self.fail(tok, f"the route is already given by '{route.text}'")
            elif k in ("q", "every"):
                implied = None if self.next_is("number") else "1"  # "every day" = "every 1 day"
                hours = self.measure("time", f"the interval after '{tok.text}'", implied)
                per_day = 24 / hours  # doses a day, needed only to check a list of clock times
                whole = math.isfinite(per_day) and per_day >= 0.5 and abs(per_day - round(per_day)) < 1e-9
                self.set(part, "frequency", (hours, round(per_day) if whole else None), start)
            elif k == "weekly":
                self.set(part, "frequency", (168.0, None), start)
            elif k in PER_DAY:
                self.set(part, "frequency", (24.0 / PER_DAY[k], PER_DAY[k]), start)
            elif tok.kind == "number" or k in ADVERBS or k in NUMBER_WORDS:
                n = self.times_a_day(tok)
                self.set(part, "frequency", (24.0 / n, n), start)
            elif k in ("x", "for"):
                self.set(part, "length", self.length(tok, part), start)
            elif k == "loading":
                self.accept("dose")
                self.set(part, "loading", self.measure("amount", "the loading dose"), start)
            elif k == "over":
                self.set(part, "infusion", {"duration": self.measure("time", "the infusion length")}, start)
            elif k == "rate":
                self.set(part, "infusion", {"rate": self.measure("infusion_rate", "the infusion rate")}, start)
            elif k == "at" and self.next_is("clock"):
                self.set(part, "clock", self.clocks(), start)
            elif k == "at" and self.is_unit(self.peek(1), "infusion_rate"):
                self.set(part, "infusion", {"rate": self.measure("infusion_rate", "the infusion rate")}, start)
            elif k in STEADY or (k in ("at", "from") and self.key() in STEADY):
                self.steady_state(tok if k not in ("at", "from") else self.take())
                self.set(part, "ss", True, start)
            elif k in ("at", "from", "start", "starting"):
                if k in ("start", "starting"):
                    self.accept("at", "from")
                what = f"the start time after '{tok.text}' (or clock times such as 08:00, or a rate such as 50 mg/h)"
                self.set(part, "start", self.measure("time", what, positive=False), start)
            else:
                self.fail(tok, f"expected {_CLAUSES}")
        last = self.tokens[self.i - 1]
        part.text = self.text[first.pos : last.pos + len(last.text)]
        return part

    def times_a_day(self, tok: Token) -> int:
        """'2 times a day', 'three times daily', 'twice daily', 'once a day': doses per day."""
        if tok.key in ADVERBS:
            n = ADVERBS[tok.key]
        else:
            n = NUMBER_WORDS[tok.key] if tok.kind == "word" else self.whole(tok, "the number of doses a day")
            if not self.accept("times", "x"):
                self.fail(self.peek(), f"expected 'times' after '{tok.text}' (as in '2 times a day')")
        if not self.accept("daily") and not (self.accept("a", "per") and self.accept("day")):
            self.fail(self.peek(), "expected 'daily' or 'a day' (as in 'twice daily' or '2 times a day')")
        return n

    def length(self, tok: Token, part: _Clauses) -> dict[str, float]:
        """After 'x' or 'for': a number of doses, or a treatment length."""
        if "frequency" not in part.slots and "clock" not in part.slots:  # clock times mean "daily"
            self.fail(tok, f"a frequency such as q12h (or clock times) is needed before '{tok.text}'")
        num = self.number(f"a number of doses or a treatment length after '{tok.text}', e.g. '{tok.text} 10 doses' "
                          f"or '{tok.text} 14 d'")
        unit = self.peek()
        # "x 10" ends where the next clause starts; "for 10" must say what 10 is.
        if self.key() in ("dose", "doses") or (
            tok.key == "x" and (unit is None or unit.kind != "word" or unit.key in KEYWORDS)
        ):
            self.accept("dose", "doses")
            return {"n_doses": self.whole(num, "the number of doses")}
        return {"over": self.measure("time", f"the treatment length after '{tok.text}' (or write 'doses')", num)}

    def clocks(self) -> list[float]:
        """'08:00, 14:00' or '08:00 and 20:00' (a ',' or 'and' not followed by a time ends it): hours
        after midnight."""
        times: list[float] = []
        while True:
            tok = self.take()
            try:
                time = parse_clock(tok.text, field="regimen")
            except PKModelError:
                self.fail(tok, "expected a clock time from 00:00 to 23:59")
            if time in times:
                self.fail(tok, "this clock time is already given")
            times.append(time)
            nxt = self.peek(1)
            if self.key() not in (",", "and") or nxt is None or nxt.kind != "clock":
                return times
            self.take()

    def steady_state(self, tok: Token) -> None:
        if tok.key == "steady" and not self.accept("state"):
            self.fail(self.peek(), "expected 'state' after 'steady'")

    # --- the constructor call -------------------------------------------------------------------

    def call(self, part: _Clauses) -> Part:
        """The Regimen constructor call that the clauses of ``part`` describe. Combinations the
        constructors would reject are checked here, so the message can point at the clause."""
        slots = {name: value for name, (value, _, _) in part.slots.items()}

        def fail(slot: str, message: str) -> NoReturn:
            _, said, pos = part.slots[slot]
            self.fail_at(said, pos, message)

        # Each slot holds its clause's own type (set() stores them as object); the ignores below
        # name that type where it is read back.
        infusion: dict = slots.get("infusion", {})  # type: ignore[assignment]
        length: dict = slots.get("length", {})  # type: ignore[assignment]
        start: float = slots.get("start", 0.0)  # type: ignore[assignment]
        if infusion and part.route == "oral":  # the constructors refuse it too; here we can point at it
            fail("infusion", "an infusion is an IV dose; write IV (a zero-order input into the depot is written "
                             "with Dose(..., route='oral', duration=...))")
        if "loading" in slots and ("frequency" not in slots or "clock" in slots):
            fail("loading", "a loading dose needs a frequency such as q12h, without clock times")
        if "loading" in slots and "ss" in slots:
            fail("loading", "a regimen that starts at steady state has no loading dose")
        if "clock" in slots:
            at: list[float] = slots["clock"]  # type: ignore[assignment]
            per_day = slots.get("frequency", (24.0, len(at)))[1]  # type: ignore[index]
            if per_day != len(at):
                means = f"{per_day} doses a day" if per_day else "no whole number of doses a day"
                given = f"{len(at)} clock time{'s' * (len(at) > 1)} given"
                fail("clock", f"{given}, but '{part.slots['frequency'][1]}' means {means}")
            if "ss" in slots:
                fail("ss", "steady state cannot be combined with clock times")
            if not length:
                fail("clock", "expected a length for the clock times, e.g. 'for 10 days' or 'x 20 doses'")
            if "n_doses" in length and length["n_doses"] % len(at):
                fail("length", f"with {len(at)} clock times a day, the number of doses must be a multiple of {len(at)}")
            if start % 24:
                fail("start", "with clock times, the start must be a whole number of days (e.g. 'starting 2 d')")
            if length.get("over", 0) / 24 > MAX_DOSES / len(at):
                fail("length", f"more than {MAX_DOSES} doses")
            span = {"days": length["n_doses"] // len(at)} if "n_doses" in length else length
            constructor: Literal["single", "repeated", "daily"] = "daily"
            args: tuple[object, ...] = (part.amount, tuple(at))
            kwargs = {"route": part.route, "start_day": int(start // 24), **span, **infusion}
        elif "frequency" in slots:
            interval = slots["frequency"][0]  # type: ignore[index]
            if not length:
                fail("frequency", "expected a length after it: 'x 10' (doses), 'x 14 d' or 'for 14 days'")
            if length.get("over", 0) / interval > MAX_DOSES:
                fail("length", f"more than {MAX_DOSES} doses at this frequency")
            constructor, args = "repeated", (part.amount, interval)
            kwargs = {"route": part.route, "start": start, "steady_state": "ss" in slots,
                      "loading": slots.get("loading"), **length, **infusion}
        else:
            if "ss" in slots:
                fail("ss", "steady state needs a frequency such as q12h")
            constructor, args = "single", (part.amount, part.route)
            kwargs = {"time": start, **infusion}
        return Part(constructor, args, tuple(kwargs.items()), part.text, partial(self.fail_at, part.text, part.pos))
