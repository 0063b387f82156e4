"""The public /health/ probe shares one database and broker check between the requests that
arrive together or within a second, so flooding it does not open a database connection per
request; ``healthcheck`` and the health task still probe afresh."""

import threading

import pytest
from django.test import Client

from capitolscope.broker import free_port
from monitoring import health


class Clock:
    """A settable monotonic clock for the probe's cache window."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def probes(monkeypatch):
    """Counts the real database checks; ``hold`` makes them wait until it is set."""
    real = health.check_database
    calls: list[int] = []
    hold = threading.Event()
    hold.set()
    entered = threading.Event()

    def counted(**kwargs):
        calls.append(1)
        entered.set()
        hold.wait(timeout=30)
        return real(**kwargs)

    monkeypatch.setattr(health, "check_database", counted)
    counted.calls, counted.hold, counted.entered = calls, hold, entered
    return counted


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(health, "_public_probe_clock", clock)
    monkeypatch.setattr(health, "_public_probe_last", None)
    return clock


@pytest.fixture
def dead_database(monkeypatch, tmp_path):
    """From now on the probe's own connection goes to a database that is not there: a closed
    port on PostgreSQL, a file in a missing directory on SQLite."""
    real = health.database_probe_connection

    def switch_off() -> None:
        def dead(**kwargs):
            wrapper = real(**kwargs)
            if wrapper.vendor == "postgresql":
                wrapper.settings_dict.update(HOST="127.0.0.1", PORT=free_port())
            else:
                wrapper.settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
            return wrapper

        monkeypatch.setattr(health, "database_probe_connection", dead)

    return switch_off


@pytest.mark.django_db(transaction=True)
def test_concurrent_health_requests_share_one_database_probe(probes, clock):
    probes.hold.clear()  # the first probe waits until every request has been sent
    statuses: list[int] = []

    def get() -> None:
        statuses.append(Client().get("/health/").status_code)

    threads = [threading.Thread(target=get) for _ in range(8)]
    threads[0].start()
    assert probes.entered.wait(timeout=30)
    for thread in threads[1:]:
        thread.start()
    probes.hold.set()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * 8
    assert len(probes.calls) == 1


@pytest.mark.django_db
def test_rapid_requests_reuse_the_probe_and_a_failure_shows_after_the_window(
    client, probes, clock, dead_database
):
    for _ in range(10):
        assert client.get("/health/").status_code == 200
    assert len(probes.calls) == 1

    dead_database()
    clock.now += health.PUBLIC_PROBE_CACHE_SECONDS / 2  # still within the window
    assert client.get("/health/").status_code == 200
    assert len(probes.calls) == 1

    clock.now += health.PUBLIC_PROBE_CACHE_SECONDS  # past it: probed afresh
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "fail", "broker": "ok"},
    }
    assert len(probes.calls) == 2
    assert client.get("/health/").status_code == 503  # the failure is cached too
    assert len(probes.calls) == 2


@pytest.mark.django_db
def test_the_healthcheck_checks_still_probe_afresh(client, probes, clock):
    assert client.get("/health/").status_code == 200
    report = health.system_health(only=["database"])
    assert report["components"]["database"]["status"] == health.OK
    health.system_health(only=["database"])
    assert len(probes.calls) == 3
