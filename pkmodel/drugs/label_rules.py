"""The label's rules as data: the numbers and sentences of a drug's label, read from the
``[label]`` table of its population file (``params/<drug>-populations.toml``) by
:func:`load_label_rules`, with a user's file and keyword overrides merged over them.

Every rule is optional: a drug whose label has no late-dose rule, no paediatric age or no renal
grades leaves it out (then it is not checked), and a drug without a ``[label]`` table has no
rules at all. What a patient or a regimen meets is found by :mod:`pkmodel.drugs.label`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pkmodel.drugs.covariates import CHILD_PUGH, RENAL_CATEGORIES
from pkmodel.drugs.populations import Drug, per_file_version, population_path, read_population_file
from pkmodel.errors import PKModelError
from pkmodel.model import checked_number
from pkmodel.units import parse_clock

STATUSES = ("none", "caution", "contraindicated")


@dataclass(frozen=True)
class Quote:
    """A label sentence and where it is."""

    text: str
    source: str

    def __str__(self) -> str:
        return f"“{self.text}” ({self.source.rstrip('.')})"


@dataclass(frozen=True)
class LabelRules:
    """The label's numbers and sentences; a rule that is None (or a status table that is empty)
    is not in the label and is not checked.

    ``maximum_daily_dose`` mg per calendar day; ``late_dose_after`` clock hours after midnight
    (a dose later than this is flagged); ``paediatric_age`` and ``elderly_age`` years;
    ``renal_status`` renal category -> "none"/"caution"/"contraindicated" (a category not listed
    is "none"); ``hepatic_status`` Child–Pugh class -> status; ``quotes`` rule name ->
    :class:`Quote` (pregnancy and breastfeeding are checked when their quote is there).
    """

    maximum_daily_dose: float | None = None
    late_dose_after: float | None = None
    paediatric_age: float | None = None
    elderly_age: float | None = None
    renal_status: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hepatic_status: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    quotes: Mapping[str, Quote] = field(default_factory=lambda: MappingProxyType({}))


_RULE_OVERRIDES = ("maximum_daily_dose", "late_dose_after", "paediatric_age", "elderly_age")
_QUOTES = (
    "renal_contraindicated",
    "renal_caution",
    "hepatic_contraindicated",
    "hepatic_caution",
    "monitoring",
    "pregnancy",
    "breastfeeding",
)


def load_label_rules(drug: Drug | None, path: str | Path | None = None, **overrides: Any) -> LabelRules:
    """The label rules of ``drug`` (a :class:`~pkmodel.model.Model` with a population file, the
    name of a population file in ``params/`` such as "mildronate-populations", or a path), a user
    file ``path`` merged over its file, then keyword ``overrides``: ``maximum_daily_dose`` (mg),
    ``late_dose_after`` ("HH:MM" or hours after midnight), ``paediatric_age``, ``elderly_age``
    (years); None switches a rule off. A rule the label lacks cannot be overridden (it has no
    sentence to quote)."""
    unknown = sorted(set(overrides) - set(_RULE_OVERRIDES))
    if unknown:
        raise PKModelError(
            unknown[0], overrides[unknown[0]], f"unknown override; allowed: {', '.join(_RULE_OVERRIDES)}"
        )
    if path is None and not overrides:
        return per_file_version(_file_rules, population_path(drug))
    return _rules(_label_table(read_population_file(drug, path)), overrides)


def _file_rules(source: Any) -> LabelRules:
    return _rules(_label_table(read_population_file(source)), {})


def _label_table(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    table = doc.get("label", {})
    if not isinstance(table, Mapping):
        raise PKModelError("label", table, "the [label] table of a population file must be a table")
    return table


def rules_of(given: LabelRules | Drug | None, what: str) -> LabelRules:
    """Label rules given explicitly, or those of a drug; with neither a :class:`PKModelError`
    saying what ``what`` (the function asking) needs."""
    if isinstance(given, LabelRules):
        return given
    if given is None:
        raise PKModelError(
            "rules", None, f"{what} needs the drug's label rules: pass rules=load_label_rules(model) (or the model)"
        )
    return load_label_rules(given)


def _rules(table: Mapping[str, Any], overrides: Mapping[str, Any]) -> LabelRules:
    quotes: dict[str, Quote] = {}
    values: dict[str, float | None] = {}
    for key in _RULE_OVERRIDES:
        node = table.get(key)
        if node is None:
            if overrides.get(key) is not None:
                raise PKModelError(key, overrides[key], "this drug's label has no such rule to override")
            values[key] = None
            continue
        if not isinstance(node, Mapping) or "value" not in node:
            raise PKModelError(f"label.{key}", node, "needs a table with a 'value' in the population file")
        if "quote" not in node or "quote_source" not in node:
            raise PKModelError(f"label.{key}", node, "needs the label's 'quote' and its 'quote_source'")
        value = overrides.get(key, node["value"])
        if value is None:
            values[key] = None
        elif key == "late_dose_after":
            values[key] = _clock(value)
        else:
            values[key] = checked_number(value, key, low=0.0)
        if values[key] is not None:
            quotes[key] = Quote(str(node["quote"]), str(node["quote_source"]))
    given = table.get("quotes", {})
    if not isinstance(given, Mapping) or set(given) - set(_QUOTES):
        raise PKModelError("label.quotes", given, f"a table of quotes named {', '.join(_QUOTES)}")
    for key, node in given.items():
        if not isinstance(node, Mapping) or "quote" not in node:
            raise PKModelError(f"label.quotes.{key}", node, "needs a 'quote' and its 'source'")
        quotes[key] = Quote(str(node["quote"]), str(node.get("source", "")))

    renal = _statuses(table, "renal_status", RENAL_CATEGORIES, quotes)
    hepatic = _statuses(table, "hepatic_status", CHILD_PUGH, quotes)
    return LabelRules(
        maximum_daily_dose=values["maximum_daily_dose"],
        late_dose_after=values["late_dose_after"],
        paediatric_age=values["paediatric_age"],
        elderly_age=values["elderly_age"],
        renal_status=MappingProxyType(renal),
        hepatic_status=MappingProxyType(hepatic),
        quotes=MappingProxyType(quotes),
    )


def _statuses(
    table: Mapping[str, Any], key: str, names: tuple[str, ...], quotes: Mapping[str, Quote]
) -> dict[str, str]:
    """A status table (renal category or Child–Pugh class -> status); absent: {} (not checked).
    A status other than "none" needs the label sentence it quotes."""
    node = table.get(key)
    if node is None:
        return {}
    if not isinstance(node, Mapping):
        raise PKModelError(f"label.{key}", node, f"a table from {', '.join(names)} to a status")
    stray = sorted(set(node) - set(names) - {"basis", "source"})
    if stray:
        raise PKModelError(f"label.{key}", stray[0], f"unknown name; allowed: {', '.join(names)}")
    out = {}
    for name in names:
        value = node.get(name, "none")
        if value not in STATUSES:
            raise PKModelError(f"label.{key}.{name}", value, f"allowed: {', '.join(STATUSES)}")
        quote = f"{key.removesuffix('_status')}_{value}"
        if value != "none" and quote not in quotes:
            raise PKModelError(f"label.quotes.{quote}", None, f"needed by label.{key}.{name} = {value!r}")
        out[name] = value
    return out


def _clock(value: Any) -> float:
    return parse_clock(value, field="late_dose_after", allow_end_of_day=True)
