"""Politician names and matching them to the congress-legislators roster.

No source gives a reliable id: the Senate search has names only ("Gary C" + "Peters", paper
rows in capitals), the House index has ``Prefix/First/Last/Suffix`` plus ``StateDst``, and the
community feeds print names their own way ("A. Mitchell Mcconnell, Jr.", "Kim Dr Schrier").
:func:`parse_person_name` reads all of those into a :class:`PersonName`, and
:class:`RosterIndex` finds the one legislator a name can mean — or says it cannot (None), in
which case the caller records an unresolved politician rather than guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "Legislator",
    "PersonName",
    "RosterIndex",
    "parse_person_name",
    "person_name_from_parts",
    "split_state_district",
]


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonName:
    """A person's name in parts. Empty strings for parts the source did not give."""

    first: str = ""
    middle: str = ""
    last: str = ""
    suffix: str = ""  # "Jr.", "Sr.", "II", "III", "IV"
    nickname: str = ""

    @property
    def full(self) -> str:
        """``First Middle Last Suffix`` for display."""
        return " ".join(part for part in (self.first, self.middle, self.last, self.suffix) if part)


@dataclass(frozen=True, slots=True)
class Legislator:
    """A member of Congress as the congress-legislators roster describes them.

    ``chamber``, ``state``, ``district`` and ``party`` come from the member's last term.
    ``district`` is a two-digit string like the House ``StateDst`` (``"12"``, ``"03"``), ``"00"``
    for an at-large seat, and ``""`` for senators, so ``state + district`` equals the House
    index's ``StateDst``. ``party`` is the roster's word: "Democrat", "Republican",
    "Independent". ``chambers`` lists every chamber the member served in (from all terms when
    the source has them), so a senator's earlier House filings still match; it defaults to
    ``(chamber,)``.
    """

    bioguide: str
    first: str
    middle: str
    last: str
    suffix: str
    nickname: str
    official_full: str
    chamber: str
    state: str
    district: str
    party: str
    chambers: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.chambers:
            object.__setattr__(self, "chambers", (self.chamber,))


_STATE_DISTRICT_RE = re.compile(r"^([A-Za-z]{2})(?:[\s-]*(\d{1,2}|AL|al))?$")


def split_state_district(raw: str) -> tuple[str, str]:
    """Split a House ``StateDst`` into (state, two-digit district).

    ``"GA12"`` -> ``("GA", "12")``, ``"AK00"`` and ``"AK-AL"`` -> ``("AK", "00")``, ``"CA5"`` ->
    ``("CA", "05")``, a bare state ``"WV"`` -> ``("WV", "")``, ``""`` -> ``("", "")`` (the index
    can leave StateDst empty). Anything else raises ValueError.
    """
    text = "".join((raw or "").split())
    if not text:
        return "", ""
    match = _STATE_DISTRICT_RE.match(text)
    if not match:
        raise ValueError(f"{raw!r} is not a state/district like 'GA12' or 'AK00'")
    state, district = match.group(1).upper(), match.group(2) or ""
    if district.upper() == "AL":
        district = "00"
    elif district:
        district = f"{int(district):02d}"
    return state, district


# --------------------------------------------------------------------------------------------
# Parsing names
# --------------------------------------------------------------------------------------------

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_QUOTED_RE = re.compile(r"[\"“”]\s*([^\"“”]+?)\s*[\"“”]")
_PAREN_RE = re.compile(r"\(([^()]*)\)")
# Titles and honorifics anywhere in the name ("Hon.", "The Honorable", and the "Dr"/"Mrs"/"Mr"
# that the House index sometimes appends to the first name: "Marjorie Taylor Mrs").
_HONORIFIC_RE = re.compile(
    r"\b(?:the\s+honorable|honorable|hon|senator|sen|representative|rep|congressman|"
    r"congresswoman|delegate|mr|mrs|ms|miss|dr)\b\.?",
    re.IGNORECASE,
)
# Professional credentials, with a comma either side ("Neal Patrick MD, Facs Dunn").
_CREDENTIAL_RE = re.compile(
    r"(?:,\s*)?\b(?:m\.?d|facs|ph\.?d|d\.?d\.?s|dmd|dvm|esq|cpa)\b\.?(?:\s*,)?", re.IGNORECASE
)
_OFFICE_WORDS = frozenset(
    {
        "senator",
        "former senator",
        "representative",
        "rep",
        "member",
        "former member",
        "candidate",
        "delegate",
        "resident commissioner",
        "officer or employee",
    }
)
_SUFFIXES = {"jr": "Jr.", "sr": "Sr.", "ii": "II", "iii": "III", "iv": "IV", "v": "V"}
# "V" is also a middle initial ("Nicholas V. Taylor"), so it counts as a suffix only as a whole
# comma segment (", V").
_TOKEN_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_PARTICLES = frozenset(
    {"van", "von", "de", "del", "della", "der", "den", "da", "di", "du", "la", "le"}
)


def _collapse(text: str) -> str:
    return " ".join(_CONTROL_RE.sub(" ", text).split())


def _fix_case(token: str) -> str:
    """'RICHARD' -> 'Richard'; mixed case ('McConnell', 'DelBene') is kept as printed."""
    letters = [c for c in token if c.isalpha()]
    if len(letters) > 1 and (token.isupper() or token.islower()):
        return "-".join(part[:1].upper() + part[1:].lower() for part in token.split("-"))
    if len(letters) == 1 and token.islower():
        return token.upper()
    return token


def _suffix_of(token: str) -> str:
    return _SUFFIXES.get(token.lower().strip(".,"), "")


def _strip_decorations(text: str) -> tuple[str, str, str]:
    """Remove nickname quotes, parentheses, titles and credentials.

    Returns (remaining text, nickname, alternative "Last, First" form from parentheses).
    """
    nickname = ""
    alternative = ""
    quoted = _QUOTED_RE.search(text)
    if quoted:
        nickname = quoted.group(1)
        text = text[: quoted.start()] + " " + text[quoted.end() :]
    for content in _PAREN_RE.findall(text):
        inner = _collapse(content)
        if "," in inner:
            alternative = inner  # "The Honorable Sheldon Whitehouse (Whitehouse, Sheldon)"
        elif inner.lower().strip(". ") in _OFFICE_WORDS or not inner:
            pass
        elif " " not in inner and not nickname:
            nickname = inner  # "Rafael Edward (Ted) Cruz"
    text = _PAREN_RE.sub(" ", text)
    text = _CREDENTIAL_RE.sub(" ", text)
    text = _HONORIFIC_RE.sub(" ", text)
    return _collapse(text), _fix_case(nickname.strip(". ")), alternative


def _split_suffixes(segments: list[str]) -> tuple[list[list[str]], str]:
    """Tokenise comma segments, taking out suffix tokens. Returns (segments, suffix)."""
    suffix = ""
    kept: list[list[str]] = []
    for segment in segments:
        tokens = segment.split()
        if len(tokens) == 1 and tokens[0].lower().strip(".") == "v":
            suffix = suffix or "V"
            continue
        remaining = []
        for token in tokens:
            if token.lower().strip(".,") in _TOKEN_SUFFIXES:
                suffix = suffix or _suffix_of(token)
            else:
                remaining.append(token)
        if remaining:
            kept.append(remaining)
    return kept, suffix


def _natural(tokens: list[str]) -> tuple[str, str, str]:
    """(first, middle, last) from 'First Middle Last' tokens; particles join the last name."""
    if not tokens:
        return "", "", ""
    if len(tokens) == 1:
        return "", "", tokens[0]
    start = len(tokens) - 1
    while start > 1 and tokens[start - 1].lower() in _PARTICLES:
        start -= 1
    return tokens[0], " ".join(tokens[1:start]), " ".join(tokens[start:])


def _given(tokens: list[str]) -> tuple[str, str]:
    if not tokens:
        return "", ""
    return tokens[0], " ".join(tokens[1:])


def _fixed(tokens: list[str]) -> list[str]:
    return [_fix_case(token) for token in tokens]


def parse_person_name(raw: str) -> PersonName:
    """Read a name as any source prints it.

    Handles natural order ("Hon. Richard W. Allen", "Ron L Wyden", "Hon. Marjorie Taylor
    Greene"), comma order ("Allen, Rick", "Peters, Gary (Senator)", "McConnell, A. Mitchell
    Jr. (Senator)"), a restated name in parentheses ("The Honorable Sheldon Whitehouse
    (Whitehouse, Sheldon)": the parenthesised form decides the last name), nicknames in quotes
    or parentheses ('Robert C. "Bobby" Scott', "Rafael Edward (Ted) Cruz"), suffixes Jr./Sr./II/
    III/IV anywhere ("A. Mitchell Mcconnell, Jr.", "Joseph Manchin, Iii", "David A Perdue ,
    Jr"), titles and credentials anywhere ("Kim Dr Schrier", "Neal Patrick MD, Facs Dunn"),
    surname particles ("Chris Van Hollen" -> last "Van Hollen"), ALL-CAPS paper rows with
    trailing spaces (title-cased) and accents (kept). A lone last name ("Moran,  ") gives only
    ``last``; a string with no name at all ("Senator") gives an empty PersonName.
    """
    text, nickname, alternative = _strip_decorations(_collapse(raw or ""))
    segments, suffix = _split_suffixes([s for s in text.split(",")])
    first = middle = last = ""
    if alternative:
        alt = parse_person_name(alternative)
        tokens = [token for segment in segments for token in segment]
        alt_last = alt.last.split()
        if alt_last and [t.lower() for t in tokens[-len(alt_last) :]] == [
            t.lower() for t in alt_last
        ]:
            first, middle = _given(tokens[: -len(alt_last)])
            last = " ".join(tokens[-len(alt_last) :])
        else:
            first, middle, last = alt.first, alt.middle, alt.last
        suffix = suffix or alt.suffix
        nickname = nickname or alt.nickname
    elif len(segments) >= 2:
        last = " ".join(segments[0])
        first, middle = _given([token for segment in segments[1:] for token in segment])
    elif segments:
        first, middle, last = _natural(segments[0])
    return PersonName(
        first=" ".join(_fixed(first.split())),
        middle=" ".join(_fixed(middle.split())),
        last=" ".join(_fixed(last.split())),
        suffix=suffix,
        nickname=nickname,
    )


def person_name_from_parts(
    *, first: str, last: str, prefix: str = "", suffix: str = ""
) -> PersonName:
    """A name given as separate fields (House index, Senate search rows, FMP).

    ``first`` may carry middle names or initials ("Gary C", "Richard W.", "Marjorie Taylor
    Mrs", 'Charles J. "Chuck"'); ``last`` may carry a suffix or stray commas ("McConnell,
    Jr.", "Moran,  ", "Hagerty, IV"). ``prefix`` ("Hon.") is an honorific and is ignored.
    """
    first_text, nickname, _ = _strip_decorations(_collapse(first or ""))
    last_text, last_nickname, _ = _strip_decorations(_collapse(last or ""))
    first_segments, first_suffix = _split_suffixes(first_text.split(","))
    last_segments, last_suffix = _split_suffixes(last_text.split(","))
    given_first, middle = _given([token for segment in first_segments for token in segment])
    return PersonName(
        first=" ".join(_fixed(given_first.split())),
        middle=" ".join(_fixed(middle.split())),
        last=" ".join(_fixed([token for segment in last_segments for token in segment])),
        suffix=_suffix_of(suffix) or (suffix or "").strip() or last_suffix or first_suffix,
        nickname=nickname or last_nickname,
    )


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------

# Given names that are the same person. Shorter forms that are plain prefixes (Dave/David,
# Rich/Richard, Mitch/Mitchell) match without being listed.
_NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("richard", "rick", "rich", "dick", "richie", "ricky"),
    ("william", "bill", "will", "billy", "willie", "liam"),
    ("robert", "bob", "bobby", "rob", "robbie", "bert"),
    ("james", "jim", "jimmy", "jamie"),
    ("john", "jack", "johnny", "jon"),
    ("jonathan", "jon", "john"),
    ("thomas", "tom", "tommy"),
    ("charles", "chuck", "chip", "charlie"),
    ("michael", "mike", "mikey"),
    ("christopher", "chris"),
    ("daniel", "dan", "danny"),
    ("david", "dave"),
    ("edward", "ed", "eddie", "ted", "ned"),
    ("theodore", "ted", "teddy"),
    ("rafael", "ted"),  # Rafael Edward "Ted" Cruz
    ("patrick", "pat"),
    ("timothy", "tim"),
    ("joseph", "joe"),
    ("jacklyn", "jacky", "jackie"),
    ("kenneth", "ken", "kenny"),
    ("stephen", "steve"),
    ("steven", "steve"),
    ("gregory", "greg"),
    ("benjamin", "ben"),
    ("samuel", "sam"),
    ("anthony", "tony"),
    ("nicholas", "nick"),
    ("jeffrey", "jeff"),
    ("gerald", "jerry"),
    ("jerome", "jerry"),
    ("matthew", "matt"),
    ("andrew", "andy", "drew"),
    ("alexander", "alex"),
    ("alexandria", "alex"),
    ("frederick", "fred"),
    ("harold", "hal"),
    ("henry", "hank"),
    ("lawrence", "larry"),
    ("ronald", "ron"),
    ("donald", "don"),
    ("douglas", "doug"),
    ("elizabeth", "liz", "lizzie", "beth", "betty", "betsy", "eliza"),
    ("katherine", "kathy", "kate", "katie"),
    ("catherine", "cathy", "kate"),
    ("deborah", "debbie", "deb"),
    ("susan", "sue", "susie"),
    ("patricia", "pat", "patty", "trish"),
    ("margaret", "maggie", "peggy"),
    ("mitchell", "mitch"),
    ("jacob", "jake"),
    ("zachary", "zach"),
    ("albert", "al"),
    ("alfred", "al"),
    ("alan", "al"),
    ("raymond", "ray"),
    ("eugene", "gene"),
    ("bernard", "bernie"),
    ("thaddeus", "thad"),
    ("rudolph", "rudy"),
    ("rohit", "ro"),
    ("earl", "buddy"),
    ("vincent", "vince"),
    ("russell", "russ"),
    ("francis", "frank"),
    ("franklin", "frank"),
    ("abigail", "abby"),
    ("valerie", "val"),
    ("victoria", "tori"),
    ("jennifer", "jen", "jenny"),
    ("gilbert", "gil"),
    ("dusty", "dustin"),
    ("ladda", "tammy"),
)
_NICKNAMES: dict[str, frozenset[str]] = {}
for _group in _NICKNAME_GROUPS:
    for _name in _group:
        _NICKNAMES[_name] = _NICKNAMES.get(_name, frozenset()) | frozenset(_group)

_FOLD_RE = re.compile(r"[.'\u2019`]")


def _fold(text: str) -> str:
    """Accent-, case- and punctuation-insensitive form ('Sánchez' -> 'sanchez')."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _FOLD_RE.sub("", plain.lower()).replace("-", " ")


def _tokens(text: str) -> list[str]:
    return _fold(text).split()


def _same_given(a: str, b: str) -> bool:
    """Two full given names (not initials) that can be the same person."""
    if a == b:
        return True
    if b in _NICKNAMES.get(a, ()):
        return True
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return len(shorter) >= 3 and longer.startswith(shorter)


@dataclass(frozen=True, slots=True)
class _Entry:
    legislator: Legislator
    last: tuple[str, ...]
    first: str  # folded; may be an initial ("j")
    names: frozenset[str]  # full (non-initial) given names: first, middles, nickname, official
    initials: frozenset[str]  # first letters of first name and official first name


def _entry(legislator: Legislator) -> _Entry:
    official = parse_person_name(legislator.official_full) if legislator.official_full else None
    given: list[str] = []
    for text in (legislator.first, legislator.middle, legislator.nickname):
        given.extend(_tokens(text))
    if official:
        for text in (official.first, official.middle, official.nickname):
            given.extend(_tokens(text))
    first_tokens = _tokens(legislator.first)
    first = first_tokens[0] if first_tokens else ""
    initials = {first[:1]} if first else set()
    if official and official.first:
        initials.add(_tokens(official.first)[0][:1])
    return _Entry(
        legislator=legislator,
        last=tuple(_tokens(legislator.last)),
        first=first,
        names=frozenset(token for token in given if len(token) > 1),
        initials=frozenset(initials),
    )


def _given_compatible(given: list[str], nickname: str, entry: _Entry) -> bool:
    """Can a name with these folded given tokens be this legislator?

    True when any full query name (first, middle or nickname) is the same given name as any of
    the legislator's (first, middle, nickname, official name), or the legislator's first name
    is an initial matching the query's first ("James French Hill" / "J. French Hill"), or the
    query has only initials and the first one matches. A query without given names is
    compatible with everyone of that last name.
    """
    full = [token for token in given if len(token) > 1]
    if nickname:
        full.append(nickname)
    if not full and not given:
        return True
    for token in full:
        for name in entry.names:
            if _same_given(token, name):
                return True
    if given and len(entry.first) == 1 and given[0][:1] == entry.first:
        return True
    if not full:
        return given[0][:1] in entry.initials
    return False


class RosterIndex:
    """Match names to legislators; a match is returned only when it is unique.

    How :meth:`match` decides:

    1. The last name must agree, accent-, case- and punctuation-insensitively. Compound last
       names work both ways: the roster's "Wasserman Schultz" matches "Debbie Wasserman
       Schultz" (the query's middle name is part of the surname), and a query's "Hernández"
       matches the roster's "Hernández Rivera".
    2. ``state`` (two letters) and ``chamber`` ("house"/"senate", checked against every chamber
       the legislator served in) are strict filters when given.
    3. The given names must be compatible: same name, a known nickname (Richard/Rick,
       James/Jim), a prefix of at least three letters (Dave/David), an initial, a middle name
       used as the first name ("A. Mitchell" / "Mitch"). No given name at all is compatible.
    4. If several remain, ``district`` keeps those in that district; then an exact first-name
       (or nickname) match is preferred. District is only a tie-breaker, never a filter,
       because districts are renumbered (Rich McCormick filed as GA06 in 2026 and the roster
       says GA07).
    5. Exactly one left: that legislator. Otherwise None.
    """

    def __init__(self, legislators: Iterable[Legislator]) -> None:
        self._entries: list[_Entry] = [_entry(legislator) for legislator in legislators]
        self._by_bioguide = {entry.legislator.bioguide: entry.legislator for entry in self._entries}
        self._by_token: dict[str, list[_Entry]] = {}
        for entry in self._entries:
            for token in set(entry.last):
                self._by_token.setdefault(token, []).append(entry)
        self._cache: dict[tuple[str, str, str, str], Legislator | None] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, bioguide: str) -> Legislator | None:
        """The legislator with this bioguide id, if in the roster."""
        return self._by_bioguide.get(bioguide)

    def candidates(
        self,
        name: str | PersonName,
        *,
        chamber: str | None = None,
        state: str | None = None,
        district: str | None = None,
        prefer_exact: bool = True,
    ) -> list[Legislator]:
        """Every legislator the name can mean after the rules above (for logs and review).

        ``prefer_exact=False`` skips rule 4's exact-first-name preference: for entries that
        may be one person under two spellings ("Thomas Udall", "Tom S Udall"), where keeping
        one silently would drop the other."""
        person = parse_person_name(name) if isinstance(name, str) else name
        last = _tokens(person.last)
        if not last:
            return []
        given = _tokens(person.first) + _tokens(person.middle)
        nickname_tokens = _tokens(person.nickname)
        nickname = nickname_tokens[0] if nickname_tokens else ""
        everything = given + last
        wanted_state = (state or "").strip().upper()
        wanted_chamber = (chamber or "").strip().lower()

        found: list[tuple[_Entry, list[str]]] = []
        for entry in self._by_token.get(last[-1], ()):
            legislator = entry.legislator
            if wanted_state and legislator.state != wanted_state:
                continue
            if wanted_chamber and wanted_chamber not in legislator.chambers:
                continue
            size = len(entry.last)
            if tuple(everything[-size:]) == entry.last and len(everything) >= size:
                entry_given = everything[:-size]
            elif _contains(entry.last, last):
                entry_given = given
            else:
                continue
            if _given_compatible(entry_given, nickname, entry):
                found.append((entry, entry_given))

        if len(found) > 1 and district:
            wanted_district = _district_number(district)
            same = [
                item
                for item in found
                if _district_number(item[0].legislator.district) == wanted_district
            ]
            if same:
                found = same
        if len(found) > 1 and prefer_exact:
            exact = [
                item
                for item in found
                if item[1]
                and (
                    item[1][0] == item[0].first
                    or item[1][0] in _tokens(item[0].legislator.nickname)
                )
            ]
            if exact:
                found = exact
        return [entry.legislator for entry, _ in found]

    def match(
        self,
        name: str | PersonName,
        *,
        chamber: str | None = None,
        state: str | None = None,
        district: str | None = None,
    ) -> Legislator | None:
        """The one legislator ``name`` can mean, or None when there is none or more than one."""
        key = None
        if isinstance(name, str):
            key = (name, chamber or "", state or "", district or "")
            if key in self._cache:
                return self._cache[key]
        found = self.candidates(name, chamber=chamber, state=state, district=district)
        result = found[0] if len(found) == 1 else None
        if key is not None:
            self._cache[key] = result
        return result


def _contains(haystack: tuple[str, ...], needle: list[str]) -> bool:
    size = len(needle)
    return any(list(haystack[i : i + size]) == needle for i in range(len(haystack) - size + 1))


def _district_number(district: str) -> int | None:
    text = (district or "").strip()
    if text.upper() == "AL":
        return 0
    return int(text) if text.isdigit() else None
