"""One regimen-library file: a drug's label dosing sentences, read and checked into
:class:`Library` values whose variants are ready-made :class:`Regimen` values.

A file (e.g. ``params/mildronate-regimens.toml``, which ``params/mildronate.toml`` names with
``[model] regimens``) holds one ``[[regimen]]`` table per indication with its ``name``,
``indication``, ``source``, the exact ``quote`` it comes from, its ``max_daily_dose`` and ``notes``,
and ``variants`` ("low", "high", ...) that keep the source's ranges instead of a midpoint. The
file's header describes a variant's keys. The whole file is checked on every read: a bad entry
raises :class:`PKModelError` naming the regimen and the key. Amounts in mg, times in h.
:mod:`pkmodel.dosing.library` finds a drug's file and looks regimens up across drugs.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from pkmodel.dosing.regimen import Regimen
from pkmodel.errors import PKModelError
from pkmodel.units import format_quantity, parse_quantity

REQUIRED_VARIANTS = ("low", "high")
_REGIMEN_KEYS = ("name", "indication", "source", "quote", "max_daily_dose", "notes", "variants")
_PHASE_KEYS = ("amount", "route", "times_per_day", "at", "interval", "course")
_VARIANT_KEYS = (*_PHASE_KEYS, "phases", "total_course", "base", "courses", "every", "note")
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DAY = 24.0
_ROUTES = ("oral", "iv")  # how a label regimen is given (Regimen also knows a modelling-only "peripheral")


@dataclass(frozen=True)
class Entry:
    """One regimen of the library: what the source says and the regimens read from it."""

    name: str
    indication: str
    source: str
    quote: str
    max_daily_dose: float  # mg per calendar day, the most the quoted sentence allows
    notes: tuple[str, ...]
    variants: dict[str, Regimen]
    variant_notes: dict[str, str]
    specs: dict[str, dict[str, Any]]  # each variant's table as written in the file


@dataclass(frozen=True)
class Library:
    """The whole file: its ``[library]`` remarks, its ``[sources]`` and the entries by name."""

    meta: dict[str, Any]
    sources: dict[str, dict[str, Any]]
    entries: dict[str, Entry]


def read_text(text: str, where: str) -> Library:
    """Read and check the regimen-library file ``where`` whose content is ``text``; every variant
    is built, so any bad entry is found here."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PKModelError("regimens", where, f"not valid TOML ({err})") from None
    sources = doc.get("sources", {})
    if not isinstance(sources, dict) or not sources or not all(isinstance(s, dict) for s in sources.values()):
        raise PKModelError("sources", sources, "a [sources.<key>] table per source document is needed")
    tables = doc.get("regimen")
    if not isinstance(tables, list) or not tables:
        raise PKModelError("regimen", where, "the file needs [[regimen]] tables")
    entries: dict[str, Entry] = {}
    for i, raw in enumerate(tables):
        entry = _read_entry(raw, i, sources)
        if entry.name in entries:
            raise PKModelError(f"regimen[{i}].name", entry.name, "names must be unique; it is used twice")
        entries[entry.name] = entry
    return Library(doc.get("library", {}), sources, entries)


def entry(library: Library, name: str) -> Entry:
    if name not in library.entries:
        raise PKModelError("regimen", name, f"known regimens: {', '.join(sorted(library.entries))}")
    return library.entries[name]


def _read_entry(raw: Any, index: int, sources: dict[str, Any]) -> Entry:
    if not isinstance(raw, dict):
        raise PKModelError(f"regimen[{index}]", raw, "each [[regimen]] must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PKModelError(f"regimen[{index}].name", name, "a short kebab-case name, e.g. 'alcohol-withdrawal'")
    where = f"regimens.{name}"
    _known_keys(raw, _REGIMEN_KEYS, where)
    for key in ("indication", "quote"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise PKModelError(f"{where}.{key}", raw.get(key), "a non-empty string is needed")
    if raw.get("source") not in sources:
        raise PKModelError(f"{where}.source", raw.get("source"), f"one of the [sources]: {', '.join(sources)}")
    notes = raw.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) and n.strip() for n in notes):
        raise PKModelError(f"{where}.notes", notes, "a list of non-empty strings")
    max_daily = _amount(raw.get("max_daily_dose"), f"{where}.max_daily_dose")
    specs = raw.get("variants")
    if not isinstance(specs, dict) or not all(isinstance(s, dict) for s in specs.values()):
        raise PKModelError(f"{where}.variants", specs, "[regimen.variants.<name>] tables are needed")
    missing = [v for v in REQUIRED_VARIANTS if v not in specs]
    if missing:
        raise PKModelError(f"{where}.variants", sorted(specs), f"needs the variants {', '.join(missing)}")
    variants: dict[str, Regimen] = {}
    for variant in specs:
        if not _NAME.match(variant):
            raise PKModelError(f"{where}.variants", variant, "variant names are kebab-case, e.g. 'high-once'")
        variants[variant] = _variant(specs, variant, f"{where}.variants", ())
        daily = largest_daily_dose(variants[variant])
        if daily > max_daily * (1 + 1e-12):
            raise PKModelError(
                f"{where}.variants.{variant}",
                f"{format_quantity(daily, 'amount')}/day",
                f"exceeds the regimen's max_daily_dose of {format_quantity(max_daily, 'amount')}",
            )
    notes_of = {v: s["note"] for v, s in specs.items() if isinstance(s.get("note"), str)}
    return Entry(
        name, raw["indication"], raw["source"], raw["quote"], max_daily, tuple(notes), variants, notes_of, specs
    )


def _variant(specs: dict[str, dict[str, Any]], variant: str, where: str, seen: tuple[str, ...]) -> Regimen:
    """Build one variant: a single phase, a sequence of ``phases``, or another variant (``base``),
    then repeated as ``courses``."""
    spec, here = specs[variant], f"{where}.{variant}"
    _known_keys(spec, _VARIANT_KEYS, here)
    if "note" in spec and not (isinstance(spec["note"], str) and spec["note"].strip()):
        raise PKModelError(f"{here}.note", spec["note"], "a non-empty string")
    if "base" in spec:
        base = spec["base"]
        stray = sorted(set(spec) - {"base", "courses", "every", "note"})
        if stray:
            raise PKModelError(
                f"{here}.{stray[0]}", spec[stray[0]], "a variant with base takes only courses, every and note"
            )
        if base not in specs or base == variant or base in seen:
            raise PKModelError(f"{here}.base", base, f"another variant of this regimen: {', '.join(specs)}")
        regimen = _variant(specs, base, where, (*seen, variant))
    elif ("phases" in spec) == ("amount" in spec):
        raise PKModelError(here, sorted(spec), "give exactly one of: amount (one phase), phases, or base")
    elif "phases" in spec:
        stray = sorted(set(spec) & set(_PHASE_KEYS))
        if stray:
            raise PKModelError(f"{here}.{stray[0]}", spec[stray[0]], "with phases, give it inside each phase")
        regimen = _phases(spec, here)
    else:
        if "total_course" in spec:
            raise PKModelError(f"{here}.total_course", spec["total_course"], "only for a variant with phases")
        regimen, _ = _phase(spec, here, None)
    if "courses" in spec or "every" in spec:
        courses, every = spec.get("courses"), spec.get("every")
        if isinstance(courses, bool) or not isinstance(courses, int) or courses < 1:
            raise PKModelError(f"{here}.courses", courses, "a whole number of courses >= 1, with every")
        period = _time(every, f"{here}.every")
        try:
            regimen = regimen.courses(courses, every=period)
        except PKModelError as err:
            raise PKModelError(f"{here}.every", every, err.allowed) from None
    return regimen


def _phases(spec: dict[str, Any], here: str) -> Regimen:
    """Phases one after the other, each starting when the one before it ends (its course length),
    the last lasting the rest of ``total_course`` when it gives no course of its own."""
    phases = spec["phases"]
    if not isinstance(phases, list) or not phases or not all(isinstance(p, dict) for p in phases):
        raise PKModelError(f"{here}.phases", phases, "one or more [[...phases]] tables")
    total = _time(spec["total_course"], f"{here}.total_course") if "total_course" in spec else None
    regimen: Regimen | None = None
    start = 0.0
    for k, phase in enumerate(phases):
        at = f"{here}.phases[{k}]"
        _known_keys(phase, _PHASE_KEYS, at)
        rest = None
        if "course" not in phase and k == len(phases) - 1 and total is not None:
            rest = total - start
            if not rest > 0:
                raise PKModelError(
                    f"{here}.total_course", spec["total_course"], "must be longer than the phases before the last"
                )
        part, length = _phase(phase, at, rest)
        regimen = part if regimen is None else regimen.then(part)
        start += length
    if total is not None and not math.isclose(start, total):
        raise PKModelError(
            f"{here}.total_course", spec["total_course"], f"the phases last {format_quantity(start, 'time')}"
        )
    assert regimen is not None
    return regimen


def _phase(spec: dict[str, Any], here: str, rest: float | None) -> tuple[Regimen, float]:
    """One phase: ``amount`` by ``route`` at clock times ``at`` (``times_per_day`` of them) or
    every ``interval``, for ``course`` (or ``rest``, h). Returns the regimen and its length, h."""
    for key in ("amount", "route"):
        if key not in spec:
            raise PKModelError(f"{here}.{key}", None, "is required")
    amount = _amount(spec["amount"], f"{here}.amount")
    route = spec["route"]
    if route not in _ROUTES:
        raise PKModelError(f"{here}.route", route, f"allowed routes: {', '.join(_ROUTES)}")
    if rest is None and "course" not in spec:
        raise PKModelError(f"{here}.course", None, "is required (a treatment length such as '4 weeks')")
    length = rest if rest is not None else _time(spec["course"], f"{here}.course")
    if ("at" in spec) == ("interval" in spec):
        raise PKModelError(here, sorted(spec), "give exactly one of: at (clock times, with times_per_day) or interval")
    try:
        if "interval" in spec:
            if "times_per_day" in spec:
                raise PKModelError(f"{here}.times_per_day", spec["times_per_day"], "goes with at, not with interval")
            tau = _time(spec["interval"], f"{here}.interval")
            return Regimen.repeated(amount, tau, over=length, route=route), length
        at, per_day = spec["at"], spec.get("times_per_day")
        if not isinstance(at, list) or not all(isinstance(t, str) for t in at):
            raise PKModelError(f"{here}.at", at, "a list of clock times 'HH:MM', e.g. ['08:00', '14:00']")
        if isinstance(per_day, bool) or not isinstance(per_day, int) or per_day != len(at):
            raise PKModelError(
                f"{here}.times_per_day", per_day, f"must be given and equal the {len(at)} clock time(s) of at"
            )
        days = length / _DAY
        if abs(days - round(days)) > 1e-9 or round(days) < 1:
            raise PKModelError(
                f"{here}.course",
                spec.get("course", format_quantity(length, "time")),
                "with clock times the course must be a whole number of days",
            )
        return Regimen.daily(amount, at, days=round(days), route=route), length
    except PKModelError as err:
        if err.field.startswith(here):
            raise
        raise PKModelError(f"{here}.{err.field}", err.value, err.allowed) from None


def _known_keys(table: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise PKModelError(f"{where}.{unknown[0]}", table[unknown[0]], f"unknown key; known: {', '.join(known)}")


def _amount(value: Any, field: str) -> float:
    if value is None:
        raise PKModelError(field, None, "is required (an amount such as '500 mg')")
    return parse_quantity(value, "amount", field=field, positive=True)


def _time(value: Any, field: str) -> float:
    if value is None:
        raise PKModelError(field, None, "is required (a time such as '4 weeks')")
    return parse_quantity(value, "time", field=field, positive=True)


def largest_daily_dose(regimen: Regimen) -> float:
    """The largest total amount (mg) started on one calendar day."""
    return float(regimen.daily_totals[1].max())
