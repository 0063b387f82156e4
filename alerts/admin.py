"""Admin pages for operators: find a subscription, see what was sent, resend what failed.

Subscriptions are edited by their owners on the subscription pages (through
alerts.services, which keeps the filter tables consistent); here operators look, pause,
resume or delete. Notifications and deliveries are written by the alerts code alone:
read-only, except the "resend failed deliveries" action. Signing secrets are never shown.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.utils.text import Truncator

from alerts import services
from alerts.models import Delivery, Notification, Subscription
from ingestion.admin import ReadOnlyAdmin, ReadOnlyPermissions


class NotificationInline(ReadOnlyPermissions, admin.TabularInline):
    model = Notification
    fields = ["trade", "subscription", "created_at"]
    readonly_fields = fields
    raw_id_fields = ["trade"]
    extra = 0
    max_num = 0
    show_change_link = True


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "name", "owner", "active", "channel", "mode", "target_short", "filters", "created_at",
    ]  # fmt: skip
    list_filter = ["active", "channel", "mode", "late_only"]
    search_fields = ["name", "owner__username", "owner__email", "target"]
    list_select_related = ["owner"]
    show_full_result_count = False
    actions = ["pause", "resume"]
    fields = [
        "owner", "name", "active", "channel", "target", "secret", "mode", "politician_list",
        "ticker_list", "filters", "min_amount", "late_only", "created_at", "updated_at",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # created by their owners (subscription pages) through the services

    def get_queryset(self, request):
        return super().get_queryset(request).defer("signing_secret")

    def delete_model(self, request, obj):
        services.subscription_delete(subscription=obj)

    def delete_queryset(self, request, queryset):
        services.subscriptions_delete(subscription_ids=queryset.values_list("pk", flat=True))

    @admin.display(description="target")
    def target_short(self, obj: Subscription) -> str:
        return Truncator(obj.target).chars(60)

    @admin.display(description="signing secret")
    def secret(self, obj: Subscription) -> str:
        if obj.channel != Subscription.Channel.WEBHOOK:
            return "—"
        return "set (hidden)" if obj.signing_secret else "missing"

    @admin.display(description="politicians")
    def politician_list(self, obj: Subscription) -> str:
        return ", ".join(p.full_name for p in obj.politicians.all()) or "any"

    @admin.display(description="tickers")
    def ticker_list(self, obj: Subscription) -> str:
        return ", ".join(obj.ticker_values()) or "any"

    @admin.display(description="filters")
    def filters(self, obj: Subscription) -> str:
        parts = []
        if obj.has_politician_filter:
            parts.append("politicians")
        if obj.has_ticker_filter:
            parts.append("tickers")
        for label, values in (
            ("chamber", obj.chamber_values()),
            ("party", obj.party_values()),
            ("type", obj.transaction_type_values()),
            ("owner", obj.owner_values()),
        ):
            if values:
                parts.append(f"{label}: {'/'.join(v or 'unknown' for v in values)}")
        if obj.min_amount is not None:
            parts.append(f"≥ ${obj.min_amount:,}")
        if obj.late_only:
            parts.append("late only")
        return "; ".join(parts) or "every trade"

    @admin.action(description="Pause the selected subscriptions")
    def pause(self, request, queryset):
        changed = services.subscriptions_set_active(
            subscription_ids=queryset.values_list("pk", flat=True), active=False
        )
        self.message_user(request, f"Paused {changed} subscription(s).", messages.SUCCESS)

    @admin.action(description="Resume the selected subscriptions")
    def resume(self, request, queryset):
        changed = services.subscriptions_set_active(
            subscription_ids=queryset.values_list("pk", flat=True), active=True
        )
        self.message_user(request, f"Resumed {changed} subscription(s).", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "subscription", "kind", "channel", "status", "attempts", "created_at", "sent_at",
        "error_short",
    ]  # fmt: skip
    list_filter = ["status", "channel", "kind", "digest_date"]
    search_fields = [
        "=id", "subscription__name", "subscription__owner__username", "subscription__target",
        "last_error",
    ]  # fmt: skip
    list_select_related = ["subscription"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ["resend_failed"]
    fields = [
        "subscription", "kind", "channel", "status", "attempts", "last_error", "batch",
        "digest_date", "created_at", "next_attempt_at", "leased_until", "sent_at",
    ]  # fmt: skip
    readonly_fields = fields
    inlines = [NotificationInline]

    def has_change_permission(self, request, obj=None):
        # Read-only form, but the changelist's action needs change rights.
        return obj is None and request.user.has_perm("alerts.change_delivery")

    @admin.display(description="last error")
    def error_short(self, obj: Delivery) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Resend the selected failed deliveries")
    def resend_failed(self, request, queryset):
        from alerts.tasks import enqueue_deliveries

        with transaction.atomic():
            ids = services.deliveries_resend(delivery_ids=queryset.values_list("pk", flat=True))
            enqueue_deliveries(ids)  # published after the commit
        skipped = queryset.count() - len(ids)
        note = f" ({skipped} not failed, left alone)" if skipped else ""
        self.message_user(request, f"Resending {len(ids)} deliveries{note}.", messages.SUCCESS)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["id", "subscription", "trade", "delivery", "created_at"]
    search_fields = ["subscription__name", "subscription__owner__username", "=trade__id"]
    list_select_related = ["subscription", "trade", "delivery"]
    raw_id_fields = ["subscription", "trade", "delivery"]
    show_full_result_count = False
    date_hierarchy = "created_at"
