"""Task history: staff-only list with filters and keyset pages, and a detail page."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_results.models import TaskResult

from tests.monitoring._taskresults import task_result

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)

OPS_PAGES = [
    "/ops/",
    "/ops/tasks/",
    "/ops/tasks/some-task-id/",
    "/ops/schedules/",
    "/ops/schedules/1/",
    "/ops/dead-letters/",
    "/ops/dead-letters/1/",
]
OPS_ACTIONS = [
    "/ops/schedules/1/run/",
    "/ops/schedules/1/enable/",
    "/ops/schedules/1/disable/",
    "/ops/dead-letters/1/retry/",
    "/ops/dead-letters/1/dismiss/",
]


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def ids_on(response) -> list[str]:
    return re.findall(r'href="/ops/tasks/([^/"]+)/"', response.content.decode())


@pytest.mark.parametrize("path", OPS_PAGES + OPS_ACTIONS)
def test_anonymous_users_are_sent_to_the_login_page(client, path):
    response = client.post(path) if path in OPS_ACTIONS else client.get(path)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("path", OPS_PAGES + OPS_ACTIONS)
def test_signed_in_users_who_are_not_staff_get_403(client, plain_user, path):
    client.force_login(plain_user)
    response = client.post(path) if path in OPS_ACTIONS else client.get(path)
    assert response.status_code == 403


def test_actions_refuse_get(staff_client):
    for path in OPS_ACTIONS:
        assert staff_client.get(path).status_code == 405


def test_the_list_shows_the_newest_first(staff_client):
    old = task_result(created=NOW - dt.timedelta(hours=2))
    new = task_result(created=NOW - dt.timedelta(hours=1))
    response = staff_client.get("/ops/tasks/")
    assert response.status_code == 200
    assert ids_on(response) == [new.task_id, old.task_id]


def test_it_filters_by_task_name_status_and_schedule(staff_client):
    wanted = task_result(
        task_name="ingestion.sync_all_trades",
        status="FAILURE",
        schedule="weekly-full-sync",
        created=NOW,
    )
    task_result(task_name="ingestion.sync_all_trades", status="SUCCESS", created=NOW)
    task_result(task_name="monitoring.system_health_check", status="FAILURE", created=NOW)
    task_result(status="FAILURE", schedule="sync-congressional-trades", created=NOW)

    assert len(ids_on(staff_client.get("/ops/tasks/?task_name=ingestion.sync_all_trades"))) == 3
    assert len(ids_on(staff_client.get("/ops/tasks/?status=FAILURE"))) == 3
    assert ids_on(staff_client.get("/ops/tasks/?schedule=weekly-full-sync")) == [wanted.task_id]
    both = staff_client.get(
        "/ops/tasks/?task_name=ingestion.sync_all_trades&status=FAILURE&schedule=weekly-full-sync"
    )
    assert ids_on(both) == [wanted.task_id]


def test_the_queue_filter_takes_the_tasks_the_routes_send_to_that_queue(staff_client):
    prices = task_result(task_name="ingestion.update_stock_prices", created=NOW)
    sync = task_result(task_name="ingestion.sync_all_trades", created=NOW)
    health = task_result(task_name="monitoring.system_health_check", created=NOW)
    assert ids_on(staff_client.get("/ops/tasks/?queue=price_updates")) == [prices.task_id]
    assert ids_on(staff_client.get("/ops/tasks/?queue=data_ingestion")) == [sync.task_id]
    assert health.task_id in ids_on(staff_client.get("/ops/tasks/?queue=default"))


def test_it_filters_by_a_date_range_of_creation(staff_client):
    task_result(created=dt.datetime(2026, 11, 19, 23, 59, tzinfo=dt.UTC))
    inside = task_result(created=dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    task_result(created=dt.datetime(2026, 11, 21, 0, 0, tzinfo=dt.UTC))
    response = staff_client.get("/ops/tasks/?created_from=2026-11-20&created_to=2026-11-21")
    assert ids_on(response) == [inside.task_id]


def test_it_rejects_a_date_range_that_ends_before_it_starts(staff_client):
    response = staff_client.get("/ops/tasks/?created_from=2026-11-21&created_to=2026-11-20")
    assert response.status_code == 400
    assert "To: The end of the date range must be after its start." in response.content.decode()


def test_it_rejects_a_bad_status_and_a_bad_date_naming_the_field(staff_client):
    response = staff_client.get("/ops/tasks/?status=EXPLODED&created_from=yesterday")
    assert response.status_code == 400
    text = response.content.decode()
    assert "Status: Select a valid choice. EXPLODED is not one of the available choices." in text
    assert "From: Enter a valid date/time." in text


def test_it_rejects_a_forged_page_position(staff_client):
    response = staff_client.get("/ops/tasks/?before=not-a-cursor")
    assert response.status_code == 400
    assert "not a page position" in response.content.decode()


def test_pages_walk_every_row_once_without_counting_the_table(staff_client, monkeypatch):
    monkeypatch.setattr("monitoring.views.PAGE_SIZE", 3)
    same_moment = NOW - dt.timedelta(minutes=30)
    rows = [task_result(created=NOW - dt.timedelta(minutes=i)) for i in range(5)]
    # Rows created in the same microsecond must neither repeat nor vanish across pages.
    rows += [task_result(created=same_moment) for _ in range(3)]
    expected = [
        row.task_id
        for row in sorted(rows, key=lambda row: (row.date_created, row.id), reverse=True)
    ]

    seen, url, pages = [], "/ops/tasks/", []
    while url:
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(url)
        assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
        page = ids_on(response)
        pages.append(page)
        seen += page
        match = re.search(r'href="(\?[^"]*)" rel="next"', response.content.decode())
        url = "/ops/tasks/" + match.group(1).replace("&amp;", "&") if match else None
    assert seen == expected
    assert [len(page) for page in pages] == [3, 3, 2]


def test_going_back_to_newer_rows_from_the_third_page(staff_client, monkeypatch):
    monkeypatch.setattr("monitoring.views.PAGE_SIZE", 2)
    rows = [task_result(created=NOW - dt.timedelta(minutes=i)) for i in range(6)]
    ordered = [row.task_id for row in rows]
    third = staff_client.get(f"/ops/tasks/?before={cursor_of(rows[3])}")
    assert ids_on(third) == ordered[4:6]
    newer = re.search(r'href="(\?[^"]*)" rel="prev"', third.content.decode()).group(1)
    second = staff_client.get("/ops/tasks/" + newer.replace("&amp;", "&"))
    assert ids_on(second) == ordered[2:4]


def cursor_of(row: TaskResult) -> str:
    from monitoring.selectors import Cursor

    return Cursor.of(row).encode()


def test_the_detail_page_shows_everything_about_a_run(staff_client):
    row = task_result(
        task_name="ingestion.sync_all_trades",
        status="FAILURE",
        created=NOW,
        started_after=1.5,
        duration=3.25,
        schedule="weekly-full-sync",
        args=(7,),
        kwargs={"days_back": 7},
        result={"exc_type": "SourceError", "exc_message": ["House Clerk answered 503"]},
        traceback="Traceback (most recent call last):\nSourceError: House Clerk answered 503",
        worker="celery@ingest-1",
        meta={"retries": 3, "queue": "data_ingestion"},
    )
    response = staff_client.get(f"/ops/tasks/{row.task_id}/")
    assert response.status_code == 200
    text = response.content.decode()
    for expected in [
        row.task_id,
        "ingestion.sync_all_trades",
        "FAILURE",
        "celery@ingest-1",
        "data_ingestion",
        "&quot;days_back&quot;: 7",
        "SourceError: House Clerk answered 503",
        "2026-11-23 12:00:01.500000",  # started
        "2026-11-23 12:00:04.750000",  # finished
        "3.25 s",
        "weekly-full-sync",
    ]:
        assert expected in text, expected
    assert re.search(r"<th>retries</th><td>3</td>", text)


def test_the_detail_of_an_unknown_task_is_404(staff_client):
    assert staff_client.get("/ops/tasks/no-such-task/").status_code == 404


def test_the_admin_task_results_list_filters_without_reading_distinct_values(
    client, django_user_model
):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    failed = task_result(status="FAILURE", created=NOW)
    task_result(status="SUCCESS", created=NOW)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/django_celery_results/taskresult/?status=FAILURE")
    assert response.status_code == 200
    assert failed.task_id in response.content.decode()
    assert "1 task result" in response.content.decode()
    assert not any("DISTINCT" in q["sql"].upper() for q in queries.captured_queries)


def test_a_queue_filter_pages_through_its_tasks_merged_in_order(staff_client, monkeypatch):
    monkeypatch.setattr("monitoring.views.PAGE_SIZE", 2)
    names = ["monitoring.system_health_check", "monitoring.selftest_fail"]
    rows = [
        task_result(task_name=names[i % 2], created=NOW - dt.timedelta(minutes=i)) for i in range(5)
    ]
    task_result(task_name="ingestion.sync_all_trades", created=NOW)  # another queue
    first = staff_client.get("/ops/tasks/?queue=default")
    assert ids_on(first) == [rows[0].task_id, rows[1].task_id]
    older = re.search(r'href="(\?[^"]*)" rel="next"', first.content.decode()).group(1)
    second = staff_client.get("/ops/tasks/" + older.replace("&amp;", "&"))
    assert ids_on(second) == [rows[2].task_id, rows[3].task_id]
    newer = re.search(r'href="(\?[^"]*)" rel="prev"', second.content.decode()).group(1)
    assert ids_on(staff_client.get("/ops/tasks/" + newer.replace("&amp;", "&"))) == ids_on(first)
    # A task name that the queue does not take matches nothing.
    none = staff_client.get("/ops/tasks/?queue=default&task_name=ingestion.sync_all_trades")
    assert ids_on(none) == []


def test_a_custom_task_id_with_a_slash_has_a_detail_page(staff_client):
    row = task_result(created=NOW, task_id="import/2026-11-23/house")
    assert f'href="/ops/tasks/{row.task_id}/"' in staff_client.get("/ops/tasks/").content.decode()
    assert staff_client.get(f"/ops/tasks/{row.task_id}/").status_code == 200
