"""The run command (``make run`` = ``python -m capitolscope.devstack``) with real processes."""

import base64
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from capitolscope.broker import BrokerUnavailable, free_port, redis_ping, resolve_broker
from tests.processes import wait_until

BASE_DIR = Path(__file__).resolve().parent.parent


def http_status(url: str, *, auth: str | None = None) -> int | None:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def test_it_starts_an_embedded_redis_when_none_is_given_or_running(tmp_path):
    choice = resolve_broker(
        var_dir=tmp_path,
        environ={},
        local_url=f"redis://127.0.0.1:{free_port()}/0",
        persistent=False,
    )
    try:
        assert choice.origin == "embedded"
        assert redis_ping(choice.url) is None
        assert (tmp_path / "redis").is_dir()
        assert "embedded redis-server" in choice.describe()
    finally:
        choice.embedded.stop()
    assert choice.embedded.process.poll() is not None


def test_a_given_but_unreachable_broker_is_one_clear_error(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(
        BrokerUnavailable,
        match=r"broker redis://127\.0\.0\.1:\d+/0 \(from REDIS_URL\) is unreachable",
    ):
        resolve_broker(var_dir=tmp_path, environ={"REDIS_URL": url})


def test_the_run_command_refuses_an_unreachable_broker_in_one_line(tmp_path):
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "capitolscope.devstack"],
        cwd=BASE_DIR, env={**env, "WEB_PORT": str(free_port()), "FLOWER_PORT": str(free_port())},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "is unreachable" in result.stderr


def test_a_worker_whose_database_is_unreachable_says_so_in_one_line_and_exits(tmp_path):
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"postgres://nobody@127.0.0.1:{free_port()}/gone",
    }
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "capitolscope", "worker", "-c", "1",
         "--loglevel=WARNING"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("capitolscope:")]
    assert len(lines) == 1 and "is unreachable" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.processes
def test_the_run_command_starts_web_worker_beat_and_flower_and_ctrl_c_stops_them_all(tmp_path):
    web_port, flower_port = free_port(), free_port()
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "WEB_PORT": str(web_port),
        "FLOWER_PORT": str(flower_port),
        "FLOWER_BASIC_AUTH": "ops:flower-secret",
        "DJANGO_SUPERUSER_USERNAME": "root",
        "DJANGO_SUPERUSER_PASSWORD": "a-long-admin-password",
        "WORKER_CONCURRENCY": "1",
    }
    env.pop("DATABASE_URL", None)  # the embedded default: SQLite under VAR_DIR
    log = open(tmp_path / "run.out", "w+b")  # noqa: SIM115
    stack = subprocess.Popen(
        [sys.executable, "-m", "capitolscope.devstack"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def output() -> str:
        log.flush()
        return (tmp_path / "run.out").read_text(errors="replace")

    children: list[psutil.Process] = []
    try:
        wait_until(
            lambda: http_status(f"http://127.0.0.1:{web_port}/health/") == 200,
            timeout=120,
            what=f"the web health probe\n{output()[-3000:]}",
        )
        wait_until(lambda: "ready." in output(), timeout=60, what=f"the worker\n{output()[-3000:]}")
        wait_until(
            lambda: http_status(f"http://127.0.0.1:{flower_port}/") == 401,
            timeout=60,
            what=f"flower\n{output()[-3000:]}",
        )
        assert http_status(f"http://127.0.0.1:{flower_port}/", auth="ops:flower-secret") == 200
        assert http_status(f"http://127.0.0.1:{flower_port}/", auth="ops:wrong") == 401
        text = output()
        assert f"http://127.0.0.1:{web_port}/admin/" in text
        # The ports in use, not the Procfile's defaults; links in emails follow WEB_PORT.
        assert f"runserver 127.0.0.1:{web_port}" in text and "${WEB_PORT" not in text
        assert f"--port={flower_port}" in text
        assert f"links    http://127.0.0.1:{web_port}  (SITE_URL" in text
        assert "database sqlite:///" in text
        assert "broker   redis://" in text
        assert "8 created" in text  # setup_schedules ran
        assert "admin user: created 'root'" in text
        assert "beat: Starting" in text
        for name in ("web", "worker", "beat", "flower"):
            assert (tmp_path / "log" / f"{name}.log").stat().st_size > 0
        # The first full health check is asked for at start (the dashboard has a result
        # within seconds, not after the 5-minute schedule first runs).
        wait_until(
            lambda: re.search(r"monitoring\.system_health_check\[[^]]+\] succeeded", output()),
            timeout=60,
            what=f"the first health check\n{output()[-3000:]}",
        )
        children = psutil.Process(stack.pid).children(recursive=True)
        assert len(children) >= 4

        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=60) == 0, output()[-3000:]
        time.sleep(0.5)
        survivors = [
            child
            for child in children
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE
        ]
        assert survivors == [], f"still running after Ctrl-C: {survivors}"
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        for child in children:
            if child.is_running():
                child.kill()
        log.close()


def test_a_generated_flower_password_is_kept_across_runs(tmp_path, monkeypatch):
    from capitolscope.devstack import flower_credentials

    monkeypatch.delenv("FLOWER_BASIC_AUTH", raising=False)
    auth, note = flower_credentials(tmp_path)
    user, password = auth.split(":", 1)
    assert user == "admin" and len(password) >= 16 and password in note
    kept = tmp_path / "flower-password"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert flower_credentials(tmp_path)[0] == auth  # the next run: the same login
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:given")
    assert flower_credentials(tmp_path) == ("ops:given", "credentials from FLOWER_BASIC_AUTH")


def test_the_log_shows_procfile_commands_with_their_variables_filled_in():
    from capitolscope.devstack import shown_command

    command = "runserver ${WEB_HOST:-127.0.0.1}:${WEB_PORT:-8000} -c ${N:-2} $HOME"
    assert shown_command(command, {"WEB_PORT": "8700"}) == "runserver 127.0.0.1:8700 -c 2 $HOME"
