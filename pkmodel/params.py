"""Parameter files: TOML descriptions of a model in which every value carries its source.

A file has a ``[model]`` table (``name``, ``description`` and, for a drug with special-population
factors or label rules, ``populations``: the name of its population file in ``params/``; for a
drug with a label regimen library, ``regimens``: the name of that file in ``params/``, read by
:mod:`pkmodel.dosing.library`) and a ``[parameters.<field>]`` table per
parameter with ``value`` (a number in internal units or a string with a unit, "15.34 h"),
``basis`` ("label", "publication", "derived", "fitted" or "assumption") and ``source`` (the
sentence or citation it comes from, or the reasoning of the assumption). A ``[variants.<name>]``
table may hold ``parameters`` that replace some of the base values (``load_params(name,
variant=...)``). The fields chosen say how the model is
built: ``t_half_alpha``/``t_half_beta`` for label-style half-lives (with ``v1`` and ``cl`` or
``k21``), ``k10``/``k12``/``k21`` for micro-constants, otherwise ``cl``, ``v1``, ``q``, ``v2``;
``ka``, ``f`` and ``tlag`` may join any of them.

``load_params(name)`` reads a file shipped with pkmodel (the project's ``params/`` folder, e.g.
``load_params("theophylline")``); any other argument is a path to a user's TOML file.

Which shipped file is used when none is named (the command line without ``--params``) is data
too: the ``[defaults]`` table of ``params/defaults.toml``, read by :func:`default_params`. No drug
is named in code, so adding or switching drugs is a change of files only.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pkmodel.errors import PKModelError
from pkmodel.model import Model

#: The file of ``params/`` that names the defaults (a ``[defaults]`` table).
DEFAULTS_FILE = "defaults.toml"
BASES = ("label", "publication", "derived", "fitted", "assumption")
#: Keys of a parameter file's [model] table.
MODEL_KEYS = ("name", "description", "populations", "regimens")
_ABSORPTION = ("ka", "f", "tlag")
_FORMS = {
    "half-lives": ("t_half_alpha", "t_half_beta", "v1", "cl", "k21"),
    "micro": ("k10", "k12", "k21", "v1"),
    "physiological": ("cl", "v1", "q", "v2"),
}


@dataclass(frozen=True)
class Parameter:
    """One entry of a parameter file: its value as written, basis and source."""

    name: str
    value: Any
    basis: str | None
    source: str | None


@lru_cache(maxsize=1)
def data_dir() -> Any:
    """The shipped ``params/`` folder: packaged as ``pkmodel.data`` in a built wheel, and read in
    place from a source checkout (where an editable install leaves it outside the package).
    Looked up once: the failed import of ``pkmodel.data`` in a checkout costs a millisecond."""
    try:
        return resources.files("pkmodel.data")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "params"


def read_toml(path: Any, field: str, what: str = "a TOML file") -> dict[str, Any]:
    """The TOML document at ``path`` (a path or a file of ``data_dir()``). Every way reading can
    fail (no such file, a folder, no permission, not UTF-8 text, not TOML) is a
    :class:`PKModelError` under ``field`` naming the path."""
    shown = str(path)
    try:
        if not path.is_file():
            raise PKModelError(field, shown, f"no such file ({what})")
        text = path.read_bytes().decode("utf-8")
    except PKModelError:
        raise
    except UnicodeDecodeError:
        raise PKModelError(field, shown, f"not UTF-8 text ({what})") from None
    except OSError as err:
        raise PKModelError(field, shown, f"cannot be read ({err.strerror or type(err).__name__}; {what})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PKModelError(field, shown, f"not valid TOML ({err})") from None


def _tomls() -> list[tuple[str, frozenset[str]]]:
    """(name, top-level tables) of every TOML file shipped in ``data_dir()``. Each file is parsed
    again only when it changes (its mtime)."""
    files = sorted((p for p in data_dir().iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
    return [(p.name.removesuffix(".toml"), _tables(p)) for p in files]


def _tables(path: Any) -> frozenset[str]:
    try:
        version = os.stat(str(path)).st_mtime_ns
    except OSError:
        return frozenset(read_toml(path, "params"))
    return _tables_of_version(path, version)


@lru_cache(maxsize=64)
def _tables_of_version(path: Any, version: int) -> frozenset[str]:
    return frozenset(read_toml(path, "params"))


def shipped() -> list[str]:
    """Names of the model parameter files shipped with pkmodel (files with a [parameters] table;
    the population files and regimen libraries live in the same folder)."""
    return [name for name, doc in _tomls() if "parameters" in doc]


def default_params() -> str:
    """The name of the shipped parameter file used when none is named: ``params`` in the
    ``[defaults]`` table of ``params/defaults.toml`` (a :class:`PKModelError` under
    ``defaults.params`` when it is missing or names no file in ``params/``)."""
    doc = read_toml(data_dir() / DEFAULTS_FILE, "defaults", "the defaults file of params/")
    table = doc.get("defaults")
    name = table.get("params") if isinstance(table, dict) else None
    # A plain name of a file in params/, not a path: the default is something pkmodel ships.
    plain = isinstance(name, str) and name != "" and not any(c in name for c in "/\\") and not name.startswith(".")
    if not plain or not (data_dir() / f"{name}.toml").is_file():
        raise PKModelError(
            "defaults.params", name, f"the name of a parameter file in params/ (in {DEFAULTS_FILE}), e.g. {', '.join(shipped())}"
        )
    return str(name)


#: Tables that make a TOML file in ``params/`` a population file (special-population factors
#: and/or label rules of one drug).
POPULATION_TABLES = ("clearance", "renal", "hepatic", "dosing", "label")


def _is_population(tables: frozenset[str]) -> bool:
    return "parameters" not in tables and any(t in tables for t in POPULATION_TABLES)


def shipped_populations() -> list[str]:
    """Names of the population files shipped with pkmodel (files with any of
    :data:`POPULATION_TABLES` and no [parameters] table)."""
    return [name for name, doc in _tomls() if _is_population(doc)]


def population_file(name: Any, field: str = "populations") -> Any:
    """The file in ``params/`` that a population-file name (``Model.populations``, e.g.
    "mildronate-populations") refers to; a :class:`PKModelError` under ``field`` when ``name`` is
    not a string or names no shipped population file."""
    return _shipped_file(name, _is_population, shipped_populations, "a population file", field)


def _shipped_file(
    name: Any, kind: Callable[[frozenset[str]], bool], known: Callable[[], list[str]], what: str, field: str
) -> Any:
    """The file of ``params/`` named ``name`` (with or without ".toml"), whose tables make it of
    ``kind``. Only that file is read (every simulation of a model with a population file asks for
    it); the whole folder (``known``) only to list the choices in the error."""
    if isinstance(name, str) and name and not any(c in name for c in "/\\") and not name.startswith("."):
        candidate = data_dir() / f"{name.removesuffix('.toml')}.toml"
        if candidate.is_file() and kind(_tables(candidate)):
            return candidate
    raise PKModelError(field, name, f"expected the name of {what} in params/: {', '.join(known()) or 'none'}")


#: The table that makes a TOML file in ``params/`` a regimen library (one ``[[regimen]]`` per entry).
LIBRARY_TABLE = "regimen"


def _is_library(tables: frozenset[str]) -> bool:
    return "parameters" not in tables and LIBRARY_TABLE in tables


def shipped_libraries() -> list[str]:
    """Names of the regimen libraries shipped with pkmodel (files with [[regimen]] tables and no
    [parameters] table); a drug's parameter file names its own (``[model] regimens``)."""
    return [name for name, doc in _tomls() if _is_library(doc)]


def library_file(name: Any, field: str = "regimens") -> Any:
    """The file in ``params/`` that a regimen-library name (a parameter file's ``[model] regimens``,
    e.g. "mildronate-regimens") refers to; a :class:`PKModelError` under ``field`` when ``name`` is
    not a string or names no shipped regimen library."""
    return _shipped_file(name, _is_library, shipped_libraries, "a regimen library", field)


def read_params(name_or_path: str | Path) -> tuple[dict[str, Any], dict[str, Parameter]]:
    """The ``[model]`` table and the parameters of a file, without building the model."""
    if not isinstance(name_or_path, (str, Path)) or str(name_or_path) == "":
        raise PKModelError("params", name_or_path, f"expected a TOML file path or one of: {', '.join(shipped())}")
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        doc = read_toml(path, "params", "a parameter file")
    else:
        candidate = data_dir() / f"{name_or_path}.toml"
        if not candidate.is_file():
            raise PKModelError(
                "params", str(name_or_path), f"expected a TOML file path or one of: {', '.join(shipped())}"
            )
        doc = read_toml(candidate, "params", "a parameter file")
    entries = doc.get("parameters")
    if not isinstance(entries, dict) or not entries:
        raise PKModelError("params", str(name_or_path), "the file needs a [parameters] table")
    params = {}
    for key, entry in entries.items():
        if isinstance(entry, dict):
            if "value" not in entry:
                raise PKModelError(f"parameters.{key}", entry, "needs a 'value'")
            basis = entry.get("basis")
            if basis is not None and basis not in BASES:
                raise PKModelError(f"parameters.{key}.basis", basis, f"allowed: {', '.join(BASES)}")
            params[key] = Parameter(key, entry["value"], basis, entry.get("source"))
        else:
            params[key] = Parameter(key, entry, None, None)
    meta = doc.get("model", {})
    if not isinstance(meta, dict):
        raise PKModelError("model", meta, "the [model] table of a parameter file must be a table")
    unknown = sorted(set(meta) - set(MODEL_KEYS))
    if unknown:  # e.g. the old "label" key: ignoring it would silently drop the drug's population file
        raise PKModelError(f"model.{unknown[0]}", meta[unknown[0]], f"unknown key; known: {', '.join(MODEL_KEYS)}")
    return meta | {"variants": doc.get("variants", {})}, params


def load_params(name_or_path: str | Path, *, variant: str | None = None, **overrides: Any) -> Model:
    """Build the :class:`Model` a parameter file describes, optionally one of its named
    ``variant``s; ``overrides`` replace values (same field names, e.g. ``cl=6.0``) before the
    model is built."""
    meta, params = read_params(name_or_path)
    values = {k: p.value for k, p in params.items()}
    name = str(meta.get("name", name_or_path))
    if variant is not None:
        variants = meta.get("variants", {})
        if variant not in variants:
            raise PKModelError("variant", variant, f"variants of {name_or_path}: {', '.join(variants) or 'none'}")
        values |= variants[variant].get("parameters", {})
        name = f"{name} ({variant})"
    populations = meta.get("populations")
    if populations is not None:
        # Checked here, not when a patient first needs it: a wrong name is the file's error.
        population_file(populations, field="model.populations")
    if meta.get("regimens") is not None:
        library_file(meta["regimens"], field="model.regimens")  # a wrong name is the file's error
    return model_from_fields(values | overrides, name=name).replace(populations=populations)


def model_from_fields(values: dict[str, Any], name: str = "") -> Model:
    """A :class:`Model` from whichever parameterisation the field names spell out."""
    known = set(_ABSORPTION).union(*_FORMS.values())
    unknown = sorted(set(values) - known)
    if unknown:
        raise PKModelError("parameters", unknown[0], f"unknown parameter; known: {', '.join(sorted(known))}")
    absorption = {k: values[k] for k in _ABSORPTION if k in values}
    v = {k: x for k, x in values.items() if k not in _ABSORPTION}
    form = "half-lives" if {"t_half_alpha", "t_half_beta"} & set(v) else "micro" if "k10" in v else "physiological"
    stray = sorted(set(v) - set(_FORMS[form]))
    if stray:
        raise PKModelError("parameters", stray[0], f"does not belong with the {form} form ({', '.join(_FORMS[form])})")
    needed = {
        "half-lives": ("t_half_alpha", "t_half_beta", "v1"),
        "micro": ("k10", "v1"),
        "physiological": ("cl", "v1"),
    }[form]
    missing = [k for k in needed if k not in v]
    if missing:
        raise PKModelError("parameters", sorted(v), f"the {form} form needs {', '.join(missing)}")
    if form == "half-lives":
        return Model.from_half_lives(
            v["t_half_alpha"], v["t_half_beta"], v["v1"], cl=v.get("cl"), k21=v.get("k21"), **absorption, name=name
        )
    if form == "micro":
        return Model.from_micro(v["k10"], v["v1"], k12=v.get("k12", 0.0), k21=v.get("k21"), **absorption, name=name)
    return Model(**v, **absorption, name=name)
