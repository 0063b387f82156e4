"""Read the unitedstates/congress-legislators roster into :class:`Legislator` records.

Two layouts are read:

* the project's own files, ``legislators-current.yaml`` / ``legislators-historical.yaml`` (and
  their ``.json`` twins, same structure): one entry per person with ``id``, ``name`` and all
  ``terms``;
* the compact JSON derived from it (one flat object per member, last term only:
  ``{bioguide, first, middle, last, suffix, nickname, official_full, chamber, state, district,
  party, ...}``).

The last term decides chamber, state, district and party; all terms give ``chambers``.

Errors: a file that is not a roster at all (not YAML/JSON, not a list, no usable entry) raises
:class:`~ingestion.records.ParseError`. A malformed entry inside a real roster (no bioguide id,
no last name, no terms, unknown term type) is skipped, and a sentence naming it is appended to
the ``problems`` list when the caller passes one — so one bad entry never blocks the whole
roster, and nothing is dropped silently for a caller that asks.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ingestion.identity import Legislator
from ingestion.records import ParseError

__all__ = ["parse_legislators_json", "parse_legislators_yaml"]

# libyaml's loader reads the 1.1 MB roster in a fraction of the pure-Python loader's time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TERM_CHAMBERS = {"rep": "house", "sen": "senate"}
_CHAMBERS = frozenset({"house", "senate"})


def parse_legislators_yaml(data: bytes, *, problems: list[str] | None = None) -> list[Legislator]:
    """Legislators from congress-legislators YAML (``legislators-current.yaml``)."""
    try:
        document = yaml.load(data, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        raise ParseError(f"not YAML: {error}", location="legislators YAML") from None
    return _from_document(document, location="legislators YAML", problems=problems)


def parse_legislators_json(data: bytes, *, problems: list[str] | None = None) -> list[Legislator]:
    """Legislators from the compact JSON, or from congress-legislators' own JSON layout."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ParseError(f"not JSON: {error}", location="legislators JSON") from None
    return _from_document(document, location="legislators JSON", problems=problems)


def _from_document(document: Any, *, location: str, problems: list[str] | None) -> list[Legislator]:
    if not isinstance(document, list) or not document:
        kind = type(document).__name__
        raise ParseError(f"expected a non-empty list of legislators, got {kind}", location=location)
    found: list[Legislator] = []
    skipped: list[str] = []
    for position, entry in enumerate(document, start=1):
        try:
            if not isinstance(entry, dict):
                raise ValueError(f"is a {type(entry).__name__}, not a mapping")
            if "id" in entry or "terms" in entry:
                found.append(_from_full_entry(entry))
            else:
                found.append(_from_compact_entry(entry))
        except ValueError as error:
            skipped.append(f"{location} entry #{position}: {error}")
    if problems is not None:
        problems.extend(skipped)
    if not found:
        first = f" (first problem: {skipped[0]})" if skipped else ""
        raise ParseError(f"no legislator could be read{first}", location=location)
    return found


def _text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _district(chamber: str, value: Any) -> str:
    if chamber == "senate" or value is None or value == "":
        return ""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"has district {value!r}, not a number") from None
    # congress-legislators uses 0 for at-large seats (and -1 for "unknown" in old terms).
    return f"{max(number, 0):02d}"


def _from_full_entry(entry: dict[str, Any]) -> Legislator:
    ids = entry.get("id") or {}
    name = entry.get("name") or {}
    terms = entry.get("terms") or []
    bioguide = _text(ids.get("bioguide") if isinstance(ids, dict) else None)
    if not bioguide:
        raise ValueError("has no id.bioguide")
    if not isinstance(name, dict) or not _text(name.get("last")):
        raise ValueError(f"({bioguide}) has no name.last")
    if not isinstance(terms, list) or not terms or not all(isinstance(t, dict) for t in terms):
        raise ValueError(f"({bioguide}) has no terms")
    chambers: list[str] = []
    for term in terms:
        chamber = _TERM_CHAMBERS.get(term.get("type"))
        if chamber is None:
            raise ValueError(f"({bioguide}) has a term of unknown type {term.get('type')!r}")
        if chamber not in chambers:
            chambers.append(chamber)
    last_term = terms[-1]
    chamber = _TERM_CHAMBERS[last_term["type"]]
    state = _text(last_term.get("state")).upper()
    if len(state) != 2:
        raise ValueError(f"({bioguide}) has state {last_term.get('state')!r} in its last term")
    return Legislator(
        bioguide=bioguide,
        first=_text(name.get("first")),
        middle=_text(name.get("middle")),
        last=_text(name.get("last")),
        suffix=_text(name.get("suffix")),
        nickname=_text(name.get("nickname")),
        official_full=_text(name.get("official_full")),
        chamber=chamber,
        state=state,
        district=_district(chamber, last_term.get("district")),
        party=_text(last_term.get("party")),
        chambers=tuple(chambers),
    )


def _from_compact_entry(entry: dict[str, Any]) -> Legislator:
    bioguide = _text(entry.get("bioguide"))
    if not bioguide:
        raise ValueError("has no bioguide")
    if not _text(entry.get("last")):
        raise ValueError(f"({bioguide}) has no last name")
    chamber = _text(entry.get("chamber")).lower()
    if chamber not in _CHAMBERS:
        raise ValueError(f"({bioguide}) has chamber {entry.get('chamber')!r}")
    state = _text(entry.get("state")).upper()
    if len(state) != 2:
        raise ValueError(f"({bioguide}) has state {entry.get('state')!r}")
    return Legislator(
        bioguide=bioguide,
        first=_text(entry.get("first")),
        middle=_text(entry.get("middle")),
        last=_text(entry.get("last")),
        suffix=_text(entry.get("suffix")),
        nickname=_text(entry.get("nickname")),
        official_full=_text(entry.get("official_full")),
        chamber=chamber,
        state=state,
        district=_district(chamber, entry.get("district")),
        party=_text(entry.get("party")),
    )
