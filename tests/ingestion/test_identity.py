"""Politician names as every source prints them, and matching them to the roster."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import unicodedata
import zipfile
from pathlib import Path

import pytest

from ingestion.identity import (
    Legislator,
    PersonName,
    RosterIndex,
    parse_person_name,
    person_name_from_parts,
    split_state_district,
)
from ingestion.parsers.legislators import parse_legislators_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "legislators"
SENATE_SEARCH = FIXTURES.parent / "senate" / "ptr-search-2026-06-window.json"


@pytest.fixture(scope="module")
def roster() -> RosterIndex:
    data = (FIXTURES / "legislators-current.compact.json").read_bytes()
    return RosterIndex(parse_legislators_json(data))


# --------------------------------------------------------------------------------------------
# Parsing names
# --------------------------------------------------------------------------------------------

NAMES = {
    # House index / PDF header
    "Hon. Richard W. Allen": PersonName(first="Richard", middle="W.", last="Allen"),
    "Hon. Marjorie Taylor Greene": PersonName(first="Marjorie", middle="Taylor", last="Greene"),
    # comma forms
    "Allen, Rick": PersonName(first="Rick", last="Allen"),
    "Peters, Gary (Senator)": PersonName(first="Gary", last="Peters"),
    "McConnell, A. Mitchell Jr. (Senator)": PersonName(
        first="A.", middle="Mitchell", last="McConnell", suffix="Jr."
    ),
    "Capito, Shelley Moore (Senator)": PersonName(first="Shelley", middle="Moore", last="Capito"),
    # senate-stock-watcher "senator"
    "A. Mitchell Mcconnell, Jr.": PersonName(
        first="A.", middle="Mitchell", last="Mcconnell", suffix="Jr."
    ),
    "Ron L Wyden": PersonName(first="Ron", middle="L", last="Wyden"),
    "David A Perdue , Jr": PersonName(first="David", middle="A", last="Perdue", suffix="Jr."),
    "Joseph Manchin, Iii": PersonName(first="Joseph", last="Manchin", suffix="III"),
    "Michael  B Enzi": PersonName(first="Michael", middle="B", last="Enzi"),
    "Rafael Edward (Ted) Cruz": PersonName(
        first="Rafael", middle="Edward", last="Cruz", nickname="Ted"
    ),
    # eFD page filer line: the parenthesised restatement decides the last name
    "The Honorable Sheldon Whitehouse (Whitehouse, Sheldon)": PersonName(
        first="Sheldon", last="Whitehouse"
    ),
    "The Honorable John Boozman (Boozman, John)": PersonName(first="John", last="Boozman"),
    # 2026 re-creation "representative" (House index First field carries titles/credentials)
    "Kim Dr Schrier": PersonName(first="Kim", last="Schrier"),
    "Laurel Mrs Lee": PersonName(first="Laurel", last="Lee"),
    "Neal Patrick MD, Facs Dunn": PersonName(first="Neal", middle="Patrick", last="Dunn"),
    "Scott Scott Franklin": PersonName(first="Scott", middle="Scott", last="Franklin"),
    'Robert C. "Bobby" Scott': PersonName(
        first="Robert", middle="C.", last="Scott", nickname="Bobby"
    ),
    # suffixes, particles, accents, paper rows
    "Thomas H. Kean Jr": PersonName(first="Thomas", middle="H.", last="Kean", suffix="Jr."),
    "Nicholas V. Taylor": PersonName(first="Nicholas", middle="V.", last="Taylor"),
    "Chris Van Hollen": PersonName(first="Chris", last="Van Hollen"),
    "Mónica De La Cruz": PersonName(first="Mónica", last="De La Cruz"),
    "Linda T. Sánchez": PersonName(first="Linda", middle="T.", last="Sánchez"),
    "RICHARD BLUMENTHAL ": PersonName(first="Richard", last="Blumenthal"),
    "Moran,  ": PersonName(last="Moran"),
    "McConnell, Jr.": PersonName(last="McConnell", suffix="Jr."),
    "Senator": PersonName(),
    "": PersonName(),
}


@pytest.mark.parametrize(("raw", "expected"), NAMES.items())
def test_names_parse_in_every_form_the_sources_print(raw, expected):
    assert parse_person_name(raw) == expected


PARTS = [
    # Senate search rows: first_name, last_name
    ({"first": "Gary C", "last": "Peters"}, PersonName(first="Gary", middle="C", last="Peters")),
    (
        {"first": "A. Mitchell", "last": "McConnell, Jr."},
        PersonName(first="A.", middle="Mitchell", last="McConnell", suffix="Jr."),
    ),
    ({"first": "Jerry", "last": "Moran,  "}, PersonName(first="Jerry", last="Moran")),
    ({"first": "RICHARD ", "last": "BLUMENTHAL"}, PersonName(first="Richard", last="Blumenthal")),
    (
        {"first": "William F", "last": "Hagerty, IV"},
        PersonName(first="William", middle="F", last="Hagerty", suffix="IV"),
    ),
    # House index: Prefix, First, Last, Suffix
    (
        {"prefix": "Hon.", "first": "Richard W.", "last": "Allen"},
        PersonName(first="Richard", middle="W.", last="Allen"),
    ),
    (
        {"prefix": "Hon.", "first": "Thomas H.", "last": "Kean", "suffix": "Jr"},
        PersonName(first="Thomas", middle="H.", last="Kean", suffix="Jr."),
    ),
    (
        {"prefix": "Hon.", "first": 'Charles J. "Chuck"', "last": "Fleischmann"},
        PersonName(first="Charles", middle="J.", last="Fleischmann", nickname="Chuck"),
    ),
    (
        {"prefix": "Hon.", "first": "Neal Patrick MD, Facs", "last": "Dunn"},
        PersonName(first="Neal", middle="Patrick", last="Dunn"),
    ),
    (
        {"prefix": "Hon.", "first": "Richard Dean Dr", "last": "McCormick"},
        PersonName(first="Richard", middle="Dean", last="McCormick"),
    ),
    (
        {"prefix": "Hon.", "first": "Matthew Robert", "last": "Van Epps"},
        PersonName(first="Matthew", middle="Robert", last="Van Epps"),
    ),
]


@pytest.mark.parametrize(("parts", "expected"), PARTS)
def test_names_given_as_separate_fields_are_cleaned_the_same_way(parts, expected):
    assert person_name_from_parts(**parts) == expected


def test_full_name_joins_the_parts_for_display():
    name = parse_person_name("McConnell, A. Mitchell Jr. (Senator)")
    assert name.full == "A. Mitchell McConnell Jr."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GA12", ("GA", "12")),
        ("AK00", ("AK", "00")),
        ("AK-AL", ("AK", "00")),
        ("CA5", ("CA", "05")),
        ("ny10", ("NY", "10")),
        ("WV", ("WV", "")),
        ("", ("", "")),
    ],
)
def test_state_district_splits_into_state_and_two_digit_district(raw, expected):
    assert split_state_district(raw) == expected


@pytest.mark.parametrize("raw", ["G12", "GA123", "Georgia 12", "12GA"])
def test_malformed_state_district_raises_value_error(raw):
    with pytest.raises(ValueError, match="state/district"):
        split_state_district(raw)


# --------------------------------------------------------------------------------------------
# Matching against the real roster
# --------------------------------------------------------------------------------------------


def test_the_house_index_the_pdf_header_and_a_nickname_all_resolve_rick_allen(roster):
    state, district = split_state_district("GA12")
    forms = [
        roster.match("Hon. Richard W. Allen", chamber="house", state=state, district=district),
        roster.match(person_name_from_parts(prefix="Hon.", first="Richard W.", last="Allen")),
        roster.match("Allen, Rick"),
        roster.match("Rick Allen", chamber="house"),
    ]
    assert [legislator.bioguide for legislator in forms] == ["A000372"] * 4
    assert forms[0].official_full == "Rick W. Allen"


# The 13 rows of senate-efd/ptr-search-2026-06-window.json, in order.
SENATE_SEARCH_BIOGUIDES = [
    "P000595",  # Gary C Peters
    "C001114",  # John R Curtis
    "M000355",  # A. Mitchell McConnell, Jr.
    "M001243",  # David H McCormick (roster first name "Dave")
    "M000934",  # Jerry "Moran,  "
    "B001236",  # John Boozman (amendment)
    "B001236",
    "B001236",
    "F000479",  # John Fetterman
    "P000595",
    "B001277",  # RICHARD BLUMENTHAL (paper row)
    "B001299",  # James Banks (roster "Jim")
    "W000802",  # Sheldon Whitehouse
]


def test_all_13_senate_search_rows_resolve_uniquely(roster):
    rows = json.loads((SENATE_SEARCH).read_text())["data"]
    by_parts = [
        roster.match(person_name_from_parts(first=row[0], last=row[1]), chamber="senate")
        for row in rows
    ]
    without_chamber = [
        roster.match(person_name_from_parts(first=row[0], last=row[1])) for row in rows
    ]
    assert [legislator.bioguide for legislator in by_parts] == SENATE_SEARCH_BIOGUIDES
    assert [legislator.bioguide for legislator in without_chamber] == SENATE_SEARCH_BIOGUIDES


def test_the_senate_office_column_resolves_too_except_the_bare_word_on_paper_rows(roster):
    rows = json.loads((SENATE_SEARCH).read_text())["data"]
    found = [roster.match(row[2], chamber="senate") for row in rows]
    expected = [
        None if row[2] == "Senator" else bioguide
        for row, bioguide in zip(rows, SENATE_SEARCH_BIOGUIDES, strict=True)
    ]
    assert [legislator.bioguide if legislator else None for legislator in found] == expected


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _house_ptr_filers() -> list[dict[str, str]]:
    with zipfile.ZipFile(FIXTURES.parent / "house" / "2026FD.zip") as archive:
        text = archive.read("2026FD.txt").decode("utf-8-sig")
    rows = csv.DictReader(io.StringIO(text), delimiter="\t")
    distinct = {
        (row["Prefix"], row["First"], row["Last"], row["Suffix"], row["StateDst"]): row
        for row in rows
        if row["FilingType"] == "P"
    }
    return list(distinct.values())


def test_house_2026_ptr_filers_resolve_against_the_current_roster(roster):
    # Measured on 2026FD.zip (as served 2026-07-06): 87 distinct PTR filers, 87 resolve.
    # Misses: none. Before "Lizzie" joined the Elizabeth nicknames, Elizabeth Fletcher (TX07)
    # was the one miss. Hard cases that do resolve: "Richard Dean Dr" McCormick filed as GA06
    # (roster GA07, district is only a tie-breaker), "Neal Patrick MD, Facs" Dunn, "James
    # French" Hill (roster "J. French"), "Scott Scott" Franklin (roster "C. Scott"), "Rohit"
    # Khanna (roster "Ro").
    filers = _house_ptr_filers()
    resolved = []
    misses = []
    for row in filers:
        state, district = split_state_district(row["StateDst"])
        name = person_name_from_parts(
            prefix=row["Prefix"], first=row["First"], last=row["Last"], suffix=row["Suffix"]
        )
        found = roster.match(name, chamber="house", state=state, district=district)
        if found is None:
            misses.append(f"{row['First']} {row['Last']} {row['StateDst']}")
        else:
            resolved.append((row, found))
    assert len(filers) == 87
    assert len(resolved) / len(filers) >= 0.98, misses
    for row, found in resolved:
        # Never a wrong person: same state, and the roster's last name ends with the index's
        # ("April McClain" + "Delaney" is the roster's "McClain Delaney"; the index writes
        # "Sanchez" for the roster's "Sánchez").
        assert found.state == row["StateDst"][:2]
        assert found.chamber == "house"
        assert _plain(found.last).endswith(_plain(row["Last"]))


RECREATION_NAMES = [
    # (2026 re-creation "representative", "district", expected bioguide)
    ("Kim Dr Schrier", "WA08", "S001216"),
    ("Laurel Mrs Lee", "FL15", "L000597"),
    ("Neal Patrick MD, Facs Dunn", "FL02", "D000628"),
    ("Scott Mr Franklin", "FL15", "F000472"),  # roster says FL18 now
    ('Robert C. "Bobby" Scott', "VA03", "S000185"),
    ("James French Hill", "AR02", "H001072"),
    ("Donald Sternoff Beyer", "VA08", "B001292"),
    ("Thomas H. Kean", "NJ07", "K000398"),
    ("Ritchie John Torres", "NY15", "T000486"),
    ("Maria Elvira Salazar", "FL27", "S000168"),
    ("Debbie Wasserman Schultz", "FL25", "W000797"),
    ("August Lee Pfluger", "TX11", "P000048"),
    # former members are not in the current roster: unresolved, never guessed
    ("Marjorie Taylor Mrs Greene", "GA14", None),
    ("Mark Dr Green", "TN07", None),
    ("Earl Blumenauer", "OR03", None),
]


@pytest.mark.parametrize(("name", "state_district", "bioguide"), RECREATION_NAMES)
def test_community_feed_names_resolve_or_stay_unresolved(roster, name, state_district, bioguide):
    state, district = split_state_district(state_district)
    found = roster.match(name, chamber="house", state=state, district=district)
    assert (found.bioguide if found else None) == bioguide


SENATE_FEED_NAMES = [
    ("A. Mitchell Mcconnell, Jr.", "M000355"),
    ("Ronald L Wyden", "W000779"),
    ("Rafael Edward (Ted) Cruz", "C001098"),
    ("Ted Cruz", "C001098"),
    ("Ladda Tammy Duckworth", "D000622"),
    ("Shelley M Capito", "C001047"),
    ("Angus S King, Jr.", "K000383"),
    ("William Cassidy", "C001075"),
    ("Jacklyn S Rosen", "R000608"),
    ("John F Reed", "R000122"),
    ("Daniel S Sullivan", "S001198"),
    ("Bernie Sanders", "S000033"),
    ("Cindy Hyde-Smith", "H001079"),
    ("Hyde Smith, Cindy", "H001079"),
    ("Ben Ray Lujan", "L000570"),  # roster "Luján"
    ("Pat Roberts", None),  # retired
    ("Thomas R Carper", None),  # retired
]


@pytest.mark.parametrize(("name", "bioguide"), SENATE_FEED_NAMES)
def test_senate_feed_names_resolve_accent_and_nickname_insensitively(roster, name, bioguide):
    found = roster.match(name, chamber="senate")
    assert (found.bioguide if found else None) == bioguide


@pytest.mark.parametrize(
    ("name", "state", "bioguide"),
    [
        ("Moran", None, None),
        ("Moran", "KS", "M000934"),
        ("Moran", "TX", "M001224"),
        ("S. Lee", None, None),
        ("S. Lee", "NV", "L000590"),
        ("S. Lee", "PA", "L000602"),
        ("M. Kelly", None, None),
        ("M. Kelly", "AZ", "K000377"),
        ("M. Kelly", "PA", "K000376"),
    ],
)
def test_ambiguous_names_need_the_state_to_resolve(roster, name, state, bioguide):
    found = roster.match(name, state=state)
    assert (found.bioguide if found else None) == bioguide


def test_the_chamber_narrows_a_shared_last_name(roster):
    assert roster.match("Peters") is None
    assert roster.match("Peters", chamber="senate").bioguide == "P000595"
    assert roster.match("Peters", chamber="house").bioguide == "P000608"


def test_an_incompatible_first_name_does_not_match(roster):
    assert roster.match("Scott Peters", chamber="senate") is None
    assert roster.match("Gary Moran") is None


def test_candidates_lists_every_possible_legislator_for_review(roster):
    found = roster.candidates("Carter")
    assert sorted(legislator.bioguide for legislator in found) == [
        "C001051",
        "C001103",
        "C001125",
    ]


def test_a_name_without_a_last_name_matches_nobody(roster):
    assert roster.match("Senator") is None
    assert roster.match(PersonName(first="Gary")) is None


def test_roster_lookup_by_bioguide(roster):
    assert len(roster) == 537
    assert roster.get("W000802").last == "Whitehouse"
    assert roster.get("X999999") is None


def test_a_senator_matches_earlier_house_filings_only_if_the_roster_lists_the_house_term():
    banks_last_term_only = Legislator(
        bioguide="B001299",
        first="Jim",
        middle="",
        last="Banks",
        suffix="",
        nickname="",
        official_full="Jim Banks",
        chamber="senate",
        state="IN",
        district="",
        party="Republican",
    )
    banks_all_terms = dataclasses.replace(banks_last_term_only, chambers=("house", "senate"))
    assert banks_last_term_only.chambers == ("senate",)
    assert RosterIndex([banks_last_term_only]).match("Jim Banks", chamber="house") is None
    found = RosterIndex([banks_all_terms]).match("Banks, James E.", chamber="house", state="IN")
    assert found.bioguide == "B001299"
