"""The JSON API: authentication, errors, every endpoint, and jobs run by a real worker."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_celery_results.models import TaskResult

from capitolscope.broker import free_port
from capitolscope.celery import app as celery_app
from capitolscope.locks import redis_client
from monitoring import jobs
from monitoring.health import workers_seen, workers_seen_record, workers_seen_window
from monitoring.queues import WorkerPing, queue_depths
from monitoring.tokens import api_token_create, api_token_revoke
from tests.processes import wait_until

GET_ENDPOINTS = [
    "/api/health/full/",
    "/api/tasks/active/",
    "/api/tasks/scheduled/",
    "/api/tasks/some-task-id/",
    "/api/workers/",
    "/api/queues/",
    "/api/schedules/",
    "/api/jobs/",
    "/metrics",
]
POST_ENDPOINTS = [
    "/api/jobs/monitoring.system_health_check/",
    "/api/tasks/some-task-id/revoke/",
]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in Redis, which outlives each test's database."""
    client = redis_client()
    for key in client.scan_iter("capitolscope:api:rate:*"):
        client.delete(key)


@pytest.fixture
def token(staff_user):
    return api_token_create(user=staff_user, name="tests").secret


@pytest.fixture
def api(token):
    """A client that sends the token and enforces CSRF (token requests need none)."""
    return Client(enforce_csrf_checks=True, headers={"authorization": f"Bearer {token}"})


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def dead_broker(monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")


def queued() -> int:
    """Messages waiting in all queues (read from Redis, as the API does)."""
    return sum(queue_depths(timeout=2.0).values())


def post_json(client, path, body=None, **extra):
    data = "" if body is None else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **extra)


def assert_error(response, status: int, code: str | None = None, field: str | None = None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    if field:
        assert error["field"] == field
    return error


# --- Authentication ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [("get", path) for path in GET_ENDPOINTS] + [("post", path) for path in POST_ENDPOINTS],
)
def test_anonymous_callers_get_401_json_with_a_bearer_challenge(client, method, path):
    response = getattr(client, method)(path)
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
@pytest.mark.parametrize("path", GET_ENDPOINTS)
def test_a_logged_in_user_who_is_not_staff_gets_403_json(client, plain_user, path):
    client.force_login(plain_user)
    assert_error(client.get(path), 403, "forbidden")


@pytest.mark.django_db
def test_a_token_whose_user_is_not_staff_gets_403(api, staff_user):
    staff_user.is_staff = False
    staff_user.save()
    assert_error(api.get("/api/jobs/"), 403, "forbidden")


@pytest.mark.django_db
def test_a_revoked_token_gets_401(api, staff_user):
    from monitoring.models import ApiToken

    api_token_revoke(token=ApiToken.objects.get())
    error = assert_error(api.get("/api/jobs/"), 401, "unauthorized")
    assert "revoked" in error["message"]


@pytest.mark.django_db
def test_an_expired_token_gets_401(staff_user):
    created = api_token_create(
        user=staff_user, name="soon", expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    client = Client(headers={"authorization": f"Bearer {created.secret}"})
    assert client.get("/api/jobs/").status_code == 200
    created.token.expires_at = timezone.now() - dt.timedelta(seconds=1)
    created.token.save()
    error = assert_error(client.get("/api/jobs/"), 401, "unauthorized")
    assert "expired" in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", ["Bearer cs_0123456789_nope", "Basic b2xpdmlhOmNvcnJlY3QgaG9yc2U=", "Bearer "]
)
def test_a_bad_authorization_header_gets_401_even_with_a_staff_session(staff_client, header):
    response = staff_client.get("/api/jobs/", headers={"authorization": header})
    assert_error(response, 401, "unauthorized")
    assert "Bearer" in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_a_staff_session_post_without_a_csrf_token_is_refused(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    before = queued()
    response = post_json(client, "/api/jobs/monitoring.system_health_check/", {})
    assert_error(response, 403, "csrf_failed")
    assert queued() == before  # nothing was published


@pytest.mark.django_db
def test_a_staff_session_post_with_the_csrf_token_is_accepted(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    client.get("/admin/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    try:
        response = post_json(
            client, "/api/jobs/monitoring.system_health_check/", {}, HTTP_X_CSRFTOKEN=csrf
        )
        assert response.status_code == 202, response.content
    finally:
        celery_app.control.purge()


@pytest.mark.django_db
def test_a_token_post_needs_no_csrf_token(api):
    try:
        response = post_json(api, "/api/jobs/monitoring.system_health_check/", {})
        assert response.status_code == 202, response.content
    finally:
        celery_app.control.purge()


@pytest.mark.django_db
def test_a_wrong_method_gets_405_json_after_authentication(api, client):
    response = api.get("/api/jobs/monitoring.system_health_check/")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"
    assert_error(post_json(api, "/api/jobs/"), 405)
    assert_error(client.delete("/api/jobs/"), 401)


# --- Health -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_health_probe_is_public_and_as_minimal_as_the_health_page(client):
    response = client.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == client.get("/health/").json()
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_the_full_health_report_names_every_component(api):
    response = api.get("/api/health/full/")
    body = response.json()
    assert response.status_code in {200, 503}
    assert {"database", "broker", "workers", "queues", "disk", "memory"} <= set(body["components"])
    assert body["components"]["database"]["status"] == "ok"
    assert response.status_code == (503 if body["status"] == "unhealthy" else 200)


# --- Task status ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_task_id_is_404(api):
    assert_error(api.get(f"/api/tasks/{uuid.uuid4()}/"), 404, "not_found")


@pytest.mark.django_db
def test_a_task_shows_its_arguments_result_and_dates_with_secrets_masked(api):
    now = timezone.now()
    TaskResult.objects.create(
        task_id="t-1",
        task_name="alerts.deliver",
        status="FAILURE",
        task_args=json.dumps("(42, 'plain')"),
        task_kwargs=json.dumps(
            "{'api_key': 'sk-live-123', 'days_back': 3, 'nested': {'Password': 'pw'}}"
        ),
        result=json.dumps({"exc_type": "ValueError", "exc_message": ["token=abcdef is bad"]}),
        traceback="Traceback ...\nValueError: secret='hunter2'",
        worker="w1@host",
        content_type="application/json",
        content_encoding="utf-8",
        date_started=now - dt.timedelta(seconds=2),
    )
    response = api.get("/api/tasks/t-1/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "alerts.deliver"
    assert body["status"] == "FAILURE"
    assert body["args"] == [42, "plain"]
    assert body["kwargs"]["days_back"] == 3
    assert body["kwargs"]["api_key"] == "********"
    assert body["kwargs"]["nested"]["Password"] == "********"
    assert body["worker"] == "w1@host"
    assert body["queue"] == "notifications"
    assert body["date_started"] and body["date_done"]
    text = response.content.decode()
    for secret in ("sk-live-123", "abcdef", "hunter2", '"pw"'):
        assert secret not in text


# --- Jobs ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_jobs_lists_exactly_the_registered_jobs_with_their_parameters(api):
    response = api.get("/api/jobs/")
    assert response.status_code == 200
    listed = {job["name"]: job for job in response.json()["jobs"]}
    registered = set(celery_app.tasks.keys())
    assert set(listed) == {job.name for job in jobs.JOBS if job.name in registered}
    assert "nope" not in listed
    sync = listed["ingestion.sync_all_trades"]
    assert sync["queue"] == "data_ingestion"
    params = {param["name"]: param for param in sync["parameters"]}
    assert params["days_back"] == {
        "name": "days_back",
        "type": "integer",
        "required": False,
        "default": None,
        "description": params["days_back"]["description"],
        "minimum": 0,
        "maximum": 3660,
    }
    assert params["start_date"]["type"] == params["end_date"]["type"] == "date"
    prices = {
        param["name"]: param for param in listed["ingestion.update_stock_prices"]["parameters"]
    }
    assert prices["force"]["type"] == "boolean" and prices["force"]["default"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("job", "body", "field"),
    [
        ("ingestion.sync_house_trades", {"days_back": "7"}, "days_back"),
        ("ingestion.sync_house_trades", {"days_back": True}, "days_back"),
        ("ingestion.sync_house_trades", {"days_back": 99999}, "days_back"),
        ("ingestion.sync_house_trades", {"days_back": -1}, "days_back"),
        ("ingestion.sync_senate_trades", {"start_date": "2026-13-01"}, "start_date"),
        ("ingestion.sync_senate_trades", {"start_date": 20260101}, "start_date"),
        (
            "ingestion.sync_all_trades",
            {"start_date": "2026-11-20", "end_date": "2026-11-01"},
            "start_date",
        ),
        ("ingestion.sync_all_trades", {"end_date": "2999-01-01"}, "end_date"),
        ("ingestion.sync_all_trades", {"days_back": 1, "start_date": "2026-11-01"}, "days_back"),
        ("ingestion.sync_all_trades", {"start_date": "2011-12-31"}, "start_date"),
        ("ingestion.sync_all_trades", {"dayz_back": 1}, "dayz_back"),
        ("ingestion.update_stock_prices", {"force": "yes"}, "force"),
        ("ingestion.update_stock_prices", {"days": 0}, "days"),
        ("monitoring.system_health_check", {"anything": 1}, "anything"),
    ],
)
def test_a_bad_parameter_is_refused_with_400_naming_the_field(api, job, body, field):
    before = queued()
    response = post_json(api, f"/api/jobs/{job}/", body)
    assert_error(response, 400, "invalid", field)
    assert queued() == before  # nothing was published


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [("{not json", "invalid_json"), ("[1, 2]", "invalid_body"), ('"text"', "invalid_body")],
)
def test_a_body_that_is_not_a_json_object_is_400(api, data, code):
    response = api.post(
        "/api/jobs/monitoring.system_health_check/", data=data, content_type="application/json"
    )
    assert_error(response, 400, code)


@pytest.mark.django_db
def test_an_unknown_job_is_404(api):
    assert_error(post_json(api, "/api/jobs/ingestion.drop_everything/", {}), 404, "not_found")


@pytest.mark.django_db
def test_triggering_faster_than_the_rate_is_429_with_retry_after(api, settings, staff_user):
    settings.API_TRIGGER_RATE = "2/h"
    before = queued()
    try:
        for _ in range(2):
            assert post_json(api, "/api/jobs/monitoring.system_health_check/").status_code == 202
        response = post_json(api, "/api/jobs/monitoring.system_health_check/")
        assert_error(response, 429, "rate_limited")
        assert 1 <= int(response["Retry-After"]) <= 3600
        # Another token (another script) has a budget of its own.
        other = api_token_create(user=staff_user, name="other").secret
        response = post_json(
            Client(headers={"authorization": f"Bearer {other}"}),
            "/api/jobs/monitoring.system_health_check/",
        )
        assert response.status_code == 202
        assert queued() == before + 3  # the refused one was never published
    finally:
        celery_app.control.purge()


@pytest.mark.django_db
def test_a_trigger_answers_202_with_the_task_id_and_its_status_url(
    api, django_capture_on_commit_callbacks
):
    try:
        # The publication is recorded when the request's transaction commits.
        with django_capture_on_commit_callbacks(execute=True):
            response = post_json(
                api, "/api/jobs/ingestion.sync_all_trades/", {"start_date": "2026-11-01"}
            )
    finally:
        celery_app.control.purge()
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["job"] == "ingestion.sync_all_trades"
    assert body["queue"] == "data_ingestion"
    assert body["parameters"] == {"start_date": "2026-11-01"}
    assert body["status_url"] == f"/api/tasks/{body['task_id']}/" == response["Location"]
    # Recorded as queued when published: the status URL answers at once.
    assert api.get(body["status_url"]).json()["status"] == "PENDING"


# --- Broker, queues, schedules ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/workers/"),
        ("get", "/api/queues/"),
        ("get", "/api/tasks/active/"),
        ("get", "/api/tasks/scheduled/"),
        ("post", "/api/jobs/monitoring.system_health_check/"),
        ("post", "/api/tasks/some-task-id/revoke/"),
    ],
)
def test_an_unreachable_broker_gives_503_json(api, dead_broker, method, path):
    response = api.get(path) if method == "get" else post_json(api, path, {})
    assert_error(response, 503)


@pytest.mark.django_db
def test_queues_count_every_priority_level_of_each_queue(api):
    before = {row["name"]: row["depth"] for row in api.get("/api/queues/").json()["queues"]}
    assert set(before) == {
        "default",
        "notifications",
        "data_ingestion",
        "price_updates",
        "maintenance",
    }
    try:
        for priority in (0, 5, 9):
            celery_app.send_task(
                "monitoring.system_health_check", queue="maintenance", priority=priority
            )
        after = {row["name"]: row["depth"] for row in api.get("/api/queues/").json()["queues"]}
    finally:
        celery_app.control.purge()
    assert after["maintenance"] == before["maintenance"] + 3
    assert after["default"] == before["default"]


@pytest.mark.django_db
def test_schedules_lists_every_periodic_task_with_its_schedule_in_words(api):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    response = api.get("/api/schedules/")
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["schedules"]}
    sync = rows["sync-congressional-trades"]
    assert sync["task"] == "ingestion.sync_all_trades"
    assert sync["enabled"] is True
    assert sync["queue"] == "data_ingestion"
    assert sync["kwargs"] == {"days_back": 1}
    assert "2 hours" in sync["schedule"]
    assert sync["total_run_count"] == 0 and sync["last_run_at"] is None
    assert rows["weekly-cleanup"]["queue"] == "maintenance"


@pytest.mark.django_db
def test_revoking_a_finished_task_is_409_and_a_bad_parameter_400(api):
    TaskResult.objects.create(task_id="done-1", task_name="x", status="SUCCESS")
    assert_error(post_json(api, "/api/tasks/done-1/revoke/"), 409, "already_finished")
    response = post_json(api, "/api/tasks/other/revoke/", {"terminate": "yes"})
    assert_error(response, 400, "invalid", "terminate")
    response = post_json(api, "/api/tasks/other/revoke/", {"signal": "KILL"})
    assert_error(response, 400, "invalid", "signal")


# --- With a real worker -------------------------------------------------------------------------


def wait_for_status(client, task_id: str, states: set[str], timeout: float = 60) -> dict:
    def done():
        response = client.get(f"/api/tasks/{task_id}/")
        if response.status_code == 200 and response.json()["status"] in states:
            return response.json()
        return None

    return wait_until(done, timeout=timeout, what=f"task {task_id} to reach {states}")


@pytest.mark.processes
def test_a_triggered_job_runs_on_a_real_worker_and_reads_success(api, worker):
    response = post_json(api, "/api/jobs/monitoring.system_health_check/", {})
    assert response.status_code == 202, response.content
    task = wait_for_status(api, response.json()["task_id"], {"SUCCESS", "FAILURE"})
    assert task["status"] == "SUCCESS", task
    assert task["name"] == "monitoring.system_health_check"
    assert task["worker"].endswith(worker.hostname.split("@")[1])
    assert set(task["result"]["components"]) >= {"database", "broker"}
    assert task["date_done"] and task["duration_seconds"] is not None


@pytest.mark.processes
def test_a_job_that_fails_reads_failure_with_its_traceback_and_masked_arguments(api, worker):
    response = post_json(
        api, "/api/jobs/monitoring.selftest_fail/", {"message": "password=letmein failed"}
    )
    assert response.status_code == 202, response.content
    task = wait_for_status(api, response.json()["task_id"], {"SUCCESS", "FAILURE"})
    assert task["status"] == "FAILURE"
    assert "SelfTestFailure" in task["traceback"]
    assert "letmein" not in json.dumps(task)


@pytest.mark.processes
def test_workers_and_worker_task_lists_show_the_running_worker(api, worker):
    body = api.get("/api/workers/").json()
    [me] = [row for row in body["workers"] if row["hostname"] == worker.hostname]
    assert set(me["queues"]) == {
        "default",
        "notifications",
        "data_ingestion",
        "price_updates",
        "maintenance",
    }
    assert me["pid"] and me["concurrency"] == 1
    assert worker.hostname in body["consumers"]["default"]
    assert api.get("/api/tasks/active/").json()["tasks"] == []

    # A task with a countdown waits on the worker: it is listed as scheduled.
    held = celery_app.send_task("monitoring.system_health_check", countdown=600)
    try:
        listed = wait_until(
            lambda: [
                task
                for task in api.get("/api/tasks/scheduled/").json()["scheduled"]
                if task["task_id"] == held.id
            ],
            timeout=30,
            what="the held task to be listed as scheduled",
        )
        assert listed[0]["name"] == "monitoring.system_health_check"
        assert listed[0]["worker"] == worker.hostname and listed[0]["eta"]
    finally:
        celery_app.control.revoke(held.id)


@pytest.mark.processes
def test_workers_asks_only_the_known_workers_once_they_are_recorded(api, worker):
    first = api.get("/api/workers/").json()  # nothing recorded yet: ask everyone
    assert first["source"] == "broadcast"
    assert worker.hostname in [row["hostname"] for row in first["workers"]]

    second = api.get("/api/workers/").json()  # the first call recorded the worker
    assert (second["source"], second["missing"]) == ("known", [])
    [me] = second["workers"]
    assert me["hostname"] == worker.hostname and me["pid"] and me["concurrency"] == 1
    assert "maintenance" in me["queues"]

    assert api.get("/api/workers/?live=1").json()["source"] == "broadcast"

    # A known worker that no longer answers is named, and the others are still listed (found
    # by the broadcast its silence causes).
    workers_seen_record(ping=WorkerPing(workers={"gone@nowhere": ["default"]}))
    third = api.get("/api/workers/").json()
    assert (third["source"], third["missing"]) == ("broadcast", ["gone@nowhere"])
    assert [row["hostname"] for row in third["workers"]] == [worker.hostname]


@pytest.mark.processes
def test_workers_finds_new_workers_by_broadcast_when_only_old_names_are_known(api, worker):
    # After a redeploy the record holds only the old hostnames; the running worker is new.
    workers_seen_record(ping=WorkerPing(workers={"old@redeployed": ["default"]}))

    first = api.get("/api/workers/").json()
    assert (first["source"], first["missing"]) == ("broadcast", ["old@redeployed"])
    assert [row["hostname"] for row in first["workers"]] == [worker.hostname]
    [me] = first["workers"]
    assert me["pid"] and me["concurrency"] == 1 and "maintenance" in me["queues"]

    # The broadcast recorded the new worker: it is now known and answers.
    assert worker.hostname in workers_seen().recent_workers(
        now=timezone.now(), within=workers_seen_window()
    )


@pytest.mark.processes
def test_a_revoked_task_is_skipped_by_the_worker_and_reads_revoked(api, worker):
    task_id = str(uuid.uuid4())
    response = post_json(api, f"/api/tasks/{task_id}/revoke/", {"terminate": False})
    assert response.status_code == 202, response.content
    assert response.json()["known"] is False
    wait_until(
        lambda: (
            task_id
            in (
                celery_app.control.inspect(destination=[worker.hostname], timeout=1).revoked() or {}
            ).get(worker.hostname, [])
        ),
        timeout=30,
        what="the worker to know the revoked id",
    )
    celery_app.send_task("monitoring.system_health_check", task_id=task_id)
    task = wait_for_status(api, task_id, {"REVOKED", "SUCCESS"})
    assert task["status"] == "REVOKED"
    assert_error(post_json(api, f"/api/tasks/{task_id}/revoke/"), 409, "already_finished")


def test_every_job_parameter_is_a_keyword_its_task_accepts():
    """The registry must not drift from the tasks' signatures (a renamed argument would make
    every trigger fail on the worker)."""
    import inspect

    jobs.jobs_available()  # imports the tasks modules (autodiscovery is lazy)
    registered = set(celery_app.tasks.keys())
    checked = 0
    for job in jobs.JOBS:
        if job.name not in registered:
            continue
        signature = inspect.signature(celery_app.tasks[job.name].run)
        accepted = {
            name
            for name, param in signature.parameters.items()
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
        }
        assert {param.name for param in job.params} <= accepted, job.name
        for param in job.params:
            default = signature.parameters[param.name].default
            if default is not inspect.Parameter.empty:
                assert param.default == default, f"{job.name}.{param.name}"
        checked += 1
    assert checked >= 6
