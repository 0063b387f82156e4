"""Politicians, assets, filings, trades and prices, plus the record of every ingestion run.

Invariants live in the database (named constraints); rules about one row are methods.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from ingestion import normalize


class Chamber(models.TextChoices):
    HOUSE = "house", "House"
    SENATE = "senate", "Senate"


class Politician(models.Model):
    """A member of Congress, resolved against the congress-legislators roster when possible.

    Resolved politicians carry a bioguide id (unique). A name the roster cannot place still
    becomes a politician, flagged ``is_resolved=False``, identified by chamber + ``name_key``.
    """

    class Party(models.TextChoices):
        DEMOCRAT = "D", "Democrat"
        REPUBLICAN = "R", "Republican"
        INDEPENDENT = "I", "Independent"
        UNKNOWN = "", "Unknown"

    bioguide_id = models.CharField(max_length=10, blank=True)  # "" while unresolved
    first_name = models.CharField(max_length=100, blank=True)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    suffix = models.CharField(max_length=20, blank=True)
    nickname = models.CharField(max_length=100, blank=True)
    full_name = models.CharField(max_length=200)
    chamber = models.CharField(max_length=6, choices=Chamber.choices)
    party = models.CharField(max_length=1, choices=Party.choices, blank=True)
    state = models.CharField(max_length=2, blank=True)
    district = models.CharField(max_length=2, blank=True)
    # Normalised "last|first" of the name as filed; the identity of an unresolved politician.
    name_key = models.CharField(max_length=200)
    is_resolved = models.BooleanField(default=False)
    in_office = models.BooleanField(default=False)  # in the loaded roster of current members
    # Every chamber the member served in, comma-separated ("house,senate"), from the roster's
    # terms: a senator's earlier House filings resolve to them. "" = only ``chamber``.
    chambers_served = models.CharField(max_length=20, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["bioguide_id"],
                condition=~Q(bioguide_id=""),
                name="ingestion_politician_unique_bioguide",
            ),
            models.UniqueConstraint(
                fields=["chamber", "name_key"],
                condition=Q(bioguide_id=""),
                name="ingestion_politician_unique_unresolved_name",
            ),
        ]
        indexes = [
            # Admin and API search by surname.
            models.Index(fields=["last_name"], name="ingestion_pol_last_idx"),
        ]

    def __str__(self) -> str:
        where = f"{self.state}{self.district}" if self.state else "?"
        return f"{self.full_name} ({self.party or '?'}-{where}, {self.get_chamber_display()})"


class Asset(models.Model):
    """A security: by ticker (unique, upper case) or, without one, by its description."""

    class Kind(models.TextChoices):
        STOCK = "stock", "Stock"
        OPTION = "option", "Option"
        ETF = "etf", "ETF"
        MUTUAL_FUND = "mutual_fund", "Mutual fund"
        BOND = "bond", "Bond"
        GOVERNMENT = "government", "Government security"
        CRYPTO = "crypto", "Crypto"
        PRIVATE = "private", "Non-public"
        FUND = "fund", "Fund"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    ticker = models.CharField(max_length=12, blank=True)  # "" for description-only assets
    name = models.CharField(max_length=300)
    # Normalised description: the identity of an asset without a ticker.
    name_key = models.CharField(max_length=300)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.UNKNOWN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ticker", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticker"],
                condition=~Q(ticker=""),
                name="ingestion_asset_unique_ticker",
            ),
            models.UniqueConstraint(
                fields=["name_key"],
                condition=Q(ticker=""),
                name="ingestion_asset_unique_untickered_name",
            ),
            models.CheckConstraint(
                condition=Q(ticker=Upper("ticker")),
                name="ingestion_asset_ticker_upper_case",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticker} — {self.name}" if self.ticker else self.name


class Filing(models.Model):
    """One disclosure document: a House PTR (DocID) or a Senate eFD report (UUID)."""

    class Status(models.TextChoices):
        PARSED = "parsed", "Parsed"
        NEEDS_REVIEW = "needs_review", "Needs review (scanned paper)"
        ERROR = "error", "Error"
        LISTED = "listed", "Listed, not fetched yet"

    class Source(models.TextChoices):
        HOUSE_CLERK = "house_clerk", "House Clerk"
        SENATE_EFD = "senate_efd", "Senate eFD"
        SENATE_WATCHER = "senate_watcher", "Senate Stock Watcher feed"
        HOUSE_WATCHER = "house_watcher", "House Stock Watcher feed"
        FILE = "file", "File import"

    chamber = models.CharField(max_length=6, choices=Chamber.choices)
    doc_id = models.CharField(max_length=64)
    politician = models.ForeignKey(Politician, on_delete=models.PROTECT, related_name="filings")
    filing_type = models.CharField(max_length=40, blank=True)  # raw code or title as filed
    is_amendment = models.BooleanField(default=False)
    is_paper = models.BooleanField(default=False)
    title = models.CharField(max_length=300, blank=True)
    filed_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    source_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PARSED)
    error = models.TextField(blank=True)
    trade_count = models.PositiveIntegerField(default=0)
    # Digest of the last complete reading (source + raw records); an identical re-import is
    # recognised without normalising it again. Empty when that reading rejected rows.
    source_digest = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-filed_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["chamber", "doc_id"], name="ingestion_filing_unique_chamber_doc_id"
            ),
        ]
        indexes = [
            # Admin list and "latest filings" views, newest first.
            models.Index(fields=["-filed_date"], name="ingestion_filing_filed_idx"),
            # The review queue: scanned paper filings waiting for a person.
            models.Index(
                fields=["created_at"],
                condition=Q(status="needs_review"),
                name="ingestion_filing_review_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_chamber_display()} {self.doc_id}"


class Trade(models.Model):
    """One transaction line of a filing.

    ``matched_at`` is the alerts outbox: NULL means "not matched against subscriptions yet"
    (a partial index keeps that scan cheap); the matcher claims rows with a conditional UPDATE.
    """

    class TransactionType(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        SALE_FULL = "sale_full", "Sale (full)"
        SALE_PARTIAL = "sale_partial", "Sale (partial)"
        SALE = "sale", "Sale"
        EXCHANGE = "exchange", "Exchange"

    class Owner(models.TextChoices):
        SELF = "self", "Self"
        SPOUSE = "spouse", "Spouse"
        JOINT = "joint", "Joint"
        CHILD = "child", "Dependent child"
        UNDISCLOSED = "undisclosed", "Undisclosed"

    # No single-column indexes on these three foreign keys: each is the leading column of an
    # index below (filing: the unique line constraint; politician, asset: the date indexes),
    # and every extra index costs the bulk import a B-tree insertion per trade.
    filing = models.ForeignKey(
        Filing, on_delete=models.CASCADE, related_name="trades", db_index=False
    )
    line_number = models.PositiveIntegerField()
    politician = models.ForeignKey(
        Politician, on_delete=models.PROTECT, related_name="trades", db_index=False
    )
    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="trades", db_index=False
    )
    chamber = models.CharField(max_length=6, choices=Chamber.choices)
    transaction_type = models.CharField(max_length=12, choices=TransactionType.choices)
    transaction_date = models.DateField()
    notification_date = models.DateField(null=True, blank=True)
    filed_date = models.DateField(null=True, blank=True)
    owner = models.CharField(max_length=12, choices=Owner.choices)
    amount_min = models.BigIntegerField()
    amount_max = models.BigIntegerField(null=True, blank=True)  # NULL: open-ended ("Over $50M")
    amount_label = models.CharField(max_length=100)
    amount_exact = models.BooleanField(default=False)
    over_1m_flag = models.BooleanField(default=False)
    asset_kind = models.CharField(max_length=12, choices=Asset.Kind.choices)
    asset_description = models.CharField(max_length=500, blank=True)
    comment = models.TextField(blank=True)
    description = models.TextField(blank=True)
    cap_gains_over_200 = models.BooleanField(null=True, blank=True)
    disclosure_delay_days = models.IntegerField(null=True, blank=True)
    filed_late = models.BooleanField(default=False)
    # Cross-source duplicate key (ingestion.normalize.trade_fingerprint).
    fingerprint = models.CharField(max_length=40)
    # Hash of the stored values: tells "unchanged" from "updated" on re-import.
    content_hash = models.CharField(max_length=40)
    amended_by = models.ForeignKey(
        Filing,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="amended_trades",
        db_index=False,  # partial index below: almost every trade has none
    )
    matched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-transaction_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["filing", "line_number"], name="ingestion_trade_unique_filing_line"
            ),
            models.CheckConstraint(
                condition=Q(amount_max__isnull=True) | Q(amount_min__lte=F("amount_max")),
                name="ingestion_trade_amount_min_lte_max",
            ),
            models.CheckConstraint(
                condition=Q(amount_min__gte=0), name="ingestion_trade_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(line_number__gte=1), name="ingestion_trade_line_number_positive"
            ),
        ]
        indexes = [
            # The alerts outbox: trades not matched yet.
            models.Index(
                fields=["id"],
                condition=Q(matched_at__isnull=True),
                name="ingestion_trade_unmatched_idx",
            ),
            # Cross-source duplicate and amendment lookups.
            models.Index(fields=["fingerprint"], name="ingestion_trade_fprint_idx"),
            # A politician's trades, newest first (politician pages, amendment matching).
            models.Index(
                fields=["politician", "-transaction_date"], name="ingestion_trade_pol_date_idx"
            ),
            # A ticker's trades, newest first; also which tickers traded recently (prices).
            models.Index(fields=["asset", "-transaction_date"], name="ingestion_trade_asset_idx"),
            # Admin list sorted by date.
            models.Index(fields=["-transaction_date"], name="ingestion_trade_date_idx"),
            # A filing's restated trades (admin, and SET NULL when an amendment is deleted).
            models.Index(
                fields=["amended_by"],
                condition=Q(amended_by__isnull=False),
                name="ingestion_trade_amended_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.politician_id} {self.transaction_type} {self.asset} {self.transaction_date}"

    def disclosure_deadline(self) -> dt.date:
        """STOCK Act: 30 days after notification, and never later than 45 after the trade."""
        return normalize.disclosure_deadline(
            transaction_date=self.transaction_date, notification_date=self.notification_date
        )

    def disclosure_delay(self) -> int | None:
        """Days from the transaction to the filing, or None while the filing date is unknown."""
        if self.filed_date is None:
            return None
        return normalize.disclosure_delay_days(
            transaction_date=self.transaction_date, filed_date=self.filed_date
        )

    def is_late(self) -> bool:
        """Filed after the STOCK Act deadline (False while the filing date is unknown)."""
        if self.filed_date is None:
            return False
        return normalize.is_late(
            transaction_date=self.transaction_date,
            filed_date=self.filed_date,
            notification_date=self.notification_date,
        )


class PriceBar(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="price_bars")
    date = models.DateField()
    open = models.DecimalField(max_digits=14, decimal_places=4)
    high = models.DecimalField(max_digits=14, decimal_places=4)
    low = models.DecimalField(max_digits=14, decimal_places=4)
    close = models.DecimalField(max_digits=14, decimal_places=4)
    adj_close = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    volume = models.BigIntegerField(null=True, blank=True)
    provider = models.CharField(max_length=20)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["asset", "-date"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "date"], name="ingestion_pricebar_unique_asset_date"
            ),
            models.CheckConstraint(
                condition=Q(low__lte=F("high")), name="ingestion_pricebar_low_lte_high"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset} {self.date} {self.close}"


class IngestionRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Succeeded with rejected records"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=20, choices=Filing.Source.choices)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    filings_created = models.PositiveIntegerField(default=0)
    needs_review = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # "Last runs of this source" on the dashboard and in the admin.
            models.Index(fields=["source", "-started_at"], name="ingestion_run_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} run {self.pk} ({self.status})"

    def counts(self) -> dict[str, int]:
        return {
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "filings_created": self.filings_created,
            "needs_review": self.needs_review,
        }


class RejectedRecord(models.Model):
    """A record a source sent that did not become a trade, with the reason and the original."""

    run = models.ForeignKey(IngestionRun, on_delete=models.CASCADE, related_name="rejected_records")
    source = models.CharField(max_length=20, choices=Filing.Source.choices)
    location = models.CharField(max_length=500)
    reason = models.TextField()
    payload = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.location}: {self.reason[:80]}"


class HttpValidator(models.Model):
    """ETag / Last-Modified of a source document, for conditional GETs on the next run."""

    url = models.URLField(max_length=500, unique=True)
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    # The earliest filing date the reading that stored these validators processed: a "not
    # modified" answer only proves there is nothing new for windows starting on or after it.
    covered_from = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.url
