"""Writing ingested disclosures into the database: set-based, idempotent, nothing lost.

Every record a source sends ends up as exactly one of:
- a new trade (``created``), or an existing trade whose values changed (``updated``);
- an existing trade it duplicates (``unchanged``): the same filing read again, the same filing
  from another source, or, for feeds and files, the same trade under another filing id — all
  recognised by the trade fingerprint (``ingestion.normalize.trade_fingerprint``);
- a ``RejectedRecord`` with the reason and the original record (``rejected``).
Scanned paper filings become filings that need review; a document that could not be fetched
becomes a filing with status ``error`` (retried by the next run).

Work is done per chunk of filings in one transaction, with a fixed number of queries per
chunk (never one query per record), so a 15,000-record import takes seconds.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import gc
import hashlib
import io
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone

from ingestion import normalize
from ingestion.identity import Legislator, RosterIndex, parse_person_name, person_name_from_parts
from ingestion.models import Asset, Filing, IngestionRun, Politician, RejectedRecord, Trade
from ingestion.normalize import NormalizedTrade, Rejected
from ingestion.records import RawFiling, RawRejection, RawTrade

# Sent (on commit) after new trades were stored that still have to be matched against
# subscriptions. The alerts app connects to it to enqueue matching at once.
trades_stored = Signal()

# Filings per transaction: bounded memory and lock time, few commits.
CHUNK_FILINGS = 2000
OFFICIAL_SOURCES = {Filing.Source.HOUSE_CLERK, Filing.Source.SENATE_EFD}
# Which source's reading of a filing wins when two sources send the same document.
PRECEDENCE = {
    Filing.Source.HOUSE_CLERK: 3,
    Filing.Source.SENATE_EFD: 3,
    Filing.Source.FILE: 2,
    Filing.Source.HOUSE_WATCHER: 1,
    Filing.Source.SENATE_WATCHER: 1,
}
PARTY_CODES = {"democrat": "D", "republican": "R", "independent": "I"}
TRADE_VALUE_FIELDS = (
    "transaction_type",
    "transaction_date",
    "notification_date",
    "filed_date",
    "owner",
    "amount_min",
    "amount_max",
    "amount_label",
    "amount_exact",
    "over_1m_flag",
    "asset_kind",
    "asset_description",
    "comment",
    "description",
    "cap_gains_over_200",
    "disclosure_delay_days",
    "filed_late",
    "fingerprint",
)


@dataclass
class IngestCounts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    filings_created: int = 0
    needs_review: int = 0
    document_errors: int = 0

    def add(self, other: IngestCounts) -> None:
        for name in ("fetched", "created", "updated", "unchanged", "rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.filings_created += other.filings_created
        self.needs_review += other.needs_review
        self.document_errors += other.document_errors


# --- Politicians --------------------------------------------------------------------------


def _name_key(*, last: str, first: str) -> str:
    key = f"{normalize.asset_name_key(last)}|{normalize.asset_name_key(first)}"
    return key[:200]


def _legislator_of(politician: Politician) -> Legislator:
    return Legislator(
        bioguide=politician.bioguide_id,
        first=politician.first_name,
        middle=politician.middle_name,
        last=politician.last_name,
        suffix=politician.suffix,
        nickname=politician.nickname,
        official_full=politician.full_name,
        chamber=politician.chamber,
        state=politician.state,
        district=politician.district,
        party=politician.get_party_display(),
        chambers=tuple(filter(None, politician.chambers_served.split(","))),
    )


class PoliticianResolver:
    """Finds the politician a filed name means: the roster first, else an unresolved row.

    Resolved politicians come from the roster loaded by ``load_legislators``; a name it cannot
    place uniquely becomes (or reuses) an unresolved politician keyed by chamber + name.
    Results are cached for the run, so each distinct name costs at most one query.
    """

    def __init__(self) -> None:
        resolved = list(Politician.objects.exclude(bioguide_id=""))
        self.by_bioguide = {politician.bioguide_id: politician for politician in resolved}
        self.roster = RosterIndex(_legislator_of(politician) for politician in resolved)
        self.unresolved = {
            (p.chamber, p.name_key): p for p in Politician.objects.filter(bioguide_id="")
        }
        self._cache: dict[tuple, Politician] = {}

    def resolve_many(self, specs: list[dict]) -> list[Politician]:
        """Resolve many filed names; unresolved newcomers are created in one INSERT."""
        results: list[Politician | None] = []
        pending: dict[tuple[str, str], Politician] = {}
        unsaved: dict[tuple, Politician] = {}
        for spec in specs:
            key = tuple(sorted(spec.items()))
            politician = self._cache.get(key) or unsaved.get(key)
            if politician is None:
                politician = self._match(**spec)
                if politician.pk is None:
                    new_key = (politician.chamber, politician.name_key)
                    politician = unsaved[key] = pending.setdefault(new_key, politician)
                else:
                    self._cache[key] = politician
            results.append(politician)
        if pending:
            # ignore_conflicts: another run may create the same unresolved name concurrently.
            Politician.objects.bulk_create(pending.values(), ignore_conflicts=True)
            saved = Politician.objects.filter(
                bioguide_id="", name_key__in=[name_key for _, name_key in pending]
            )
            for politician in saved:
                self.unresolved[(politician.chamber, politician.name_key)] = politician
            results = [
                self.unresolved[(p.chamber, p.name_key)] if p.pk is None else p for p in results
            ]
        for spec, politician in zip(specs, results, strict=True):
            self._cache[tuple(sorted(spec.items()))] = politician
        return results

    def resolve(self, **spec) -> Politician:
        return self.resolve_many([spec])[0]

    def _match(
        self, *, chamber, name, first="", last="", state_district="", bioguide_hint=""
    ) -> Politician:
        """The resolved or known unresolved politician, or a new unsaved unresolved one."""
        person = (
            person_name_from_parts(first=first, last=last)
            if last
            else parse_person_name(name or "")
        )
        state, district = _split_state_district(state_district)
        if person.last:
            match = self.roster.match(
                person, chamber=chamber or None, state=state or None, district=district or None
            )
            if match is None and state:
                match = self.roster.match(person, chamber=chamber or None, state=state)
            if match is not None:
                return self.by_bioguide[match.bioguide]
        # A feed's bioguide id is only trusted when the surname agrees (feeds carry wrong ids).
        hinted = self.by_bioguide.get(bioguide_hint)
        if hinted and person.last and _same_surname(hinted.last_name, person.last):
            return hinted
        last_name = person.last or (name or "").strip() or "Unknown"
        key = (chamber, _name_key(last=last_name, first=person.first))
        return self.unresolved.get(key) or Politician(
            chamber=chamber,
            name_key=key[1],
            bioguide_id="",
            first_name=person.first[:100],
            middle_name=person.middle[:100],
            last_name=last_name[:100],
            suffix=person.suffix[:20],
            nickname=person.nickname[:100],
            full_name=(person.full or last_name)[:200],
            state=state,
            district=district,
            is_resolved=False,
        )


def _split_state_district(raw: str) -> tuple[str, str]:
    raw = (raw or "").strip().upper()
    if len(raw) >= 2 and raw[:2].isalpha():
        digits = raw[2:].strip()
        return raw[:2], digits.zfill(2) if digits.isdigit() else ""
    return "", ""


def _same_surname(a: str, b: str) -> bool:
    return normalize.asset_name_key(a) == normalize.asset_name_key(b)


def politician_key(politician: Politician) -> str:
    """The politician part of a trade fingerprint: stable across sources."""
    return politician.bioguide_id or f"{politician.chamber}:{politician.name_key}"


def legislators_load(*, legislators: list[Legislator]) -> dict[str, int]:
    """Upsert the roster by bioguide id, then re-resolve politicians that were unresolved.

    Members in the file are marked in office; members no longer in it keep their rows (their
    trades stay theirs) but lose the in-office flag.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0, "merged": 0}
    with transaction.atomic():
        existing = {p.bioguide_id: p for p in Politician.objects.exclude(bioguide_id="")}
        to_create, to_update = [], []
        for legislator in legislators:
            politician = existing.get(legislator.bioguide)
            # Chambers served only grow: a roster without past terms (the compact JSON lists
            # the last one) must not forget a senator's House years another file recorded.
            served = set(legislator.chambers)
            if politician is not None:
                served.update(filter(None, politician.chambers_served.split(",")))
            values = {
                "first_name": legislator.first[:100],
                "middle_name": legislator.middle[:100],
                "last_name": legislator.last[:100],
                "suffix": legislator.suffix[:20],
                "nickname": legislator.nickname[:100],
                "full_name": (legislator.official_full or legislator.first + " " + legislator.last)[
                    :200
                ],
                "chamber": legislator.chamber,
                "chambers_served": ",".join(sorted(served)),
                "party": PARTY_CODES.get(legislator.party.lower(), ""),
                "state": legislator.state,
                "district": legislator.district,
                "name_key": _name_key(last=legislator.last, first=legislator.first),
                "is_resolved": True,
                "in_office": True,
            }
            if politician is None:
                to_create.append(Politician(bioguide_id=legislator.bioguide, **values))
            elif any(getattr(politician, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(politician, name, value)
                politician.updated_at = timezone.now()  # bulk_update does not apply auto_now
                to_update.append(politician)
            else:
                counts["unchanged"] += 1
        Politician.objects.bulk_create(to_create, batch_size=500)
        Politician.objects.bulk_update(
            to_update,
            [*values.keys(), "updated_at"] if to_update else ["in_office"],
            batch_size=500,
        )
        counts["created"], counts["updated"] = len(to_create), len(to_update)
        in_file = {legislator.bioguide for legislator in legislators}
        Politician.objects.exclude(bioguide_id="").exclude(bioguide_id__in=in_file).update(
            in_office=False
        )
        counts["merged"] = _merge_unresolved()
    return counts


def _merge_unresolved() -> int:
    """Attach trades of unresolved politicians the roster can now place to the right member."""
    resolver = PoliticianResolver()
    merged = 0
    for orphan in Politician.objects.filter(bioguide_id=""):
        state_district = f"{orphan.state}{orphan.district}"
        name = f"{orphan.first_name} {orphan.middle_name} {orphan.last_name}".strip()
        person = parse_person_name(name)
        state, district = _split_state_district(state_district)
        match = resolver.roster.match(
            person, chamber=orphan.chamber, state=state or None, district=district or None
        )
        if match is None:
            continue
        member = resolver.by_bioguide[match.bioguide]
        Filing.objects.filter(politician=orphan).update(politician=member)
        trades = list(Trade.objects.filter(politician=orphan).select_related("asset"))
        for trade in trades:
            trade.politician = member
            trade.fingerprint = _fingerprint(member, trade.asset, trade)
            trade.content_hash = _content_hash(
                {name: getattr(trade, name) for name in TRADE_VALUE_FIELDS}, trade.asset_id
            )
        Trade.objects.bulk_update(
            trades, ["politician", "fingerprint", "content_hash"], batch_size=500
        )
        _repoint_many_to_many(orphan=orphan, member=member)
        orphan.delete()
        merged += 1
    return merged


def _repoint_many_to_many(*, orphan: Politician, member: Politician) -> None:
    """Move rows that name ``orphan`` in other apps' many-to-many tables (e.g. a subscription
    following a politician) to ``member``, so deleting the orphan does not silently empty them.
    """
    for relation in Politician._meta.related_objects:
        if not relation.many_to_many:
            continue
        through = relation.through
        source = relation.field.m2m_field_name()  # the row's owner, e.g. the subscription
        target = relation.field.m2m_reverse_field_name()  # the politician
        already = through.objects.filter(**{target: member}).values(source)
        through.objects.filter(**{target: orphan}).exclude(**{f"{source}__in": already}).update(
            **{target: member}
        )


# --- Assets -------------------------------------------------------------------------------


def _asset_key(trade: NormalizedTrade) -> tuple[str, str]:
    if trade.ticker:
        return ("t", trade.ticker.upper()[:12])
    return ("n", (normalize.asset_name_key(trade.asset_name) or "unknown asset")[:300])


def assets_for(trades: Iterable[NormalizedTrade]) -> dict[tuple[str, str], Asset]:
    """Existing or new assets for every ticker / description, in three queries."""
    wanted: dict[tuple[str, str], NormalizedTrade] = {}
    for trade in trades:
        wanted.setdefault(_asset_key(trade), trade)
    tickers = [value for kind, value in wanted if kind == "t"]
    names = [value for kind, value in wanted if kind == "n"]

    def load() -> dict[tuple[str, str], Asset]:
        found = {}
        for chunk in _chunks(tickers, 900):
            found.update({("t", a.ticker): a for a in Asset.objects.filter(ticker__in=chunk)})
        for chunk in _chunks(names, 900):
            found.update(
                {("n", a.name_key): a for a in Asset.objects.filter(ticker="", name_key__in=chunk)}
            )
        return found

    assets = load()
    missing = [key for key in wanted if key not in assets]
    if missing:
        Asset.objects.bulk_create(
            [
                Asset(
                    ticker=value if kind == "t" else "",
                    name=(wanted[(kind, value)].asset_name or value)[:300],
                    name_key=value
                    if kind == "n"
                    else normalize.asset_name_key(wanted[(kind, value)].asset_name)[:300],
                    kind=wanted[(kind, value)].asset_type,
                )
                for kind, value in missing
            ],
            ignore_conflicts=True,  # a concurrent run may have created some
            batch_size=500,
        )
        tickers = [value for kind, value in missing if kind == "t"]
        names = [value for kind, value in missing if kind == "n"]
        assets.update(load())
    return assets


# --- Trades -------------------------------------------------------------------------------


def _fingerprint(politician: Politician, asset: Asset, trade) -> str:
    return normalize.trade_fingerprint(
        politician_key=politician_key(politician),
        transaction_date=trade.transaction_date,
        ticker=asset.ticker,
        asset_name=asset.name if not asset.ticker else "",
        transaction_type=trade.transaction_type,
        amount_min=trade.amount_min,
        amount_max=trade.amount_max,
        owner=trade.owner,
    )


def _trade_values(
    trade: NormalizedTrade,
    *,
    politician: Politician,
    asset: Asset,
    filed_date: dt.date | None,
    fingerprint: str = "",
) -> dict:
    filed = trade.filed_date or filed_date
    delay = (
        normalize.disclosure_delay_days(transaction_date=trade.transaction_date, filed_date=filed)
        if filed
        else None
    )
    late = (
        normalize.is_late(
            transaction_date=trade.transaction_date,
            filed_date=filed,
            notification_date=trade.notification_date,
        )
        if filed
        else False
    )
    values = {
        "transaction_type": trade.transaction_type,
        "transaction_date": trade.transaction_date,
        "notification_date": trade.notification_date,
        "filed_date": filed,
        "owner": trade.owner,
        "amount_min": trade.amount_min,
        "amount_max": trade.amount_max,
        "amount_label": trade.amount_label[:100],
        "amount_exact": trade.amount_exact,
        "over_1m_flag": trade.over_1m_flag,
        "asset_kind": trade.asset_type,
        "asset_description": trade.asset_name[:500],
        "comment": trade.comment,
        "description": trade.description,
        "cap_gains_over_200": trade.cap_gains_over_200,
        "disclosure_delay_days": delay,
        "filed_late": late,
    }
    values["fingerprint"] = fingerprint or _fingerprint(politician, asset, trade)
    return values


def _content_hash(values: dict, asset_id: int) -> str:
    parts = [str(values[name]) for name in TRADE_VALUE_FIELDS] + [str(asset_id)]
    return hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()


@dataclass
class _Incoming:
    raw: RawFiling
    digest: str = ""
    filing: Filing | None = None
    politician: Politician | None = None
    trades: list[NormalizedTrade] = field(default_factory=list)
    rejected_rows: int = 0
    known: bool = False  # the filing existed before this chunk
    created: int = 0  # trades this chunk created for it


# Part of every filing digest: bump it when normalisation or matching rules change, so the
# next import reads every filing again instead of trusting digests of the old rules.
DIGEST_VERSION = "1"


def _digest(raw: RawFiling, source: str) -> str:
    head = {k: v for k, v in vars(raw).items() if k != "trades"}
    parts = [DIGEST_VERSION, source, repr(head)]
    parts.extend(repr(vars(trade)) for trade in raw.trades)
    return hashlib.sha1("\x1e".join(parts).encode(), usedforsecurity=False).hexdigest()


def _parse_date_or_none(raw: str) -> dt.date | None:
    if not raw or not raw.strip():
        return None
    try:
        return normalize.parse_date(raw, field="filed_date")
    except Rejected:
        return None


def _raw_payload(record: RawTrade | RawFiling) -> str:
    data = dataclasses.asdict(record)
    data.pop("trades", None)
    return json.dumps(data, default=str, ensure_ascii=False)


def _filing_status(raw: RawFiling) -> tuple[str, str]:
    if raw.extra.get("fetch_error"):
        return Filing.Status.ERROR, str(raw.extra["fetch_error"])
    if raw.is_paper:
        return Filing.Status.NEEDS_REVIEW, ""
    return Filing.Status.PARSED, str(raw.extra.get("integrity_error", "") or "")


@contextmanager
def bulk_work() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the length of a bulk import.

    An import allocates tens of thousands of small acyclic records; the cycle collector keeps
    re-scanning them (it made the 15k-record import take 3-4 s instead of 2.6 s, and erratic).
    Reference counting still frees everything; one collection runs at the end. Safe to nest.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def filings_ingest(
    filings: Iterable[RawFiling],
    *,
    run: IngestionRun,
    source: str,
    today: dt.date | None = None,
    notify: bool = True,
    rejections: Iterable[RawRejection] = (),
    progress: Callable[[IngestCounts], None] | None = None,
    chunk_size: int = CHUNK_FILINGS,
) -> IngestCounts:
    """Store parsed filings and their trades (see the module docstring for the rules).

    ``notify=False`` (historical imports) stores trades as already matched, so a backfill of
    old trades never sends alerts. Each chunk commits on its own: ``progress`` is called with
    the running totals after every commit, so a caller whose source fails half-way still knows
    what was stored.
    """
    with bulk_work():
        return _filings_ingest(
            filings, run=run, source=source, today=today or timezone.now().date(),
            notify=notify, rejections=rejections, progress=progress, chunk_size=chunk_size,
        )  # fmt: skip


def _filings_ingest(filings, *, run, source, today, notify, rejections, progress, chunk_size):
    total = IngestCounts()
    resolver = PoliticianResolver()
    pending_rejections = list(rejections)
    chunks = _chunks(filings, chunk_size)
    # Rejections ride with the first chunk, even an empty one (a file of only bad records).
    for chunk in itertools.chain([next(chunks, [])], chunks):
        total.add(
            _ingest_chunk(
                chunk,
                run=run,
                source=source,
                today=today,
                notify=notify,
                resolver=resolver,
                rejections=pending_rejections,
            )
        )
        pending_rejections = []
        if progress:
            progress(total)
    return total


def _ingest_chunk(
    raw_filings: list[RawFiling],
    *,
    run: IngestionRun,
    source: str,
    today: dt.date,
    notify: bool,
    resolver: PoliticianResolver,
    rejections: list[RawRejection],
) -> IngestCounts:
    counts = IngestCounts()
    rejected: list[RejectedRecord] = [
        RejectedRecord(
            run=run, source=source, location=r.location[:500], reason=r.reason, payload=r.payload
        )
        for r in rejections
    ]
    counts.fetched += len(rejections)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Don't wait for the WAL flush at commit: a crash can lose only the last moments
            # of an import, never corrupt it, and re-running the import restores them.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        existing = _existing_filings(raw_filings)
        incoming = _normalise_chunk(
            raw_filings, existing=existing, today=today, source=source, run=run,
            resolver=resolver, rejected=rejected, counts=counts,
        )  # fmt: skip
        _upsert_filings(incoming, existing=existing, source=source, counts=counts)
        assets = assets_for(trade for item in incoming for trade in item.trades)
        ordinary = [item for item in incoming if not item.raw.is_amendment]
        amendments = [item for item in incoming if item.raw.is_amendment]
        _upsert_trades(ordinary, assets=assets, source=source, notify=notify, counts=counts,
                       rejected=rejected, run=run)  # fmt: skip
        _apply_amendments(amendments, assets=assets, source=source, notify=notify, counts=counts,
                          rejected=rejected, run=run)  # fmt: skip
        _refresh_trade_counts(
            [
                item.filing
                for item in incoming
                if item.created != len(item.trades) or item.known or item.raw.is_amendment
            ]
        )
        RejectedRecord.objects.bulk_create(rejected, batch_size=500)
        counts.rejected += len(rejected)
        if counts.created and notify:
            created = counts.created
            transaction.on_commit(lambda: trades_stored.send(sender=Trade, count=created))
    return counts


def _existing_filings(raw_filings: list[RawFiling]) -> dict[tuple[str, str], Filing]:
    existing: dict[tuple[str, str], Filing] = {}
    by_chamber: dict[str, list[str]] = defaultdict(list)
    for raw in raw_filings:
        by_chamber[raw.chamber].append(raw.doc_id)
    for chamber, doc_ids in by_chamber.items():
        for chunk in _chunks(doc_ids, 900):
            for filing in Filing.objects.filter(chamber=chamber, doc_id__in=chunk):
                existing[(chamber, filing.doc_id)] = filing
    return existing


def _normalise_chunk(raw_filings, *, existing, today, source, run, resolver, rejected, counts):
    incoming: list[_Incoming] = []
    keys_seen: set[tuple[str, str]] = set()
    for raw in raw_filings:
        records = len(raw.trades) or 1  # a paper filing, or a failed fetch, is one record
        if (raw.chamber, raw.doc_id) in keys_seen:
            # The same document listed twice in one batch: the first reading stands.
            counts.fetched += records
            counts.unchanged += records
            continue
        keys_seen.add((raw.chamber, raw.doc_id))
        if not raw.doc_id:
            counts.fetched += records
            rejected.append(
                RejectedRecord(
                    run=run,
                    source=source,
                    location=raw.location[:500],
                    reason="the filing has no document id, so it cannot be stored or deduplicated",
                    payload=_raw_payload(raw),
                )
            )
            continue
        digest = _digest(raw, source)
        known = existing.get((raw.chamber, raw.doc_id))
        if known is not None and known.source == source and known.source_digest == digest:
            # Read before, identically and completely: every record is an unchanged duplicate.
            counts.fetched += records
            counts.unchanged += records
            continue
        item = _Incoming(raw=raw, digest=digest)
        counts.fetched += records
        for row_error in raw.extra.get("row_errors", []) or []:
            counts.fetched += 1
            item.rejected_rows += 1
            rejected.append(
                RejectedRecord(
                    run=run,
                    source=source,
                    location=f"{raw.location} row {row_error.get('row')}"[:500],
                    reason=str(row_error.get("reason", "unreadable row")),
                    payload=str(row_error.get("text", "")),
                )
            )
        for raw_trade in raw.trades:
            if not raw_trade.chamber:
                raw_trade.chamber = raw.chamber
            if not raw_trade.filed_date:
                raw_trade.filed_date = raw.filed_date
            try:
                item.trades.append(normalize.normalize_trade(raw_trade, today=today))
            except Rejected as error:
                item.rejected_rows += 1
                rejected.append(
                    RejectedRecord(
                        run=run,
                        source=source,
                        location=raw_trade.location[:500],
                        reason=str(error),
                        payload=_raw_payload(raw_trade),
                    )
                )
        incoming.append(item)
    politicians = resolver.resolve_many([_name_spec(item.raw) for item in incoming])
    for item, politician in zip(incoming, politicians, strict=True):
        item.politician = politician
    return incoming


def _name_spec(raw: RawFiling) -> dict:
    first_trade = raw.trades[0] if raw.trades else None
    return {
        "chamber": raw.chamber,
        "name": raw.politician_name or (first_trade.politician_name if first_trade else ""),
        "first": raw.first_name,
        "last": raw.last_name,
        "state_district": raw.state_district or (first_trade.state_district if first_trade else ""),
        "bioguide_hint": first_trade.bioguide_id if first_trade else "",
    }


FILING_UPDATE_FIELDS = [
    "politician", "filing_type", "is_amendment", "is_paper", "title", "filed_date",
    "source_url", "status", "error", "source", "source_digest", "updated_at",
]  # fmt: skip


def _upsert_filings(incoming: list[_Incoming], *, existing, source: str, counts) -> None:
    to_create: list[Filing] = []
    to_update: list[Filing] = []
    now = timezone.now()
    for item in incoming:
        status, error = _filing_status(item.raw)
        # A digest only vouches for a complete reading: not for errors, rejected rows or a
        # document the source asks to read again (a damaged PDF download), so the next
        # reading is not taken for an unchanged duplicate and can clear the flag. (Problems a
        # new download cannot fix, such as a Senate page whose row count disagrees with its
        # summary, keep their digest: read again, they would only be fetched every run.)
        complete = (
            status != Filing.Status.ERROR
            and not item.rejected_rows
            and not item.raw.extra.get("read_again")
        )
        digest = item.digest if complete else ""
        values = {
            "filing_type": item.raw.filing_type[:40],
            "is_amendment": item.raw.is_amendment,
            "is_paper": item.raw.is_paper,
            "title": item.raw.title[:300],
            "filed_date": _parse_date_or_none(item.raw.filed_date),
            "source_url": item.raw.url[:500],
            "status": status,
            "error": error,
        }
        filing = existing.get((item.raw.chamber, item.raw.doc_id))
        if filing is None:
            filing = Filing(
                chamber=item.raw.chamber,
                doc_id=item.raw.doc_id,
                source=source,
                politician=item.politician,
                source_digest=digest,
                trade_count=len(item.trades),  # corrected below if not all are created
                **values,
            )
            to_create.append(filing)
            counts.filings_created += 1
            if status == Filing.Status.NEEDS_REVIEW:
                counts.needs_review += 1
            elif status == Filing.Status.ERROR:
                counts.document_errors += 1
        else:
            item.known = True
            if status == Filing.Status.ERROR:
                counts.document_errors += 1
            elif not item.raw.trades and not item.rejected_rows:
                # A filing without trades (a paper filing) is one record: read again, it is
                # an unchanged duplicate, as when its digest matches.
                counts.unchanged += 1
            replaces = PRECEDENCE[source] >= PRECEDENCE.get(filing.source, 0)
            # Never let a failed fetch or a weaker source overwrite a good reading.
            if replaces and not (status == Filing.Status.ERROR and filing.status != status):
                for name, value in values.items():
                    if value in ("", None) and name != "error":
                        continue  # a source that lacks a fact does not erase it
                    setattr(filing, name, value)
                filing.politician = item.politician
                filing.source = source
                filing.source_digest = digest
                filing.updated_at = now  # bulk_update does not apply auto_now
                to_update.append(filing)
        item.filing = filing
    _create_filings(to_create, now=now)
    Filing.objects.bulk_update(to_update, FILING_UPDATE_FIELDS, batch_size=500)


def _create_filings(filings: list[Filing], *, now) -> None:
    """Insert new filings in one COPY, then read their ids back by (chamber, doc id)."""
    if not filings:
        return
    fields = [f for f in Filing._meta.concrete_fields if not f.primary_key]
    for filing in filings:
        filing.created_at = filing.updated_at = now
    _insert_rows(
        Filing, [{f.attname: getattr(filing, f.attname) for f in fields} for filing in filings]
    )
    by_chamber: dict[str, dict[str, Filing]] = defaultdict(dict)
    for filing in filings:
        by_chamber[filing.chamber][filing.doc_id] = filing
    for chamber, wanted in by_chamber.items():
        for chunk in _chunks(list(wanted), 900):
            for doc_id, pk in Filing.objects.filter(chamber=chamber, doc_id__in=chunk).values_list(
                "doc_id", "id"
            ):
                filing = wanted[doc_id]
                filing.pk = pk
                filing._state.adding = False
                filing._state.db = connection.alias


EXISTING_TRADE_FIELDS = (
    "id", "filing_id", "line_number", "fingerprint", "content_hash",
    "politician_id", "asset_id", "amended_by_id",
)  # fmt: skip


def _existing_trades(filing_ids: list[int]) -> dict[int, list[Trade]]:
    by_filing: dict[int, list[Trade]] = defaultdict(list)
    for chunk in _chunks(filing_ids, 900):
        for trade in (
            Trade.objects.filter(filing_id__in=chunk)
            .order_by("filing_id", "line_number")
            .only(*EXISTING_TRADE_FIELDS)
        ):
            by_filing[trade.filing_id].append(trade)
    return by_filing


def _upsert_trades(items, *, assets, source, notify, counts, rejected, run) -> None:
    by_filing = _existing_trades(
        [item.filing.id for item in items if item.trades and item.filing.trade_count]
    )
    printed = [
        [
            (normalized, asset, _fingerprint(item.politician, asset, normalized))
            for normalized in item.trades
            for asset in (assets[_asset_key(normalized)],)
        ]
        for item in items
    ]
    # Feeds and files: the same trade under another filing id is a duplicate, not a new trade.
    cross_source = source not in OFFICIAL_SOURCES
    elsewhere: dict[str, set[int]] = {}
    if cross_source:
        elsewhere = _stored_fingerprints(
            list({fingerprint for rows in printed for _, _, fingerprint in rows})
        )
    to_update: list[Trade] = []
    # The decisions are a generator that COPY consumes: PostgreSQL stores the first new trades
    # while the later ones are still being decided. Nothing in it may query the database.
    new_rows = _decide_trades(
        items, printed, by_filing=by_filing, elsewhere=elsewhere, cross_source=cross_source,
        source=source, notify=notify, counts=counts, rejected=rejected, run=run,
        to_update=to_update,
    )  # fmt: skip
    _insert_rows(Trade, new_rows)
    _update_trades(to_update)


def _stored_fingerprints(prints: list[str]) -> dict[str, set[int]]:
    """The fingerprints in ``prints`` that a stored trade already has, with the filings
    that hold them (a row is only a cross-filing duplicate of a trade in *another* filing).
    """
    found: dict[str, set[int]] = defaultdict(set)
    if not prints:
        return found
    if connection.vendor == "postgresql":
        # One query with an array parameter: an IN list makes Django prepare each of the
        # thousands of values one by one.
        table = connection.ops.quote_name(Trade._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT fingerprint, filing_id FROM {table} "  # noqa: S608
                "WHERE fingerprint = ANY(%s)",
                [prints],
            )
            pairs = cursor.fetchall()
    else:
        pairs = [
            pair
            for chunk in _chunks(prints, 900)
            for pair in Trade.objects.filter(fingerprint__in=chunk)
            .values_list("fingerprint", "filing_id")
            .distinct()
        ]
    for fingerprint, filing_id in pairs:
        found[fingerprint].add(filing_id)
    return found


def _decide_trades(
    items, printed, *, by_filing, elsewhere, cross_source, source, notify, counts, rejected, run,
    to_update,
) -> Iterator[dict]:  # fmt: skip
    """Match each incoming row to a stored trade; yield the rows of new trades.

    Counts, updates and rejections are recorded as the rows are decided.
    """
    now = timezone.now()
    created_in: dict[str, int] = {}  # fingerprint -> filing id, for trades created in this chunk
    for item, fingerprinted in zip(items, printed, strict=True):
        filing = item.filing
        rows = []
        for normalized, asset, fingerprint in fingerprinted:
            values = _trade_values(
                normalized,
                politician=item.politician,
                asset=asset,
                filed_date=filing.filed_date,
                fingerprint=fingerprint,
            )
            rows.append((normalized, asset, values, _content_hash(values, asset.id)))
        existing = by_filing.get(filing.id, [])
        authoritative = PRECEDENCE[source] >= PRECEDENCE.get(filing.source, 0)
        matches = _match_rows(rows, existing, authoritative=authoritative)
        used_lines = {trade.line_number for trade in existing}
        next_line = max(used_lines, default=0) + 1
        for (normalized, asset, values, content), match in zip(rows, matches, strict=True):
            if match is not None:
                # A trade an amendment corrected keeps the correction when the original is
                # read again.
                kept = match.amended_by_id is not None and match.amended_by_id != filing.id
                if match.content_hash == content or not authoritative or kept:
                    counts.unchanged += 1
                else:
                    for name, value in values.items():
                        setattr(match, name, value)
                    match.asset = asset
                    match.content_hash = content
                    to_update.append(match)
                    counts.updated += 1
                continue
            if existing and not authoritative:
                rejected.append(
                    RejectedRecord(
                        run=run,
                        source=source,
                        location=normalized.location[:500],
                        reason=(
                            f"filing {filing.doc_id} was already read from the official source "
                            f"({filing.get_source_display()}) and has no trade matching this row; "
                            "the official reading is kept"
                        ),
                        payload=json.dumps(dataclasses.asdict(normalized), default=str),
                    )
                )
                continue
            fingerprint = values["fingerprint"]
            # A row no stored trade of its own filing matched is a cross-filing duplicate when
            # a trade with its fingerprint is stored under, or was just created in, *another*
            # filing. This must not depend on whether the filing already has trades: a feed
            # filing that restates trades of another filing (the flat Senate feed lists
            # restated PTRs under their own links) stores only its other rows on the first
            # import, and when it was read again with a changed digest (DIGEST_VERSION bump, a
            # corrected field) a "filing has no stored trades yet" condition here skipped the
            # check, so its restated rows were created as duplicates (23 trades in the flat
            # feed). Stored trades of the filing itself do not count: they were matched above,
            # and a filing may list two rows with one fingerprint (two lots), each a trade.
            stored_in = elsewhere.get(fingerprint)
            if cross_source and (
                (stored_in and (len(stored_in) > 1 or filing.id not in stored_in))
                or created_in.get(fingerprint, filing.id) != filing.id
            ):
                counts.unchanged += 1  # reported already under another filing id
                continue
            created_in.setdefault(fingerprint, filing.id)
            line = normalized.line_number
            if line in used_lines or line < 1:
                line = next_line
            used_lines.add(line)
            next_line = max(next_line, line + 1)
            item.created += 1
            counts.created += 1
            yield {
                **values,
                "filing_id": filing.id,
                "line_number": line,
                "politician_id": item.politician.id,
                "asset_id": asset.id,
                "chamber": filing.chamber,
                "content_hash": content,
                "amended_by_id": None,
                "matched_at": None if notify else now,
                "created_at": now,
                "updated_at": now,
            }


def _match_rows(rows, existing: list[Trade], *, authoritative: bool) -> list[Trade | None]:
    """Pair incoming rows of one filing with its stored trades, in two passes.

    First every row claims a stored trade with its fingerprint (the identical one first, then
    the one on the same line); only then may a still-unmatched row take the unclaimed trade
    on its line (the same line read differently). One pass would let an inserted row take a
    trade that a later row matches exactly, shifting identities down the filing.
    """
    by_print: dict[str, list[Trade]] = defaultdict(list)
    for trade in existing:
        by_print[trade.fingerprint].append(trade)
    claimed: set[int] = set()
    matches: list[Trade | None] = []
    for normalized, _asset, values, content in rows:
        same = [t for t in by_print.get(values["fingerprint"], []) if t.id not in claimed]
        match = next((t for t in same if t.content_hash == content), None) or next(
            (t for t in same if t.line_number == normalized.line_number),
            same[0] if same else None,
        )
        if match is not None:
            claimed.add(match.id)
        matches.append(match)
    if authoritative and existing:
        by_line = {trade.line_number: trade for trade in existing}
        for index, (normalized, *_rest) in enumerate(rows):
            candidate = by_line.get(normalized.line_number)
            if matches[index] is None and candidate is not None and candidate.id not in claimed:
                claimed.add(candidate.id)
                matches[index] = candidate
    return matches


TRADE_UPDATE_FIELDS = [*TRADE_VALUE_FIELDS, "asset", "content_hash", "amended_by", "updated_at"]


def _update_trades(to_update: list[Trade]) -> None:
    now = timezone.now()
    for trade in to_update:
        trade.updated_at = now  # bulk_update does not apply auto_now
    Trade.objects.bulk_update(to_update, TRADE_UPDATE_FIELDS, batch_size=500)


def _insert_rows(model, rows: Iterable[dict]) -> None:
    """INSERT new rows of ``model`` (dicts keyed by attname, every concrete field but the id).

    Django's bulk_create spends most of a large import building model instances and preparing
    each value; these rows are already clean, so they go to the driver directly: COPY on
    PostgreSQL, executemany on SQLite. ``rows`` may be a generator: PostgreSQL reads it as it
    is produced, storing the first rows while Python still produces the next. Ids are not
    returned: callers read them back by their natural key when they need them.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    rows = itertools.chain([first], rows)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    column_sql = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            converters = [(f.attname, _copy_converter(f)) for f in fields]
            lines = _CsvReader(
                [
                    row[name] if convert is None else convert(row[name])
                    for name, convert in converters
                ]
                for row in rows
            )
            # NULL is \N, so an empty string stays an empty string.
            # Columns that cannot be NULL read "\\N" literally (a comment may say "\\N").
            not_null = ", ".join(connection.ops.quote_name(f.column) for f in fields if not f.null)
            try:
                cursor.cursor.copy_expert(
                    f"COPY {table} ({column_sql}) FROM STDIN WITH "
                    f"(FORMAT csv, NULL '\\N', FORCE_NOT_NULL ({not_null}))",
                    lines,
                    size=_COPY_READ_SIZE,
                )
            except Exception:
                # The driver reports a failure while producing the rows as a cancelled COPY;
                # raise what actually failed (a bug, a time limit) instead.
                if lines.error is not None:
                    raise lines.error from None
                raise
        else:
            ops = connection.ops
            adapt = {
                f.attname: ops.adapt_datetimefield_value
                if f.get_internal_type() == "DateTimeField"
                else ops.adapt_datefield_value
                for f in fields
                if f.get_internal_type() in ("DateTimeField", "DateField")
            }
            values = [
                tuple(
                    adapt[name](row[name]) if name in adapt and row[name] is not None else row[name]
                    for name in names
                )
                for row in rows
            ]
            placeholders = ", ".join(["%s"] * len(names))
            sql = f"INSERT INTO {table} ({column_sql}) VALUES ({placeholders})"  # noqa: S608
            cursor.executemany(sql, values)


# Characters of CSV handed to COPY per read: large enough that the per-read overhead is
# negligible, small enough that the server starts storing rows early.
_COPY_READ_SIZE = 64 * 1024


class _CsvReader:
    """The ``read()`` COPY FROM STDIN calls: formats rows as CSV only as they are asked for."""

    def __init__(self, rows: Iterable[list]) -> None:
        self._rows = iter(rows)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self.error: BaseException | None = None  # what failed while producing the rows

    def read(self, size: int = -1) -> str:
        buffer, writerow = self._buffer, self._writer.writerow
        try:
            for row in self._rows:
                writerow(row)
                if 0 < size <= buffer.tell():
                    break
        except BaseException as error:
            self.error = error
            raise
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text


@functools.lru_cache(maxsize=8192)
def _iso_or_null(value) -> str:
    # Cached: an import repeats the same few thousand dates (and one "now") many times over.
    return "\\N" if value is None else value.isoformat()


def _copy_converter(model_field):
    """How one column's Python value is written for COPY (None when it needs no change)."""
    if model_field.get_internal_type() in ("DateField", "DateTimeField"):
        return _iso_or_null
    if model_field.null:
        return lambda value: "\\N" if value is None else value
    return None


def _refresh_trade_counts(filings: list[Filing]) -> None:
    """One UPDATE per chunk: each filing's trade_count from its trades."""
    per_filing = (
        Trade.objects.filter(filing=OuterRef("pk"))
        .order_by()
        .values("filing")
        .annotate(n=Count("id"))
        .values("n")
    )
    for chunk in _chunks([filing.id for filing in filings], 900):
        Filing.objects.filter(id__in=chunk).update(trade_count=Coalesce(Subquery(per_filing), 0))


def _amendment_key(trade) -> tuple:
    family = "sale" if trade.transaction_type.startswith("sale") else trade.transaction_type
    return (trade.transaction_date, trade.owner, family, trade.amount_min, trade.amount_max)


def _apply_amendments(items, *, assets, source, notify, counts, rejected, run) -> None:
    """An amendment restates a filing under a new id: update the trades it restates.

    A restated trade is an earlier trade of the same politician with the same date, owner,
    transaction family and amount band, and the same asset (ticker, or description when the
    original had no ticker). Lines of the amendment that restate nothing are new trades.
    """
    for item in items:
        if not item.trades:
            continue
        dates = {trade.transaction_date for trade in item.trades}
        earlier = list(
            Trade.objects.filter(politician=item.politician, transaction_date__in=dates)
            .exclude(filing=item.filing)
            .select_related("asset")
        )
        pool: dict[tuple, list[Trade]] = defaultdict(list)
        for trade in earlier:
            pool[_amendment_key(trade)].append(trade)
        leftovers = []
        to_update = []
        for normalized in item.trades:
            asset = assets[_asset_key(normalized)]
            candidates = pool.get(_amendment_key(normalized), [])
            match = next((t for t in candidates if t.asset_id == asset.id), None) or next(
                (
                    t
                    for t in candidates
                    if not t.asset.ticker
                    and normalize.asset_name_key(t.asset.name)
                    == normalize.asset_name_key(normalized.asset_name)
                ),
                None,
            )
            if match is None:
                leftovers.append(normalized)
                continue
            candidates.remove(match)
            values = _trade_values(
                normalized,
                politician=item.politician,
                asset=asset,
                filed_date=item.filing.filed_date,
            )
            # The restated trade was disclosed when it was first filed: keep that date, delay
            # and late flag; the amendment only corrects what it says about the trade.
            for name in ("filed_date", "disclosure_delay_days", "filed_late"):
                values[name] = getattr(match, name)
            content = _content_hash(values, asset.id)
            if match.content_hash == content and match.amended_by_id == item.filing.id:
                counts.unchanged += 1
                continue
            for name, value in values.items():
                setattr(match, name, value)
            match.asset = asset
            match.content_hash = content
            match.amended_by = item.filing
            to_update.append(match)
            counts.updated += 1
        _update_trades(to_update)
        item.trades = leftovers
    _upsert_trades(items, assets=assets, source=source, notify=notify, counts=counts,
                   rejected=rejected, run=run)  # fmt: skip


# --- Runs ---------------------------------------------------------------------------------


def run_start(*, source: str, start_date=None, end_date=None, task_id: str = "") -> IngestionRun:
    return IngestionRun.objects.create(
        source=source, start_date=start_date, end_date=end_date, task_id=task_id or ""
    )


def run_finish(run: IngestionRun, counts: IngestCounts, *, error: str = "", detail=None) -> None:
    run.fetched = counts.fetched
    run.created = counts.created
    run.updated = counts.updated
    run.unchanged = counts.unchanged
    run.rejected = counts.rejected
    run.filings_created = counts.filings_created
    run.needs_review = counts.needs_review
    run.error = error
    run.detail = {**(detail or {}), "document_errors": counts.document_errors}
    if error:
        run.status = IngestionRun.Status.FAILED
    elif counts.rejected or counts.document_errors:
        run.status = IngestionRun.Status.PARTIAL
    else:
        run.status = IngestionRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()


def run_result(run: IngestionRun) -> dict:
    """The JSON a task returns and a command prints."""
    return {
        "run_id": run.id,
        "source": run.source,
        "status": run.status,
        "start_date": run.start_date.isoformat() if run.start_date else None,
        "end_date": run.end_date.isoformat() if run.end_date else None,
        **run.counts(),
        "document_errors": run.detail.get("document_errors", 0),
        "error": run.error,
    }


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
