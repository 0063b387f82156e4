from __future__ import annotations

import pytest

from capitolscope.celery import app as celery_app
from tests.processes import start_beat, start_worker


@pytest.fixture(scope="session", autouse=True)
def _empty_queues():
    """Leftover messages from an aborted run must not reach this run's workers."""
    celery_app.control.purge()
    yield


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A real ``celery worker`` consuming every queue, against this test's database."""
    process, hostname = start_worker(tmp_path)
    process.hostname = hostname
    try:
        yield process
    finally:
        process.stop()
        celery_app.control.purge()  # a retry it had pending must not reach the next test


@pytest.fixture
def beat(transactional_db, tmp_path):
    """A real ``celery beat`` with the database scheduler, waking up every second."""
    process = start_beat(tmp_path)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="olivia", email="olivia@example.com", password="correct horse", is_staff=True
    )


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user(
        username="paul", email="paul@example.com", password="correct horse"
    )
