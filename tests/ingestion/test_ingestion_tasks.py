"""Ingestion tasks on a real worker, fetching from the fake House Clerk and Senate eFD."""

from __future__ import annotations

import pytest
from django_celery_results.models import TaskResult

from capitolscope.celery import app as celery_app
from capitolscope.locks import exclusive
from ingestion.models import Filing, IngestionRun, Trade
from ingestion.tasks import sync_all_trades, sync_house_trades, sync_senate_trades
from tests.processes import start_worker, subprocess_env, wait_until

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
H1_2026 = {"start_date": "2026-01-01", "end_date": "2026-06-30"}


@pytest.fixture
def source_worker(transactional_db, tmp_path, source_server):
    """A worker whose sources point at the fake servers, with no politeness delays."""
    env = subprocess_env(
        HOUSE_CLERK_BASE_URL=source_server.house_base_url,
        SENATE_EFD_BASE_URL=source_server.senate_base_url,
        SENATE_EFD_MIN_INTERVAL="0",
        INGESTION_HTTP_MIN_INTERVAL="0",
        INGESTION_HTTP_BACKOFF_BASE="0.01",
        INGESTION_HTTP_MAX_RETRIES="1",
        INGESTION_HTTP_TIMEOUT="5",
        INGESTION_SYNC_BUSY_DELAY="1",
        INGESTION_SYNC_BUSY_DEFERRALS="2",
    )
    process, _hostname = start_worker(tmp_path, env=env)
    try:
        yield process
    finally:
        process.stop()
        celery_app.control.purge()  # a retry it had pending must not reach the next test


def test_the_house_sync_runs_on_a_worker_and_running_it_again_changes_nothing(source_worker):
    result = sync_house_trades.delay(**H1_2026).get(timeout=120)
    # Smucker 8 + Pelosi options 2 + Rouzer amendment 1; the scanned paper PTR needs review;
    # Allen's PDF is missing on the server: one document error, retried next run.
    assert result["created"] == 11, source_worker.tail()
    assert result["needs_review"] == 1
    assert result["document_errors"] == 1
    assert result["status"] == "partial"
    run = IngestionRun.objects.get(id=result["run_id"])
    assert run.task_id and run.source == Filing.Source.HOUSE_CLERK
    assert Filing.objects.get(doc_id="20034473").status == Filing.Status.ERROR
    history = TaskResult.objects.get(task_id=run.task_id)
    assert history.status == "SUCCESS" and history.task_name == "ingestion.sync_house_trades"

    again = sync_house_trades.delay(**H1_2026).get(timeout=120)
    assert (again["created"], again["updated"]) == (0, 0)
    assert Trade.objects.count() == 11


def test_a_run_meeting_another_is_deferred_and_gives_up_as_already_running(source_worker):
    from celery.result import AsyncResult

    with exclusive("ingestion.sync.house", ttl=60):
        result = sync_house_trades.delay(**H1_2026).get(timeout=60)
        assert result["status"] == "deferred" and result["deferrals"] == 1
        assert result["retry_in_seconds"] == 1 and "already running" in result["error"]
        # Deferred twice (INGESTION_SYNC_BUSY_DEFERRALS=2), then it gives up, saying so.
        second = AsyncResult(result["deferred_to"]).get(timeout=60)
        assert second["status"] == "deferred" and second["deferrals"] == 2
        last = AsyncResult(second["deferred_to"]).get(timeout=60)
    assert last["status"] == "already_running" and last["deferrals"] == 2
    assert "already running" in last["error"]
    assert not IngestionRun.objects.exists()


def test_a_deferred_run_syncs_its_window_once_the_other_run_is_over(source_worker):
    from celery.result import AsyncResult

    with exclusive("ingestion.sync.house", ttl=60):
        # The weekly full sync meets a sync of the same source: not lost, only later.
        result = sync_house_trades.delay(**H1_2026).get(timeout=60)
    assert result["status"] == "deferred"
    # Follow the deferrals (on a slow machine the first may come before the lock is gone).
    later = result
    while later.get("status") == "deferred":
        task_id = later["deferred_to"]
        later = AsyncResult(task_id).get(timeout=120)
    assert later["created"] == 11, source_worker.tail()
    run = IngestionRun.objects.get()
    assert (str(run.start_date), str(run.end_date)) == (H1_2026["start_date"], H1_2026["end_date"])
    assert run.task_id == task_id


def test_bad_arguments_fail_at_once_with_the_reason_and_are_not_retried(source_worker):
    async_result = sync_house_trades.delay(start_date="2026-13-01")
    with pytest.raises(Exception, match="is not a date"):
        async_result.get(timeout=60)
    history = TaskResult.objects.get(task_id=async_result.id)
    assert history.status == "FAILURE"
    assert "use YYYY-MM-DD" in history.result
    assert not IngestionRun.objects.exists()


def test_sync_all_trades_runs_one_task_per_source(source_worker, source_server):
    summary = sync_all_trades.delay(start_date="2026-06-01", end_date="2026-06-30").get(timeout=60)
    house = sync_house_trades.AsyncResult(summary["tasks"]["house"]).get(timeout=120)
    senate = sync_senate_trades.AsyncResult(summary["tasks"]["senate"]).get(timeout=120)
    assert house["source"] == Filing.Source.HOUSE_CLERK
    assert senate["source"] == Filing.Source.SENATE_EFD
    assert senate["status"] in {"succeeded", "partial"}, senate
    assert senate["created"] > 0
    assert Filing.objects.filter(chamber="senate").exists()


def test_a_403_from_senate_efd_fails_the_task_and_the_run_says_why(source_worker, source_server):
    source_server.senate.forbid_pages = True
    async_result = sync_senate_trades.delay(start_date="2026-06-01", end_date="2026-06-30")
    with pytest.raises(Exception, match="403"):
        async_result.get(timeout=120)
    assert TaskResult.objects.get(task_id=async_result.id).status == "FAILURE"
    run = IngestionRun.objects.get(source=Filing.Source.SENATE_EFD)
    assert run.status == IngestionRun.Status.FAILED
    assert "403" in run.error and "SENATE_EFD_FETCHER" in run.error
    assert source_worker.alive()


def test_a_truncated_index_is_a_failed_run_with_the_reason_retried_later_by_a_live_worker(
    source_worker, source_server
):
    source_server.house.indexes[2026] = source_server.house.indexes[2026][:300]
    async_result = sync_house_trades.delay(**H1_2026)
    run = wait_until(
        lambda: IngestionRun.objects.filter(status=IngestionRun.Status.FAILED).first(),
        timeout=60,
        what="the failed run",
    )
    assert "2026FD.zip" in run.error and "unreadable" in run.error
    wait_until(
        lambda: TaskResult.objects.filter(task_id=async_result.id, status="RETRY").exists(),
        timeout=30,
        what="the task to be scheduled for a retry",
    )
    # The failed run says it was the first attempt and that the task tries again.
    run.refresh_from_db()
    assert run.error.endswith("(attempt 1 of 4; the task will try again)"), run.error
    assert (run.detail["attempt"], run.detail["retrying"]) == (1, True)
    assert source_worker.alive()
    # The worker goes on with other work meanwhile.
    other = sync_house_trades.delay(start_date="2023-01-01", end_date="2023-01-31")
    assert other.get(timeout=120)["created"] == 13  # Pelosi's January 2023 PTR


def test_the_last_attempt_of_a_failing_sync_says_no_retries_are_left():
    from ingestion import sync

    def failed_run():
        return IngestionRun.objects.create(
            source=Filing.Source.HOUSE_CLERK,
            task_id="t-1",
            status=IngestionRun.Status.FAILED,
            error="timed out",
        )

    first, last = failed_run(), failed_run()
    sync.run_attempt_note(task_id="t-1", attempt=4, attempts=4)
    last.refresh_from_db()
    assert last.error == "timed out (attempt 4 of 4; no retries left)"
    assert last.detail == {"attempt": 4, "attempts": 4, "retrying": False}
    first.refresh_from_db()
    assert first.error == "timed out"  # only the latest run of the task
