"""Admin pages for operators: find a trade, review a scanned filing, read what a run rejected.

Trades and price bars run to millions of rows, so their changelists join what they display
(``list_select_related``), never count the whole table twice (``show_full_result_count``),
pick related rows with autocomplete or raw-id widgets instead of select boxes, and filter
only on columns with fixed choices (no ``SELECT DISTINCT`` over the table for a sidebar).
Runs, rejected records and HTTP validators are written by the ingestion code alone: here
they are read-only.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from ingestion.models import (
    Asset,
    Filing,
    HttpValidator,
    IngestionRun,
    Politician,
    PriceBar,
    RejectedRecord,
    Trade,
)

# PriceBar.provider has no model choices; these are the names ingestion.prices stores (and
# settings.PRICE_PROVIDER accepts). A fixed list spares the changelist a SELECT DISTINCT over
# every price bar.
PRICE_PROVIDERS = (("yahoo", "Yahoo"), ("stooq", "Stooq"))

# Django 6 will assume https for a scheme-less URL typed in a form; say so now.
URL_FORM_FIELDS = {models.URLField: {"assume_scheme": "https"}}

# Rejected records shown inline on a run; the rest are one link away.
REJECTED_RECORDS_INLINE_LIMIT = 50


class ReadOnlyPermissions:
    """Rows only the ingestion code writes: operators may look, not add, edit or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    pass


class ReadOnlyInline(ReadOnlyPermissions, admin.TabularInline):
    extra = 0
    show_change_link = True


class LateFilingsFilter(admin.BooleanFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "late filings"


class FilingStatusFilter(admin.ChoicesFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "filing status"


class PriceProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return PRICE_PROVIDERS

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(provider=self.value())
        return queryset


def safe_link(url: str):
    """An http(s) URL as a link that opens elsewhere; anything else as plain text."""
    if not url.startswith(("https://", "http://")):
        return url or "—"
    return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, url)


@admin.register(Politician)
class PoliticianAdmin(admin.ModelAdmin):
    list_display = [
        "full_name",
        "chamber",
        "party",
        "state",
        "district",
        "bioguide_id",
        "is_resolved",
        "in_office",
    ]
    list_filter = ["chamber", "party", "state", "is_resolved", "in_office"]
    search_fields = ["^last_name", "^first_name", "^nickname", "full_name", "=bioguide_id"]
    search_help_text = "Surname, first name, nickname, full name or exact bioguide id."
    readonly_fields = ["name_key", "created_at", "updated_at"]


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["ticker", "name", "kind"]
    list_filter = ["kind"]
    search_fields = ["^ticker", "name"]
    search_help_text = "Ticker (prefix) or any part of the name."
    readonly_fields = ["name_key", "created_at"]


class TradeInline(ReadOnlyInline):
    model = Trade
    fk_name = "filing"
    fields = [
        "line_number",
        "transaction_type",
        "transaction_date",
        "asset",
        "owner",
        "amount_label",
        "filed_late",
    ]
    ordering = ["line_number"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("asset")


@admin.register(Filing)
class FilingAdmin(admin.ModelAdmin):
    list_display = [
        "doc_id",
        "chamber",
        "politician",
        "filed_date",
        "status",
        "is_paper",
        "is_amendment",
        "trade_count",
        "source",
    ]
    list_select_related = ["politician"]
    # The status filter's "Needs review (scanned paper)" choice is the review queue.
    list_filter = ["chamber", "status", "source", "is_paper", "is_amendment", "filed_date"]
    search_fields = ["^doc_id", "^politician__last_name", "^politician__first_name"]
    search_help_text = "Document id (prefix) or the filer's surname or first name."
    show_full_result_count = False
    autocomplete_fields = ["politician"]
    formfield_overrides = URL_FORM_FIELDS
    readonly_fields = ["source_link", "source_digest", "created_at", "updated_at"]
    inlines = [TradeInline]

    @admin.display(description="source document")
    def source_link(self, filing):
        return safe_link(filing.source_url)


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = [
        "politician_name",
        "chamber",
        "ticker",
        "transaction_type",
        "transaction_date",
        "amount_label",
        "owner",
        "filed_date",
        "delay_days",
        "filed_late",
    ]
    list_select_related = ["politician", "asset"]
    list_filter = [
        "chamber",
        "transaction_type",
        "owner",
        "asset_kind",
        ("filed_late", LateFilingsFilter),
        "transaction_date",
        ("filing__status", FilingStatusFilter),
    ]
    date_hierarchy = "transaction_date"
    search_fields = [
        "=asset__ticker",
        "^politician__last_name",
        "^politician__first_name",
        "asset_description",
        "^filing__doc_id",
    ]
    search_help_text = (
        "Exact ticker, the politician's surname or first name, part of the asset "
        "description, or a filing's document id."
    )
    show_full_result_count = False
    autocomplete_fields = ["filing", "politician", "asset", "amended_by"]
    readonly_fields = ["fingerprint", "content_hash", "matched_at", "created_at", "updated_at"]

    @admin.display(description="politician", ordering="politician__last_name")
    def politician_name(self, trade):
        return trade.politician.full_name

    @admin.display(description="ticker", ordering="asset__ticker")
    def ticker(self, trade):
        return trade.asset.ticker or Truncator(trade.asset.name).chars(40)

    @admin.display(description="delay (days)", ordering="disclosure_delay_days")
    def delay_days(self, trade):
        return trade.disclosure_delay_days


@admin.register(PriceBar)
class PriceBarAdmin(admin.ModelAdmin):
    list_display = ["asset", "date", "close", "provider"]
    list_select_related = ["asset"]
    list_filter = [PriceProviderFilter, "date"]
    search_fields = ["=asset__ticker"]
    search_help_text = "Exact ticker."
    # The model orders by asset, which sorts by the asset's ticker through a join.
    ordering = ["-date"]
    show_full_result_count = False
    raw_id_fields = ["asset"]
    readonly_fields = ["fetched_at"]


class FirstRejectedRecordsFormSet(BaseInlineFormSet):
    def get_queryset(self):
        return super().get_queryset()[:REJECTED_RECORDS_INLINE_LIMIT]


class RejectedRecordInline(ReadOnlyInline):
    model = RejectedRecord
    formset = FirstRejectedRecordsFormSet
    fields = ["location", "short_reason"]
    readonly_fields = ["short_reason"]
    ordering = ["id"]
    verbose_name_plural = f"rejected records (first {REJECTED_RECORDS_INLINE_LIMIT})"

    @admin.display(description="reason")
    def short_reason(self, record):
        return Truncator(record.reason).chars(120)


@admin.register(IngestionRun)
class IngestionRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source",
        "status",
        "started_at",
        "finished_at",
        "fetched",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "filings_created",
        "needs_review",
        "task_id",
    ]
    list_filter = ["source", "status"]
    search_fields = ["=task_id"]
    search_help_text = "Exact Celery task id."
    fields = [
        ("source", "status"),
        ("start_date", "end_date"),
        ("started_at", "finished_at"),
        "task_id",
        ("fetched", "created", "updated", "unchanged"),
        ("rejected", "filings_created", "needs_review"),
        "all_rejected_records",
        "error",
        "detail",
    ]
    readonly_fields = ["started_at", "all_rejected_records"]
    inlines = [RejectedRecordInline]

    @admin.display(description="rejected records")
    def all_rejected_records(self, run):
        count = run.rejected_records.count()
        url = reverse("admin:ingestion_rejectedrecord_changelist")
        return format_html('<a href="{}?run__id__exact={}">All {}</a>', url, run.pk, count)


@admin.register(RejectedRecord)
class RejectedRecordAdmin(ReadOnlyAdmin):
    list_display = ["location", "short_reason", "source", "run"]
    list_select_related = ["run"]
    list_filter = ["source"]
    search_fields = ["reason", "location", "payload"]
    search_help_text = "Any part of the reason, the location or the original payload."
    show_full_result_count = False
    fields = ["run", "source", "location", "reason", "original_payload", "created_at"]
    readonly_fields = ["original_payload", "created_at"]

    @admin.display(description="reason")
    def short_reason(self, record):
        return Truncator(record.reason).chars(120)

    @admin.display(description="payload")
    def original_payload(self, record):
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', record.payload)


@admin.register(HttpValidator)
class HttpValidatorAdmin(ReadOnlyAdmin):
    list_display = ["url", "etag", "last_modified", "updated_at"]
    search_fields = ["url"]
    formfield_overrides = URL_FORM_FIELDS
    readonly_fields = ["updated_at"]

    def has_delete_permission(self, request, obj=None):
        # Deleting a validator is how an operator forces the next run to fetch in full.
        return admin.ModelAdmin.has_delete_permission(self, request, obj)
