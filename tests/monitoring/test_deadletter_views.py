"""Dead-letter pages: open ones first, detail, and retry/dismiss as POST actions."""

import datetime as dt
import html
import re

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_results.models import TaskResult

from capitolscope.celery import app as celery_app
from monitoring.models import DeadLetter
from tests.processes import wait_until


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def letter(task_id: str, *, status="open", minutes_ago=0, **fields) -> DeadLetter:
    fields.setdefault("task_name", "monitoring.system_health_check")
    return DeadLetter.objects.create(
        task_id=task_id,
        status=status,
        failed_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
        **fields,
    )


@pytest.mark.django_db
def test_the_list_shows_open_letters_first_then_newest_first(staff_client):
    letter("handled-new", status="dismissed", minutes_ago=1)
    letter("open-old", minutes_ago=60)
    letter("open-new", minutes_ago=5)
    letter("retried-old", status="retried", minutes_ago=90)
    text = staff_client.get("/ops/dead-letters/").content.decode()
    pks = re.findall(r'href="/ops/dead-letters/(\d+)/"', text)
    order = [DeadLetter.objects.get(pk=pk).task_id for pk in dict.fromkeys(pks)]
    assert order == ["open-new", "open-old", "handled-new", "retried-old"]
    only_open = staff_client.get("/ops/dead-letters/?status=open").content.decode()
    assert len(set(re.findall(r'href="/ops/dead-letters/(\d+)/"', only_open))) == 2


@pytest.mark.django_db
def test_an_unknown_status_filter_is_said_and_everything_shown(staff_client):
    letter("a")
    text = html.unescape(staff_client.get("/ops/dead-letters/?status=lost").content.decode())
    assert "Unknown status 'lost'; showing all dead letters." in text


@pytest.mark.django_db
def test_the_detail_shows_what_failed(staff_client):
    item = letter(
        "t-1",
        task_name="alerts.deliver",
        args=[42],
        kwargs={"delivery_id": 42},
        queue="notifications",
        exception_type="DeliveryError",
        exception="SMTP 554 refused",
        traceback="Traceback ...\nDeliveryError: SMTP 554 refused",
        retries=5,
        worker="celery@alerts-1",
    )
    text = staff_client.get(f"/ops/dead-letters/{item.pk}/").content.decode()
    for expected in (
        "alerts.deliver",
        "notifications",
        "DeliveryError: SMTP 554 refused",
        "celery@alerts-1",
        "&quot;delivery_id&quot;: 42",
        "<th>retries</th><td>5</td>",
    ):
        assert expected in text, expected


@pytest.mark.django_db
def test_dismiss_is_a_csrf_protected_post(staff_user):
    item = letter("t-2")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.post(f"/ops/dead-letters/{item.pk}/dismiss/").status_code == 403
    page = client.get(f"/ops/dead-letters/{item.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(
        f"/ops/dead-letters/{item.pk}/dismiss/", {"csrfmiddlewaretoken": token}, follow=True
    )
    item.refresh_from_db()
    assert item.status == DeadLetter.Status.DISMISSED
    assert item.resolved_by == staff_user
    assert "Dead letter of monitoring.system_health_check dismissed." in response.content.decode()

    again = client.post(
        f"/ops/dead-letters/{item.pk}/dismiss/", {"csrfmiddlewaretoken": token}, follow=True
    )
    assert "is dismissed, not open" in html.unescape(again.content.decode())


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_retry_runs_the_same_task_again_and_links_it(worker, staff_client, staff_user):
    item = letter("t-3")
    response = staff_client.post(f"/ops/dead-letters/{item.pk}/retry/", follow=True)
    item.refresh_from_db()
    assert item.status == DeadLetter.Status.RETRIED
    assert item.resolved_by == staff_user
    assert f"sent again as task {item.retry_task_id}" in response.content.decode()
    wait_until(
        lambda: TaskResult.objects.filter(task_id=item.retry_task_id, status="SUCCESS").exists(),
        timeout=60,
        what=f"the retried task to run\n{worker.tail()}",
    )
    page = staff_client.get(f"/ops/dead-letters/{item.pk}/").content.decode()
    assert f'href="/ops/tasks/{item.retry_task_id}/"' in page

    twice = staff_client.post(f"/ops/dead-letters/{item.pk}/retry/", follow=True)
    assert "only open dead letters can be retried" in twice.content.decode()
    celery_app.control.purge()
