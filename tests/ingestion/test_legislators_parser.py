"""Reading the congress-legislators roster (YAML and the compact JSON)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ingestion.identity import Legislator
from ingestion.parsers import legislators as parser
from ingestion.parsers.legislators import parse_legislators_json, parse_legislators_yaml
from ingestion.records import ParseError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "legislators"


@pytest.fixture(scope="module")
def from_yaml() -> list[Legislator]:
    return parse_legislators_yaml((FIXTURES / "legislators-current.yaml").read_bytes())


@pytest.fixture(scope="module")
def from_json() -> list[Legislator]:
    return parse_legislators_json((FIXTURES / "legislators-current.compact.json").read_bytes())


def _by_id(legislators: list[Legislator]) -> dict[str, Legislator]:
    return {legislator.bioguide: legislator for legislator in legislators}


def test_the_current_roster_has_537_members_in_both_layouts(from_yaml, from_json):
    assert len(from_yaml) == 537
    assert len(from_json) == 537
    assert Counter(legislator.chamber for legislator in from_yaml) == {"house": 437, "senate": 100}
    assert Counter(legislator.party for legislator in from_yaml) == {
        "Republican": 274,
        "Democrat": 260,
        "Independent": 3,
    }


def test_yaml_and_compact_json_agree_on_every_last_term_field(from_yaml, from_json):
    def last_term(legislator: Legislator) -> dict:
        values = dataclasses.asdict(legislator)
        del values["chambers"]  # the compact JSON has the last term only
        return values

    assert [last_term(item) for item in from_yaml] == [last_term(item) for item in from_json]


def test_a_senator_who_served_in_the_house_keeps_both_chambers(from_yaml, from_json):
    assert _by_id(from_yaml)["C000127"] == Legislator(
        bioguide="C000127",
        first="Maria",
        middle="",
        last="Cantwell",
        suffix="",
        nickname="",
        official_full="Maria Cantwell",
        chamber="senate",
        state="WA",
        district="",
        party="Democrat",
        chambers=("house", "senate"),
    )
    assert _by_id(from_json)["C000127"].chambers == ("senate",)


def test_house_districts_are_two_digit_strings_like_the_house_state_dst(from_yaml):
    members = _by_id(from_yaml)
    allen = members["A000372"]
    assert (allen.first, allen.middle, allen.last) == ("Rick", "W.", "Allen")
    assert allen.state + allen.district == "GA12"
    assert members["J000301"].state + members["J000301"].district == "SD00"  # at-large
    assert members["C001051"].district == "31"


def test_at_large_seats_are_00_and_senators_have_no_district(from_yaml):
    districts = Counter(legislator.district for legislator in from_yaml)
    assert districts[""] == 100
    assert districts["00"] == 12
    assert all(len(d) == 2 and d.isdigit() for d in districts if d)


def test_names_nicknames_suffixes_and_accents_come_through(from_yaml):
    members = _by_id(from_yaml)
    assert (members["S000033"].nickname, members["S000033"].party) == ("Bernie", "Independent")
    assert members["J000288"].suffix == "Jr."
    assert members["J000288"].official_full == 'Henry C. "Hank" Johnson, Jr.'
    assert members["S001156"].last == "Sánchez"


def test_the_libyaml_loader_is_used_when_available():
    expected = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert parser._YAML_LOADER is expected


MIXED_YAML = b"""
- id: {thomas: '1'}
  name: {first: No, last: Bioguide}
  terms: [{type: rep, state: TX, district: 1, party: Democrat}]
- id: {bioguide: X000001}
  name: {first: Pat, last: Example, nickname: P}
  terms:
  - {type: rep, state: ny, district: 3, party: Republican}
  - {type: sen, state: ny, party: Republican}
- id: {bioguide: X000002}
  name: {first: Odd}
  terms: [{type: sen, state: VT, party: Independent}]
- id: {bioguide: X000003}
  name: {first: Gov, last: Ernor}
  terms: [{type: gov, state: VT, party: Independent}]
"""


def test_malformed_entries_are_skipped_and_reported_when_the_caller_asks():
    problems: list[str] = []
    found = parse_legislators_yaml(MIXED_YAML, problems=problems)
    assert found == [
        Legislator(
            bioguide="X000001",
            first="Pat",
            middle="",
            last="Example",
            suffix="",
            nickname="P",
            official_full="",
            chamber="senate",
            state="NY",
            district="",
            party="Republican",
            chambers=("house", "senate"),
        )
    ]
    assert problems == [
        "legislators YAML entry #1: has no id.bioguide",
        "legislators YAML entry #3: (X000002) has no name.last",
        "legislators YAML entry #4: (X000003) has a term of unknown type 'gov'",
    ]


def test_malformed_entries_are_skipped_without_a_problems_list_too():
    assert [item.bioguide for item in parse_legislators_yaml(MIXED_YAML)] == ["X000001"]


def test_compact_json_entries_are_checked_the_same_way():
    problems: list[str] = []
    data = (
        b'[{"bioguide": "X1", "first": "A", "last": "B", "chamber": "house", "state": "ak",'
        b' "district": 0, "party": "Republican"},'
        b' {"bioguide": "X2", "last": "C", "chamber": "governor", "state": "AK"}]'
    )
    found = parse_legislators_json(data, problems=problems)
    assert [(item.bioguide, item.state, item.district) for item in found] == [("X1", "AK", "00")]
    assert problems == ["legislators JSON entry #2: (X2) has chamber 'governor'"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "expected a non-empty list of legislators, got NoneType"),
        (b"roster: none", "expected a non-empty list of legislators, got dict"),
        (b"[unclosed", "not YAML"),
        (b"- just\n- strings\n", "no legislator could be read"),
        (b"<html><body>Rate limited</body></html>", "expected a non-empty list"),
    ],
)
def test_a_file_that_is_not_a_roster_raises_parse_error(data, message):
    with pytest.raises(ParseError, match=message) as caught:
        parse_legislators_yaml(data)
    assert caught.value.location == "legislators YAML"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{}", "expected a non-empty list of legislators, got dict"),
        (b"[]", "expected a non-empty list of legislators, got list"),
        (b"<!DOCTYPE html>", "not JSON"),
        (b'[{"name": "x"}]', "no legislator could be read \\(first problem: .*has no bioguide"),
    ],
)
def test_a_json_file_that_is_not_a_roster_raises_parse_error(data, message):
    with pytest.raises(ParseError, match=message):
        parse_legislators_json(data)
