"""Forms of the operator pages: the task-history filter and the crontab checks of the admin."""

from __future__ import annotations

import datetime as dt

from celery.schedules import crontab_parser
from django import forms
from django.utils import timezone

from monitoring import selectors


class TaskHistoryFilterForm(forms.Form):
    """The task-history filter; every field optional, bad values named in the error."""

    task_name = forms.CharField(required=False, max_length=255, label="Task")
    status = forms.ChoiceField(required=False, label="Status")
    schedule = forms.CharField(required=False, max_length=255, label="Schedule")
    queue = forms.ChoiceField(required=False, label="Queue")
    created_from = forms.DateTimeField(
        required=False,
        label="From",
        help_text="Created at or after (UTC), e.g. 2026-11-20 or 2026-11-20 14:00",
    )
    created_to = forms.DateTimeField(required=False, label="To", help_text="Created before (UTC)")
    before = forms.CharField(required=False, widget=forms.HiddenInput)
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "any")] + [
            (state, state) for state in selectors.STATUS_CHOICES
        ]
        self.fields["queue"].choices = [("", "any")] + [
            (queue, queue) for queue in selectors.queue_names()
        ]

    def _cursor(self, name: str) -> selectors.Cursor | None:
        text = self.cleaned_data.get(name)
        if not text:
            return None
        try:
            return selectors.Cursor.decode(text)
        except selectors.CursorError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_before(self):
        self._cursor("before")
        return self.cleaned_data.get("before")

    def clean_after(self):
        self._cursor("after")
        return self.cleaned_data.get("after")

    @staticmethod
    def _aware(value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and timezone.is_naive(value):
            return timezone.make_aware(value, dt.UTC)
        return value

    def clean(self):
        data = super().clean()
        start, end = self._aware(data.get("created_from")), self._aware(data.get("created_to"))
        if start and end and start >= end:
            self.add_error("created_to", "The end of the date range must be after its start.")
        data["created_from"], data["created_to"] = start, end
        if data.get("before") and data.get("after"):
            raise forms.ValidationError("Give either an older or a newer page position, not both.")
        return data

    def filters(self) -> selectors.TaskFilters:
        data = self.cleaned_data
        return selectors.TaskFilters(
            task_name=data.get("task_name") or "",
            status=data.get("status") or "",
            schedule=data.get("schedule") or "",
            queue=data.get("queue") or "",
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
        )

    def cursors(self) -> tuple[selectors.Cursor | None, selectors.Cursor | None]:
        return self._cursor("before"), self._cursor("after")


# --- Crontab checks -------------------------------------------------------------------------

# (field, label, celery parser max (exclusive), min) as celery.schedules.crontab reads them.
CRONTAB_FIELDS = (
    ("minute", "Minute", 60, 0, "0-59"),
    ("hour", "Hour", 24, 0, "0-23"),
    ("day_of_week", "Day of week", 7, 0, "0-6 (0 = Sunday) or sun-sat"),
    ("day_of_month", "Day of month", 31, 1, "1-31"),
    ("month_of_year", "Month of year", 12, 1, "1-12"),
)


def crontab_field_errors(values: dict[str, str]) -> dict[str, str]:
    """Check each crontab field the way beat (celery.schedules.crontab) will read it.

    Returns {field: message}; empty when every field is valid.
    """
    errors = {}
    for name, label, max_, min_, allowed in CRONTAB_FIELDS:
        value = (values.get(name) or "").strip()
        if not value:
            errors[name] = f"{label} is empty; use * for every value."
            continue
        try:
            parsed = crontab_parser(max_, min_).parse(value)
        except Exception as exc:  # celery raises ValueError or its ParseException
            errors[name] = (
                f"{label} {value!r} is not valid: {str(exc).rstrip('.')} (allowed: {allowed})."
            )
            continue
        high = max_ - 1 + min_
        out_of_range = sorted(v for v in parsed if v < min_ or v > high)
        if out_of_range:
            errors[name] = (
                f"{label} {value!r} is out of range: {out_of_range[0]} is not in {allowed}."
            )
    return errors


def crontab_never_matches(values: dict[str, str]) -> str | None:
    """A message when valid fields can never all match (e.g. 30 February), else None."""
    from celery.schedules import crontab

    try:
        crontab(**{name: values[name] for name, *_ in CRONTAB_FIELDS})
    except ValueError as exc:
        text = str(exc)
        if "never occurs" in text:
            return f"This crontab never runs: {text.removeprefix('Invalid crontab: ')}"
        return text
    return None


class CrontabValidationMixin:
    """ModelForm mixin for CrontabSchedule: refuse bad fields and schedules that never run."""

    def clean(self):
        data = super().clean()
        # The raw input: a field the model's own validator refused is missing from ``data``.
        values = {
            name: str(
                self.data.get(self.add_prefix(name), "")
                if name in self.fields
                else getattr(self.instance, name, "")
            )
            for name, *_ in CRONTAB_FIELDS
        }
        errors = crontab_field_errors(values)
        for name, message in errors.items():
            if name in self.fields:
                # Replace the library's terser message for the same field with ours.
                self.errors.pop(name, None)
                self.add_error(name, message)
            else:
                self.add_error(None, message)
        if not errors and not any(name in self.errors for name, *_ in CRONTAB_FIELDS):
            never = crontab_never_matches(values)
            if never:
                self.add_error(None, never)
                return data
            tz = data.get("timezone") or getattr(self.instance, "timezone", "UTC")
            preview = selectors.crontab_next_runs(
                _CrontabValues(values, tz), after=timezone.now(), count=1
            )
            if not preview:
                self.add_error(
                    None,
                    "This crontab never runs: no time in the next 29 years matches all of "
                    "its fields (for example 29 February on a weekday it never falls on).",
                )
        return data


class _CrontabValues:
    """The attributes selectors.crontab_next_runs reads, from unsaved form values."""

    def __init__(self, values: dict[str, str], tz) -> None:
        for name, value in values.items():
            setattr(self, name, value)
        self.timezone = tz
