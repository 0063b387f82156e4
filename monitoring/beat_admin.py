"""The django-celery-beat and django-celery-results admin pages, made safe and cheap.

- Crontabs: a field beat cannot read, or a crontab that never fires (30 February), is
  refused with a message naming the field; saved crontabs and periodic tasks show their next
  five run times, and saving one says when it runs next.
- Task results: the changelist never counts the whole table (an estimate on PostgreSQL).

Imported from ``MonitoringConfig.ready()``, after the admin has autodiscovered the libraries'
own registrations, which are replaced here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_results import admin as results_admin
from django_celery_results.models import TaskResult

from monitoring import selectors
from monitoring.forms import CrontabValidationMixin


def _next_runs_html(runs) -> str:
    if not runs:
        return "never (no time matches this schedule)"
    return format_html(
        "<ol>{}</ol>",
        format_html_join("", "<li>{}</li>", ((f"{run:%a %Y-%m-%d %H:%M %Z}",) for run in runs)),
    )


def _runs_text(runs) -> str:
    return ", ".join(f"{run:%a %Y-%m-%d %H:%M %Z}" for run in runs) or "never"


class CrontabScheduleForm(CrontabValidationMixin, forms.ModelForm):
    class Meta:
        model = CrontabSchedule
        fields = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone")


class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin):
    form = CrontabScheduleForm
    fields = (
        "human_readable",
        "next_runs",
        "minute",
        "hour",
        "day_of_month",
        "month_of_year",
        "day_of_week",
        "timezone",
    )
    readonly_fields = ("human_readable", "next_runs")
    list_display = ("__str__", "human_readable", "next_run")

    @admin.display(description="Next five runs")
    def next_runs(self, obj):
        if obj is None or obj.pk is None:
            return "shown once saved"
        try:
            runs = selectors.crontab_next_runs(obj, after=timezone.now(), count=5)
        except (ValueError, TypeError) as exc:
            return f"invalid crontab: {exc}"
        return _next_runs_html(runs)

    @admin.display(description="Next run")
    def next_run(self, obj):
        try:
            runs = selectors.crontab_next_runs(obj, after=timezone.now(), count=1)
        except (ValueError, TypeError):
            return "invalid"
        return _runs_text(runs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        runs = selectors.crontab_next_runs(obj, after=timezone.now(), count=5)
        messages.info(request, f"{obj} runs next at: {_runs_text(runs)}.")


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    """The library's form, refusing a crontab that beat could not use."""

    def clean(self):
        data = super().clean()
        cron = data.get("crontab")
        if cron is not None:
            from monitoring.forms import crontab_field_errors, crontab_never_matches

            values = {
                name: getattr(cron, name)
                for name in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
            }
            errors = crontab_field_errors(values)
            problem = next(iter(errors.values()), None) or crontab_never_matches(values)
            if problem is None and not selectors.crontab_next_runs(
                cron, after=timezone.now(), count=1
            ):
                problem = "This crontab never runs: no time in the next 29 years matches it."
            if problem:
                self.add_error("crontab", f"Crontab {cron.pk} cannot be used: {problem}")
        return data


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    form = PeriodicTaskForm
    list_display = ("name", "enabled", "scheduler", "next_run", "last_run_at", "one_off")
    readonly_fields = ("last_run_at", "crontab_translation", "schedule_in_words", "next_runs")

    @cached_property
    def fieldsets(self):
        sets = []
        for title, options in beat_admin.PeriodicTaskAdmin.fieldsets:
            fields = tuple(options["fields"])
            if "crontab_translation" in fields:
                index = fields.index("crontab_translation") + 1
                fields = (*fields[:index], "schedule_in_words", "next_runs", *fields[index:])
            sets.append((title, {**options, "fields": fields}))
        return tuple(sets)

    def crontab_translation(self, obj):
        # The library's version fails on a task without a crontab.
        return obj.crontab.human_readable if obj and obj.crontab_id else "-"

    @admin.display(description="Schedule in words")
    def schedule_in_words(self, obj):
        return selectors.schedule_words(obj) if obj and obj.pk else "shown once saved"

    @admin.display(description="Next five runs")
    def next_runs(self, obj):
        if obj is None or obj.pk is None:
            return "shown once saved"
        if not obj.enabled:
            return "disabled: beat does not send it"
        return _next_runs_html(selectors.schedule_next_runs(obj, count=5))

    @admin.display(description="Next run")
    def next_run(self, obj):
        if not obj.enabled:
            return "disabled"
        return _runs_text(selectors.schedule_next_runs(obj, count=1))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.enabled:
            runs = selectors.schedule_next_runs(obj, count=5)
            messages.info(request, f"“{obj.name}” runs next at: {_runs_text(runs)}.")


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs COUNT(*) over the task-results table on PostgreSQL.

    The planner's row estimate (pg_class.reltuples) is used for an unfiltered list; a
    filtered list is counted up to a cap. SQLite counts (tables there are small).
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if connection.vendor != "postgresql":
            return super().count
        if not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] and row[0] > 0:
                return int(row[0])
        return queryset.order_by()[: self.CAP + 1].count()


class _StaticListFilter(admin.SimpleListFilter):
    """A sidebar filter whose values come from code or a small table, not SELECT DISTINCT.

    The library's field filters read every distinct value of the column: a full scan of a
    multi-million-row table on each changelist view.
    """

    field = ""

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class TaskStatusFilter(_StaticListFilter):
    title = "status"
    parameter_name = field = "status"

    def lookups(self, request, model_admin):
        return [(state, state) for state in selectors.STATUS_CHOICES]


class TaskNameFilter(_StaticListFilter):
    title = "task name"
    parameter_name = field = "task_name"

    def lookups(self, request, model_admin):
        return [(name, name) for name in selectors.task_names_known()]


class ScheduleFilter(_StaticListFilter):
    title = "schedule"
    parameter_name = field = "periodic_task_name"

    def lookups(self, request, model_admin):
        return [(name, name) for name in selectors.schedule_names()]


class TaskResultAdmin(results_admin.TaskResultAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    list_filter = (TaskStatusFilter, TaskNameFilter, ScheduleFilter, "date_done")
    date_hierarchy = None


def _reregister(model, admin_class) -> None:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, admin_class)


_reregister(CrontabSchedule, CrontabScheduleAdmin)
_reregister(PeriodicTask, PeriodicTaskAdmin)
_reregister(TaskResult, TaskResultAdmin)
