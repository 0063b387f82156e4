from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from monitoring import selectors
from monitoring.forms import TaskHistoryFilterForm
from monitoring.health import OK, public_probe
from monitoring.models import DeadLetter


@never_cache
@require_safe
def health(request):
    """Public probe for load balancers: 200 when the database and broker answer, else 503.

    It says nothing about internals (no hosts, versions or errors): those are for the
    authenticated views and ``manage.py healthcheck``. Requests share one probe, reused for
    about a second (``monitoring.health.public_probe``), so a flood of them does not open a
    database connection each.
    """
    results = public_probe()
    healthy = all(result.status == OK for result in results)
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {result.name: "ok" if result.status == OK else "fail" for result in results},
    }
    return JsonResponse(body, status=200 if healthy else 503)


# --- Operator pages (staff only) ------------------------------------------------------------


def staff_required(view):
    """Anonymous users go to the login page; signed-in users who are not staff get 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("This page is for staff only.")
        return view(request, *args, **kwargs)

    return login_required(never_cache(wrapper))


PAGE_SIZE = 50


@staff_required
@require_safe
def dashboard(request):
    now = timezone.now()
    buckets = selectors.hourly_outcomes(now=now)
    return render(
        request,
        "monitoring/dashboard.html",
        {
            "health": selectors.health_latest(now=now),
            "incidents": list(selectors.incidents_open()[:50]),
            "dead_letters_open": selectors.dead_letters_open_count(),
            "chart": selectors.outcome_chart(buckets),
            "now": now,
        },
    )


@staff_required
@require_safe
def task_list(request):
    form = TaskHistoryFilterForm(request.GET or None)
    page = None
    status = 200
    if not request.GET or form.is_valid():
        if not request.GET:
            form = TaskHistoryFilterForm({})
            form.is_valid()
        before, after = form.cursors()
        page = selectors.task_history_page(
            filters=form.filters(), before=before, after=after, page_size=PAGE_SIZE
        )
    else:
        status = 400
    base_query = {
        key: value for key, value in request.GET.items() if key not in {"before", "after"} and value
    }

    def link(**cursor) -> str:
        return "?" + urlencode({**base_query, **cursor})

    return render(
        request,
        "monitoring/task_list.html",
        {
            "form": form,
            "page": page,
            "rows": [
                (row, selectors.duration_text(selectors.task_result_duration(row)))
                for row in (page.rows if page else [])
            ],
            "older_url": link(before=page.older.encode()) if page and page.older else None,
            "newer_url": link(after=page.newer.encode()) if page and page.newer else None,
            "first_url": link() if request.GET.get("before") or request.GET.get("after") else None,
            "task_names": selectors.task_names_known(),
            "schedule_names": selectors.schedule_names(),
            "filtered": bool(base_query),
        },
        status=status,
    )


@staff_required
@require_safe
def task_detail(request, task_id: str):
    detail = selectors.task_detail_get(task_id=task_id)
    if detail is None:
        raise Http404("No task with this id is recorded.")
    return render(request, "monitoring/task_detail.html", {"detail": detail})


@staff_required
@require_safe
def schedule_list(request):
    return render(
        request,
        "monitoring/schedule_list.html",
        {"rows": selectors.schedules_overview(), "now": timezone.now()},
    )


def _schedule_or_404(pk: int):
    task = selectors.schedule_get(pk=pk)
    if task is None:
        raise Http404("No such schedule.")
    return task


@staff_required
@require_safe
def schedule_detail(request, pk: int):
    task = _schedule_or_404(pk)
    now = timezone.now()
    runs = selectors.schedule_recent_runs(name=task.name)
    stats = selectors.run_stats(runs)
    return render(
        request,
        "monitoring/schedule_detail.html",
        {
            "task": task,
            "words": selectors.schedule_words(task),
            "next_runs": selectors.schedule_next_runs(task, now=now, count=5)
            if task.enabled
            else [],
            "missed": selectors.schedule_is_missed(task, now=now),
            "stats": stats,
            "last_run": selectors.latest_run(task, stats),
            "runs": [
                (row, selectors.duration_text(selectors.task_result_duration(row))) for row in runs
            ],
            "history_url": reverse("monitoring:task_list")
            + "?"
            + urlencode({"schedule": task.name}),
        },
    )


@staff_required
@require_POST
def schedule_run(request, pk: int):
    from monitoring.schedule_actions import ScheduleActionError, schedule_run_now

    task = _schedule_or_404(pk)
    try:
        task_id = schedule_run_now(task=task)
    except ScheduleActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{task.name}” sent now as task {task_id}.")
    return redirect("monitoring:schedule_detail", pk=task.pk)


def _set_enabled(request, pk: int, *, enabled: bool):
    from monitoring.schedule_actions import schedule_set_enabled

    task = _schedule_or_404(pk)
    changed = schedule_set_enabled(task=task, enabled=enabled)
    word = "enabled" if enabled else "disabled"
    if changed:
        messages.success(request, f"“{task.name}” is {word}; beat picks the change up shortly.")
    else:
        messages.info(request, f"“{task.name}” was already {word}.")
    return redirect("monitoring:schedule_detail", pk=task.pk)


@staff_required
@require_POST
def schedule_enable(request, pk: int):
    return _set_enabled(request, pk, enabled=True)


@staff_required
@require_POST
def schedule_disable(request, pk: int):
    return _set_enabled(request, pk, enabled=False)


@staff_required
@require_safe
def dead_letter_list(request):
    status = request.GET.get("status", "")
    if status and status not in DeadLetter.Status.values:
        messages.error(request, f"Unknown status {status!r}; showing all dead letters.")
        status = ""
    return render(
        request,
        "monitoring/dead_letter_list.html",
        {
            "letters": selectors.dead_letters_list(status=status),
            "status": status,
            "statuses": DeadLetter.Status.choices,
        },
    )


def _dead_letter_or_404(pk: int) -> DeadLetter:
    letter = DeadLetter.objects.select_related("resolved_by").filter(pk=pk).first()
    if letter is None:
        raise Http404("No such dead letter.")
    return letter


@staff_required
@require_safe
def dead_letter_detail(request, pk: int):
    letter = _dead_letter_or_404(pk)
    return render(
        request,
        "monitoring/dead_letter_detail.html",
        {
            "letter": letter,
            "args": selectors.value_display(letter.args),
            "kwargs": selectors.value_display(letter.kwargs),
            "exception": selectors.text_mask(letter.exception),
            "traceback": selectors.text_mask(letter.traceback),
        },
    )


@staff_required
@require_POST
def dead_letter_retry(request, pk: int):
    from monitoring.deadletters import DeadLetterError, deadletter_retry

    letter = _dead_letter_or_404(pk)
    try:
        task_id = deadletter_retry(dead_letter=letter, user=request.user)
    except DeadLetterError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{letter.task_name} sent again as task {task_id}.")
    return redirect("monitoring:dead_letter_detail", pk=letter.pk)


@staff_required
@require_POST
def dead_letter_dismiss(request, pk: int):
    from monitoring.deadletters import DeadLetterError, deadletter_dismiss

    letter = _dead_letter_or_404(pk)
    try:
        deadletter_dismiss(dead_letter=letter, user=request.user)
    except DeadLetterError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Dead letter of {letter.task_name} dismissed.")
    return redirect("monitoring:dead_letter_detail", pk=letter.pk)
