"""The JSON API under /api/: thin views over monitoring's reads and the job registry.

Every view but the health probe needs a staff session or ``Authorization: Bearer <token>``
(``api_endpoint``). Errors are ``{"error": {"code", "message", "field"}}`` with the status
that fits: 400 bad input (``field`` names it), 401 no or bad credentials, 403 not allowed,
404 unknown, 405 wrong method, 409 conflict, 429 rate limited, 503 broker or workers
unreachable.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from monitoring import jobs, selectors, tokens
from monitoring.health import OK, UNHEALTHY, check_broker, system_health

logger = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TASK_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,255}$")
MAX_BODY_BYTES = 64 * 1024


# --- Errors and authentication --------------------------------------------------------------


def error_response(
    status: int, code: str, message: str, *, field: str | None = None, headers=None
) -> JsonResponse:
    response = JsonResponse(
        {"error": {"code": code, "message": message, "field": field}}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def unauthorized(message: str) -> JsonResponse:
    return error_response(
        401,
        "unauthorized",
        message,
        headers={"WWW-Authenticate": 'Bearer realm="capitolscope"'},
    )


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason  # the reason itself, not Django's HTML failure page


def _csrf_failure(request: HttpRequest) -> str | None:
    """The reason a session request fails the CSRF check, else None.

    The views are ``csrf_exempt`` so that token requests (no cookies, nothing to forge) pass
    the middleware; a session-authenticated request is checked here instead, exactly as the
    middleware would.
    """
    check = _CsrfCheck(lambda _request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def authenticate(request: HttpRequest) -> JsonResponse | None:
    """Set ``request.user`` / ``request.api_token`` or return the 401/403 JSON response."""
    request.api_token = None
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return unauthorized("use 'Authorization: Bearer <token>'")
        try:
            token = tokens.api_token_authenticate(credentials)
        except tokens.TokenError as exc:
            if exc.status == 403:
                return error_response(403, "forbidden", str(exc))
            return unauthorized(str(exc))
        request.user = token.user
        request.api_token = token
        return None
    user = request.user
    if not user.is_authenticated:
        return unauthorized("authentication required: a staff session or a bearer token")
    if not (user.is_active and user.is_staff):
        return error_response(403, "forbidden", "staff only")
    if request.method not in SAFE_METHODS:
        reason = _csrf_failure(request)
        if reason:
            return error_response(403, "csrf_failed", f"CSRF check failed: {reason}")
    return None


def caller(request: HttpRequest) -> str:
    """Who made the request, for logs and rate-limit keys."""
    token = getattr(request, "api_token", None)
    if token is not None:
        return f"token:{token.prefix}"
    return f"user:{request.user.pk}"


def api_endpoint(*methods: str) -> Callable:
    """JSON view: authentication first (so anonymous callers learn nothing), then methods."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            refusal = authenticate(request)
            if refusal is not None:
                return refusal
            if request.method not in allowed:
                response = error_response(
                    405, "method_not_allowed", f"{request.method} is not allowed here"
                )
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            return view(request, *args, **kwargs)

        return csrf_exempt(never_cache(wrapper))

    return decorate


def read_json_body(request: HttpRequest) -> tuple[dict | None, JsonResponse | None]:
    """The request's JSON object body (empty body: {}), or a 400 response."""
    if len(request.body) > MAX_BODY_BYTES:
        return None, error_response(400, "invalid_body", "the body is too large")
    if not request.body.strip():
        return {}, None
    content_type = request.content_type or ""
    if content_type not in {"application/json", ""} and not content_type.endswith("+json"):
        return None, error_response(
            400, "invalid_body", f"send application/json, not {content_type}"
        )
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, error_response(400, "invalid_json", f"the body is not JSON: {exc}")
    if not isinstance(data, dict):
        return None, error_response(400, "invalid_body", "the body must be a JSON object")
    return data, None


def broker_unavailable() -> JsonResponse | None:
    """503 when the broker does not answer within a second, so no call hangs on it."""
    result = check_broker(timeout=1.0)
    if result.status == OK:
        return None
    return error_response(503, "broker_unavailable", "the broker does not answer")


# --- Stored values ------------------------------------------------------------------------


def stored_value(text: str | None, *, encoding: str = "utf-8"):
    """A django-celery-results column (args/kwargs are JSON of a Python repr), decoded and
    with the values of secret-looking keys masked (the same rules as the history pages)."""
    return selectors.value_mask(selectors.stored_value_decode(text, encoding=encoding))


# --- Views ----------------------------------------------------------------------------------


def _iso(value):
    return value.isoformat() if value else None


def _live(request: HttpRequest) -> bool:
    return request.GET.get("live", "").lower() in {"1", "true", "yes"}


@api_endpoint("GET")
def health_full(request):
    """Every health check with its detail; 503 when the overall status is unhealthy.

    The workers check pings everyone but stops waiting once every known worker answered
    (``check_workers(discover=False)``); ``?live=1`` waits the whole timeout for anyone, as
    the periodic health run does.
    """
    report = system_health(discover_workers=_live(request))
    return JsonResponse(report, status=503 if report["status"] == UNHEALTHY else 200)


def task_as_dict(row) -> dict:
    encoding = row.content_encoding or "utf-8"
    meta = selectors.stored_value_decode(row.meta, encoding=encoding)
    meta = meta if isinstance(meta, dict) else {}
    duration = selectors.task_result_duration(row)
    return {
        "task_id": row.task_id,
        "name": row.task_name,
        "status": row.status,
        "periodic_task_name": row.periodic_task_name,
        "queue": meta.get("queue") or (jobs.task_queue(row.task_name) if row.task_name else None),
        "args": stored_value(row.task_args, encoding=encoding),
        "kwargs": stored_value(row.task_kwargs, encoding=encoding),
        "result": stored_value(row.result, encoding=encoding),
        "traceback": selectors.text_mask(row.traceback) if row.traceback else None,
        "retries": meta.get("retries"),
        "worker": row.worker,
        "date_created": _iso(row.date_created),
        "date_started": _iso(row.date_started),
        "date_done": _iso(row.date_done),
        "duration_seconds": duration.total_seconds() if duration is not None else None,
    }


@api_endpoint("GET")
def task_detail(request, task_id: str):
    """One task's recorded state, arguments (secrets masked), result or error, and times."""
    from django_celery_results.models import TaskResult

    row = TaskResult.objects.filter(task_id=task_id).first()
    if row is None:
        return error_response(404, "not_found", f"no task {task_id!r} is recorded")
    return JsonResponse(task_as_dict(row))


@api_endpoint("POST")
def task_revoke(request, task_id: str):
    """Revoke a task (workers skip it; ``terminate`` also kills it if it is running)."""
    from django_celery_results.models import TaskResult

    from capitolscope.celery import app

    if not TASK_ID_RE.match(task_id):
        return error_response(400, "invalid", "not a task id", field="task_id")
    data, problem = read_json_body(request)
    if problem:
        return problem
    unknown = sorted(set(data) - {"terminate"})
    if unknown:
        return error_response(
            400,
            "invalid",
            f"unknown parameter {unknown[0]!r} (accepted: terminate)",
            field=unknown[0],
        )
    terminate = data.get("terminate", False)
    if not isinstance(terminate, bool):
        return error_response(400, "invalid", "terminate must be true or false", field="terminate")
    row = TaskResult.objects.filter(task_id=task_id).only("status").first()
    if row is not None and row.status in {"SUCCESS", "FAILURE", "REVOKED"}:
        return error_response(
            409, "already_finished", f"task {task_id} is already {row.status}", field="task_id"
        )
    unavailable = broker_unavailable()
    if unavailable:
        return unavailable
    app.control.revoke(task_id, terminate=terminate)
    logger.info("task %s revoked by %s (terminate=%s)", task_id, caller(request), terminate)
    return JsonResponse(
        {
            "task_id": task_id,
            "revoked": True,
            "terminate": terminate,
            "known": row is not None,
            "status_url": reverse("monitoring_api:task", args=[task_id]),
        },
        status=202,
    )


def _inspect(method: str, *, destination: list[str], timeout: float) -> dict:
    """One control-inspect call to the workers that answered a ping (returns at ``limit``)."""
    from capitolscope.celery import app
    from monitoring.queues import call_with_deadline

    def ask():
        inspector = app.control.inspect(
            destination=destination, timeout=timeout, limit=len(destination)
        )
        return getattr(inspector, method)() or {}

    return call_with_deadline(ask, timeout=timeout + 2, what=f"the workers ({method})")


def _workers_or_503(*, live: bool = False) -> tuple[list[str] | None, JsonResponse | None]:
    """The workers that answer a broadcast ping, or the 503 response.

    The ping stops waiting once every known worker answered (``workers_expected``); it waits
    ``API_CONTROL_TIMEOUT`` when one of them does not, when none is known, or when ``live``.
    What it heard is recorded like the health check's sightings, so a known worker that did
    not answer the whole wait is silent and not waited for again.
    """
    from monitoring.health import workers_expected, workers_seen_record
    from monitoring.queues import workers_ping

    unavailable = broker_unavailable()
    if unavailable:
        return None, unavailable
    asked_at = timezone.now()
    try:
        expected = [] if live else workers_expected(now=asked_at)
    except Exception as exc:  # no record to go by: wait for anyone
        logger.warning("reading the workers seen failed: %s", exc)
        expected = []
    try:
        ping = workers_ping(timeout=settings.API_CONTROL_TIMEOUT, expect=expected)
    except Exception as exc:  # broker vanished or hung between the two calls
        logger.warning("worker ping failed: %s", exc)
        return None, error_response(503, "broker_unavailable", "the workers cannot be reached")
    try:
        workers_seen_record(ping=ping, broadcast=not ping.stopped_early, asked_at=asked_at)
    except Exception as exc:  # the answer stands without the record
        logger.warning("recording the workers seen failed: %s", exc)
    return ping.hostnames, None


def _request_info(info: dict, *, worker: str) -> dict:
    request = info.get("request", info)  # scheduled entries wrap the request
    return {
        "task_id": request.get("id"),
        "name": request.get("name") or request.get("type"),
        "args": selectors.value_mask(request.get("args")),
        "kwargs": selectors.value_mask(request.get("kwargs")),
        "worker": worker,
        "queue": (request.get("delivery_info") or {}).get("routing_key"),
        "time_start": request.get("time_start"),
        "eta": info.get("eta"),
        "acknowledged": request.get("acknowledged"),
    }


def _tasks_on_workers(
    *methods: str, live: bool = False
) -> tuple[dict[str, list[dict]] | None, JsonResponse | None]:
    """For each inspect method ("active", "scheduled", "reserved"), the tasks it lists.

    One ping finds the workers (``_workers_or_503``); each inspect then returns as soon as
    all of them replied.
    """
    hostnames, problem = _workers_or_503(live=live)
    if problem:
        return None, problem
    found: dict[str, list[dict]] = {method: [] for method in methods}
    for method in methods if hostnames else ():
        try:
            replies = _inspect(method, destination=hostnames, timeout=settings.API_CONTROL_TIMEOUT)
        except Exception as exc:
            logger.warning("inspect %s failed: %s", method, exc)
            return None, error_response(503, "workers_unavailable", "the workers did not answer")
        found[method] = [
            _request_info(info, worker=worker)
            for worker, infos in sorted(replies.items())
            for info in infos or []
        ]
    return found, None


@api_endpoint("GET")
def tasks_active(request):
    """Tasks running on the workers right now (``?live=1``: wait for workers not yet known)."""
    found, problem = _tasks_on_workers("active", live=_live(request))
    if problem:
        return problem
    return JsonResponse({"tasks": found["active"], "checked_at": timezone.now().isoformat()})


@api_endpoint("GET")
def tasks_scheduled(request):
    """Tasks the workers hold for later: with an ETA/countdown, and reserved (prefetched).

    ``?live=1``: wait for workers not yet known, as for /api/tasks/active/.
    """
    found, problem = _tasks_on_workers("scheduled", "reserved", live=_live(request))
    if problem:
        return problem
    return JsonResponse({**found, "checked_at": timezone.now().isoformat()})


@api_endpoint("GET")
def workers(request):
    """Workers that answer a ping, with their queues, pool, and active/reserved counts.

    By default only the known workers are asked: those the workers-seen record saw within
    twice ``HEALTH_WORKER_DOWN_AFTER`` (the health check records every 5 minutes, and so
    does this view). Each control call then returns as soon as all of them replied, instead
    of waiting ``API_CONTROL_TIMEOUT`` for anyone else. When a known worker does not answer
    (after a redeploy the record holds the old hostnames), the ping is then broadcast once,
    so new workers are found and recorded: that call waits the timeout twice, and the known
    workers that did not answer the broadcast either are listed in ``missing``. A worker
    started since the last health check while every known one answers is not asked:
    ``?live=1`` (or an empty record) broadcasts the ping at once, waiting the whole timeout.
    ``source`` says which answer is shown: ``known`` or ``broadcast``.

    A known worker that did not answer a broadcast (this view's or the health check's) since
    it was last seen is ``silent``: it is not asked again, so a worker stopped for good or
    renamed by a redeploy costs one timeout once, not on every call until it ages out of the
    record. It is still listed in ``missing`` (and in ``silent``) until then; when it answers
    a broadcast again (``?live=1``, the next health check, or a call where no known worker
    is left to ask) it is asked again.
    """
    from monitoring.health import workers_seen, workers_seen_record, workers_seen_window
    from monitoring.queues import workers_ping

    unavailable = broker_unavailable()
    if unavailable:
        return unavailable
    timeout = settings.API_CONTROL_TIMEOUT
    live = _live(request)
    known: list[str] = []
    silent: list[str] = []
    if not live:
        seen, now = workers_seen(), timezone.now()
        known = seen.recent_workers(now=now, within=workers_seen_window())
        silent = seen.silent_workers(now=now, within=workers_seen_window())
    asked = [hostname for hostname in known if hostname not in silent]
    asked_at = timezone.now()
    try:
        ping = workers_ping(timeout=timeout, destination=asked or None)
        broadcast = not asked
        if asked and set(asked) - set(ping.hostnames):
            # A known worker did not answer: after a redeploy the record holds the old names
            # and the new workers are not among them. Ask everyone once.
            asked_at = timezone.now()
            ping = workers_ping(timeout=timeout)
            broadcast = True
        hostnames = ping.hostnames
        stats = _inspect("stats", destination=hostnames, timeout=timeout) if hostnames else {}
        active = _inspect("active", destination=hostnames, timeout=timeout) if hostnames else {}
        reserved = _inspect("reserved", destination=hostnames, timeout=timeout) if hostnames else {}
    except Exception as exc:
        logger.warning("worker inspection failed: %s", exc)
        return error_response(503, "workers_unavailable", "the workers did not answer")
    try:
        workers_seen_record(ping=ping, broadcast=broadcast, asked_at=asked_at)
    except Exception as exc:  # the answer stands without the record
        logger.warning("recording the workers seen failed: %s", exc)
    body = []
    for hostname in hostnames:
        info = stats.get(hostname) or {}
        pool = info.get("pool") or {}
        body.append(
            {
                "hostname": hostname,
                "queues": ping.workers.get(hostname, []),
                "pid": info.get("pid"),
                "uptime_seconds": info.get("uptime"),
                "concurrency": pool.get("max-concurrency"),
                "processes": pool.get("processes"),
                "tasks_completed": info.get("total") or {},
                "active": len(active.get(hostname) or []),
                "reserved": len(reserved.get(hostname) or []),
            }
        )
    return JsonResponse(
        {
            "workers": body,
            "consumers": ping.consumers(),
            "source": "broadcast" if broadcast else "known",
            "missing": sorted(set(known) - set(hostnames)),
            "silent": sorted(set(silent) - set(hostnames)),
            "checked_at": timezone.now().isoformat(),
        }
    )


@api_endpoint("GET")
def queues(request):
    """Messages waiting per queue (all priority levels), read from Redis."""
    from monitoring.queues import queue_depths

    try:
        depths = queue_depths(timeout=2.0)
    except Exception as exc:
        logger.warning("queue depths failed: %s", exc)
        return error_response(503, "broker_unavailable", "the broker does not answer")
    return JsonResponse(
        {
            "queues": [{"name": name, "depth": depth} for name, depth in depths.items()],
            "checked_at": timezone.now().isoformat(),
        }
    )


def _seconds(delta) -> float | None:
    return round(delta.total_seconds(), 3) if delta is not None else None


@api_endpoint("GET")
def schedules(request):
    """Every PeriodicTask: schedule in words, state, last and next run, recent run stats."""
    body = []
    for row in selectors.schedules_overview():
        task, stats = row.task, row.stats
        body.append(
            {
                "name": task.name,
                "task": task.task,
                "schedule": row.words,
                "enabled": task.enabled,
                "one_off": task.one_off,
                "queue": task.queue or jobs.task_queue(task.task),
                "kwargs": stored_value(task.kwargs),
                "last_run_at": _iso(task.last_run_at),
                "next_run_at": _iso(row.next_run),
                "missed": row.missed,
                "total_run_count": task.total_run_count,
                "recent_runs": {
                    "runs": stats.runs,
                    "succeeded": stats.succeeded,
                    "failed": stats.failed,
                    "last_status": stats.last_status or None,
                    "success_rate": stats.success_rate,
                    "median_seconds": _seconds(stats.median),
                    "p95_seconds": _seconds(stats.p95),
                },
                "description": task.description,
            }
        )
    return JsonResponse({"schedules": body})


@api_endpoint("GET")
def job_list(request):
    """The jobs an operator may start with a POST, with their parameters and limits."""
    return JsonResponse({"jobs": [job.as_dict() for job in jobs.jobs_available()]})


@api_endpoint("POST")
def job_trigger(request, name: str):
    """Validate the parameters, apply the rate limit, publish the task: 202 with its id."""
    job = jobs.job_get(name)
    if job is None:
        return error_response(404, "not_found", f"no job {name!r} (see GET /api/jobs/)")
    data, problem = read_json_body(request)
    if problem:
        return problem
    try:
        params = job.validate(data)
    except jobs.JobParameterError as exc:
        return error_response(400, "invalid", str(exc), field=exc.field)
    try:
        tokens.rate_limit_hit(key=caller(request))
    except tokens.RateLimited as exc:
        return error_response(
            429,
            "rate_limited",
            str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        )
    except Exception as exc:  # Redis down: nothing can be published either
        logger.warning("rate limiter unavailable: %s", exc)
        return error_response(503, "broker_unavailable", "the rate limiter (Redis) is down")
    unavailable = broker_unavailable()
    if unavailable:
        return unavailable
    try:
        triggered = jobs.job_trigger(job=job, params=params, requested_by=caller(request))
    except Exception as exc:  # the broker failed while publishing
        logger.warning("publishing %s failed: %s", name, exc)
        return error_response(503, "broker_unavailable", "the task could not be published")
    status_url = reverse("monitoring_api:task", args=[triggered.task_id])
    response = JsonResponse(
        {
            "task_id": triggered.task_id,
            "job": job.name,
            "queue": triggered.queue,
            "parameters": triggered.kwargs,
            "status_url": status_url,
        },
        status=202,
    )
    response["Location"] = status_url
    return response
