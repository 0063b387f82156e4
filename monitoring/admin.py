"""Admin for incidents, dead letters (retry / dismiss actions) and heartbeats.

These rows are written by the health checks, the worker and beat: operators read them and act
through the actions, they do not type them in.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from monitoring.deadletters import DeadLetterError, deadletter_dismiss, deadletter_retry
from monitoring.models import DeadLetter, Heartbeat, Incident


def _pretty(value) -> str:
    from monitoring.selectors import value_mask

    return format_html("<pre>{}</pre>", json.dumps(value_mask(value), indent=2, default=str))


class NoAddMixin:
    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(NoAddMixin, admin.ModelAdmin):
    list_display = (
        "kind",
        "subject",
        "severity",
        "summary",
        "opened_at",
        "last_seen_at",
        "resolved_at",
        "opened_notified_at",
        "resolved_notified_at",
    )
    list_filter = ("kind", "severity", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("subject", "summary")
    date_hierarchy = "opened_at"
    # Incidents are written by the health checks only: everything shown is read-only.
    readonly_fields = (*list_display, "details_pretty")
    exclude = ("details",)
    actions = ("resolve_now",)

    @admin.display(description="details")
    def details_pretty(self, obj):
        return _pretty(obj.details)

    @admin.action(description="Resolve the selected open incidents now", permissions=["change"])
    def resolve_now(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
        self.message_user(
            request,
            f"{count} incident(s) resolved; the resolve notice goes out at the next health check "
            "(a problem still there opens a new incident).",
            messages.SUCCESS,
        )


@admin.register(DeadLetter)
class DeadLetterAdmin(NoAddMixin, admin.ModelAdmin):
    list_display = (
        "task_name",
        "task_id",
        "queue",
        "exception_type",
        "retries",
        "failed_at",
        "status",
        "retry_task_id",
    )
    list_filter = ("status", "task_name", "queue", "exception_type")
    search_fields = ("task_id", "task_name", "exception", "retry_task_id")
    date_hierarchy = "failed_at"
    readonly_fields = (
        "task_id",
        "task_name",
        "args_masked",
        "kwargs_masked",
        "queue",
        "exception_type",
        "exception",
        "traceback",
        "retries",
        "worker",
        "failed_at",
        "status",
        "resolved_at",
        "resolved_by",
        "retry_task_id",
    )
    exclude = ("args", "kwargs")
    actions = ("retry_selected", "dismiss_selected")

    @admin.display(description="arguments")
    def args_masked(self, obj):
        return _pretty(obj.args)

    @admin.display(description="keyword arguments")
    def kwargs_masked(self, obj):
        return _pretty(obj.kwargs)

    def _act(self, request, queryset, *, action, verb: str) -> None:
        done, refused = [], []
        for letter in queryset:
            try:
                result = action(dead_letter=letter, user=request.user)
                done.append(result if isinstance(result, str) else letter.task_id)
            except DeadLetterError as exc:
                refused.append(str(exc))
        if done:
            self.message_user(request, f"{verb} {len(done)}: {', '.join(done)}", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    @admin.action(description="Retry the selected dead letters (new tasks)", permissions=["change"])
    def retry_selected(self, request, queryset):
        self._act(request, queryset, action=deadletter_retry, verb="Retried as new task(s)")

    @admin.action(description="Dismiss the selected dead letters", permissions=["change"])
    def dismiss_selected(self, request, queryset):
        self._act(request, queryset, action=deadletter_dismiss, verb="Dismissed")


@admin.register(Heartbeat)
class HeartbeatAdmin(NoAddMixin, admin.ModelAdmin):
    list_display = ("name", "hostname", "pid", "started_at", "seen_at")
    readonly_fields = ("name", "hostname", "pid", "started_at", "seen_at", "details_pretty")
    exclude = ("details",)

    @admin.display(description="details")
    def details_pretty(self, obj):
        return _pretty(obj.details)

    def has_change_permission(self, request, obj=None):
        return False


from monitoring import api_admin  # noqa: F401,E402 - registers the API token admin
