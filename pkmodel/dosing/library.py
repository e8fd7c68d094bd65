"""The label regimen libraries: each drug's dosing sentences as ready-made :class:`Regimen` values.

    >>> from pkmodel import regimens
    >>> regimens.names()[:2]
    ['after-stroke-or-infarction', 'alcohol-withdrawal']
    >>> str(regimens.load("alcohol-withdrawal", "high"))
    '500 mg oral at 08:00,12:00,16:00,20:00 daily for 10 d'

A library belongs to a drug: the drug's parameter file names it (``[model] regimens =
"mildronate-regimens"`` in ``params/mildronate.toml``), and the file lives next to it in
``params/`` (found through :func:`pkmodel.params.data_dir`; its format in
:mod:`pkmodel.dosing.regimen_file`). ``drug`` is the name of a shipped parameter file, as for
:func:`pkmodel.load_params`. Without ``drug=``, a regimen is looked up in the libraries of every
drug that ships one; a name two drugs use is refused, asking for ``drug=``. ``path=`` reads a
library file of one's own instead. Amounts in mg, times in h.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pkmodel.dosing.regimen import Regimen
from pkmodel.dosing.regimen_file import Entry, Library, entry, largest_daily_dose, read_text
from pkmodel.errors import PKModelError
from pkmodel.params import library_file, read_params, shipped

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_VARIANT = "low"
Where = str | Path | None


# --- which drug ships which library ---------------------------------------------------------------


def drugs() -> dict[str, str]:
    """The shipped drugs (parameter-file names) whose parameter file names a regimen library, each
    with the name of its library file in ``params/``."""
    named = {drug: read_params(drug)[0].get("regimens") for drug in shipped()}
    return {drug: name for drug, name in named.items() if name is not None}


def read(path: Where = None, *, drug: str | None = None) -> Library:
    """Read and check one library: the file at ``path``, or the library of ``drug``, or (neither
    given) the one library shipped, if only one drug ships one. Every variant is built, so any
    bad entry is found here."""
    if path is not None:
        if drug is not None:
            raise PKModelError("drug/path", (drug, str(path)), "give a drug or a library file, not both")
        file = Path(path)
        if not file.is_file():
            raise PKModelError("regimens", str(path), "no such file")
        return read_text(file.read_text(encoding="utf-8"), str(path))
    if drug is None:
        shipped_by = drugs()
        if len(shipped_by) != 1:
            raise PKModelError("drug", None, f"several drugs ship a regimen library: give drug= ({_drug_list()})")
        (drug,) = shipped_by
    file = _library_of(drug)
    return read_text(file.read_text(encoding="utf-8"), file.name)


def _library_of(drug: Any) -> Any:
    """The library file (in ``params/``) that ``drug``'s parameter file names."""
    if not isinstance(drug, str):
        raise PKModelError("drug", drug, f"the name of a drug with a regimen library: {_drug_list()}")
    try:
        meta, _ = read_params(drug)
    except PKModelError as err:
        raise PKModelError("drug", drug, f"{err.allowed}; drugs with a regimen library: {_drug_list()}") from None
    if meta.get("regimens") is None:
        raise PKModelError(
            "drug", drug, f"its parameter file names no regimen library ([model] regimens); drugs with one: {_drug_list()}"
        )
    return library_file(meta["regimens"], field="model.regimens")


def _drug_list() -> str:
    return ", ".join(drugs()) or "none"


def _libraries(drug: str | None, path: Where) -> list[tuple[str | None, Library]]:
    """(drug, library) of the file at ``path``, of ``drug``, or of every drug that ships one."""
    if path is not None or drug is not None:
        return [(drug, read(path, drug=drug))]
    return [(d, read(drug=d)) for d in drugs()]


def _find(name: str, drug: str | None, path: Where) -> tuple[Library, Entry]:
    """The library and entry of regimen ``name``: refused when no library, or more than one, has it."""
    libraries = _libraries(drug, path)
    holding = [(d, library) for d, library in libraries if name in library.entries]
    if len(holding) > 1:
        raise PKModelError(
            "regimen", name, f"a regimen of several drugs ({', '.join(str(d) for d, _ in holding)}): give drug="
        )
    if not holding:
        known = sorted({n for _, library in libraries for n in library.entries})
        raise PKModelError("regimen", name, f"known regimens: {', '.join(known)}")
    library = holding[0][1]
    return library, entry(library, name)


# --- public functions -------------------------------------------------------------------------


def names(*, drug: str | None = None, path: Where = None) -> list[str]:
    """Names of the library regimens, sorted: of ``drug``, of the file at ``path``, or (neither
    given) of every drug that ships a library."""
    return sorted({n for _, library in _libraries(drug, path) for n in library.entries})


def load(name: str, variant: str = DEFAULT_VARIANT, *, drug: str | None = None, path: Where = None) -> Regimen:
    """The :class:`Regimen` of library entry ``name`` in ``variant`` ("low", "high", or another
    the entry defines), e.g. ``load("alcohol-withdrawal", "high")``; ``drug=`` says whose library
    when several drugs have a regimen of that name."""
    _, found = _find(name, drug, path)
    if variant not in found.variants:
        raise PKModelError("variant", variant, f"{name!r} has the variants: {', '.join(found.variants)}")
    return found.variants[variant]


def info(name: str, *, drug: str | None = None, path: Where = None) -> dict[str, Any]:
    """What the library holds about ``name``: name, indication, source (the document, described),
    quote, max_daily_dose_mg, notes, and per variant its regimen text, note, spec and numbers."""
    library, found = _find(name, drug, path)
    return {
        "name": found.name,
        "indication": found.indication,
        "source": {"key": found.source, **library.sources[found.source]},
        "quote": found.quote,
        "max_daily_dose_mg": found.max_daily_dose,
        "notes": list(found.notes),
        "dose_basis": library.meta.get("dose_basis"),
        "variants": {
            v: {
                "regimen": str(r),
                "note": found.variant_notes.get(v),
                "spec": found.specs[v],
                "n_doses": r.n_doses,
                "daily_dose_mg": largest_daily_dose(r),
                "total_mg": float(r.columns.amount.sum()),
            }
            for v, r in found.variants.items()
        },
    }


def table(*, drug: str | None = None, path: Where = None) -> pd.DataFrame:
    """One row per regimen and variant: drug (None for a file given by ``path``), name,
    indication, variant, regimen (its text), daily_dose_mg (the largest amount on one calendar
    day), n_doses, days (first to last dose day), total_mg and source."""
    import pandas as pd  # pandas only when a table is asked for

    rows = []
    for whose, library in _libraries(drug, path):
        for found in (e for _, e in sorted(library.entries.items())):
            for variant, regimen in found.variants.items():
                days = regimen.daily_doses.index
                rows.append(
                    {
                        "drug": whose,
                        "name": found.name,
                        "indication": found.indication,
                        "variant": variant,
                        "regimen": str(regimen),
                        "daily_dose_mg": largest_daily_dose(regimen),
                        "n_doses": regimen.n_doses,
                        "days": int(days.max() - days.min() + 1),
                        "total_mg": float(regimen.columns.amount.sum()),
                        "source": found.source,
                    }
                )
    return pd.DataFrame(rows)


# --- the library as text ------------------------------------------------------------------------


def listing(*, drug: str | None = None, path: Where = None) -> str:
    """The library as text: every regimen with its indication and variants (daily dose, doses)."""
    frame = table(drug=drug, path=path)
    lines = [
        (
            "The label regimen library (labelled amounts, as its sources write them; time 0 is midnight "
            "before the first dose)."
        ),
        "Simulate one: pkmodel simulate --regimen NAME [--variant VARIANT]; details: pkmodel regimens NAME",
    ]
    width = max(len(v) for v in frame["variant"])
    for name, rows in frame.groupby("name", sort=True):
        first = rows.iloc[0]
        lines += ["", f"{name}  [{first['source']}]", *_wrapped(first["indication"], "  ")]
        lines += [
            f"  {row.variant:<{width}}  {row.regimen}  ({row.daily_dose_mg:g} mg/day, {row.n_doses} doses)"
            for row in rows.itertuples()
        ]
    return "\n".join(lines)


def describe(name: str, *, drug: str | None = None, path: Where = None) -> str:
    """One library regimen in full, as text: indication, source, quote, notes and variants."""
    entry = info(name, drug=drug, path=path)
    source = entry["source"]
    lines = [f"{entry['name']}", *_wrapped(f"indication: {entry['indication']}", "  ")]
    lines += _wrapped(f"source: {' '.join(source.get('title', source['key']).split())}", "  ")
    lines += ["  quote:"] + [line for para in entry["quote"].split("\n\n") for line in _wrapped(para, "    ")]
    if source.get("timing"):
        lines += _wrapped(f"timing: {source['timing']}", "  ")
    lines += _wrapped(f"max daily dose: {entry['max_daily_dose_mg']:g} mg", "  ")
    lines += ["  notes:"] + [line for note in entry["notes"] for line in _wrapped(f"- {note}", "    ", "      ")]
    lines += ["  variants:"]
    for variant, v in entry["variants"].items():
        lines.append(f"    {variant}: {v['regimen']}  ({v['daily_dose_mg']:g} mg/day, {v['n_doses']} doses)")
        if v["note"]:
            lines += _wrapped(v["note"], "      ")
    return "\n".join(lines)


def _wrapped(text: str, indent: str, subsequent: str | None = None) -> list[str]:
    return textwrap.wrap(
        " ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=subsequent or indent
    )
