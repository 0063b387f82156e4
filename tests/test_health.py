"""Health: the public probe, the ``healthcheck`` command and the health task."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capitolscope.broker import free_port
from monitoring.health import OK, UNHEALTHY, check_broker, system_health

BASE_DIR = Path(__file__).resolve().parent.parent


def closed_port_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.mark.django_db
def test_system_health_reports_each_component_with_its_duration():
    report = system_health(only=["database", "broker"])
    assert report["status"] == OK
    assert set(report["components"]) == {"database", "broker"}
    for component in report["components"].values():
        assert component["status"] == OK
        assert component["duration_ms"] >= 0
    json.dumps(report)  # it is a task result: it must be JSON


def test_an_unreachable_broker_is_down_quickly_with_the_reason():
    started = time.monotonic()
    result = check_broker(broker_url=closed_port_url(), timeout=1.0)
    assert result.status == UNHEALTHY
    assert "Connection" in result.message or "refused" in result.message
    assert time.monotonic() - started < 5


@pytest.mark.django_db
def test_the_health_probe_is_public_and_minimal(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_the_health_probe_answers_503_when_the_broker_is_down(client, monkeypatch):
    from capitolscope.celery import app

    monkeypatch.setattr(app.conf, "broker_url", closed_port_url())
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body == {"status": "unavailable", "checks": {"database": "ok", "broker": "fail"}}


def healthcheck(env_overrides: dict, tmp_path, *checks: str) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "VAR_DIR": str(tmp_path), **env_overrides}
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            "healthcheck",
            "--json",
            *(f"--check={name}" for name in checks or ("database", "broker")),
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_healthcheck_command_exits_0_when_healthy(tmp_path):
    result = healthcheck({"DATABASE_URL": f"sqlite:///{tmp_path}/ok.sqlite3"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ok"


def test_the_healthcheck_command_exits_2_when_the_broker_is_down(tmp_path):
    started = time.monotonic()
    result = healthcheck(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/ok.sqlite3",
            "REDIS_URL": closed_port_url(),
            "CELERY_BROKER_URL": "",
        },
        tmp_path,
    )
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["components"]["broker"]["status"] == "unhealthy"
    assert report["components"]["database"]["status"] == "ok"
    assert time.monotonic() - started < 30


def test_the_healthcheck_command_exits_2_when_the_database_is_down(tmp_path):
    result = healthcheck(
        {"DATABASE_URL": f"postgres://nobody@127.0.0.1:{free_port()}/nothing"}, tmp_path
    )
    assert result.returncode == 2
    assert json.loads(result.stdout)["components"]["database"]["status"] == "unhealthy"


@pytest.mark.django_db
def test_the_health_probe_answers_head_for_load_balancers(client):
    assert client.head("/health/").status_code == 200
