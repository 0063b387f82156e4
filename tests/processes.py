"""Real Celery worker and beat processes for end-to-end tests.

Each process runs in its own process group and is stopped by its pid (SIGTERM, then SIGKILL)
when the test ends, whether it passed or not. They reach the test database by URL: a file
for SQLite (never the in-memory database), the ``test_`` database for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from capitolscope.celery import app as celery_app

ALL_QUEUES = "default,notifications,data_ingestion,price_updates,maintenance"


def database_url_for_subprocess() -> str:
    """A DATABASE_URL naming the database this test process uses right now."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        name = settings["NAME"]
        if name == ":memory:" or "mode=memory" in str(name):
            raise RuntimeError("subprocesses cannot reach an in-memory SQLite database")
        return f"sqlite:///{Path(name).resolve()}"  # sqlite:////abs/path
    user = quote(settings["USER"] or "", safe="")
    password = quote(settings["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings["HOST"] or "localhost"
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgres://{auth}{host}{port}/{settings['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_for_subprocess(),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="capitolscope.settings",
    )
    env.update(extra)
    return env


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float,
    interval: float = 0.2,
    what: str = "condition",
):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class ManagedProcess:
    """A subprocess in its own group, with its output in a log file."""

    def __init__(self, args: list[str], *, env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args,
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, timeout: float = 15.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        # Pool children share the group: none may outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()


def start_worker(
    log_dir: Path, *, queues: str = ALL_QUEUES, concurrency: int = 1, env: dict | None = None
) -> tuple[ManagedProcess, str]:
    hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
    worker = ManagedProcess(
        [
            sys.executable, "-m", "celery", "-A", "capitolscope", "worker",
            "-Q", queues, "-c", str(concurrency), "-n", hostname,
            "--without-mingle", "--without-gossip", "--loglevel=INFO",
        ],
        env=env or subprocess_env(),
        log_path=log_dir / f"worker-{hostname.split('@')[0]}.log",
    )  # fmt: skip
    try:
        wait_until(
            lambda: (
                not worker.alive() or celery_app.control.ping(destination=[hostname], timeout=0.5)
            ),
            timeout=60,
            what=f"worker {hostname} to answer a ping",
        )
    except AssertionError:
        worker.stop()
        raise AssertionError(f"worker did not start:\n{worker.tail()}") from None
    if not worker.alive():
        worker.stop()
        raise AssertionError(f"worker exited at start:\n{worker.tail()}")
    return worker, hostname


def start_beat(log_dir: Path, *, max_interval: int = 1, env: dict | None = None) -> ManagedProcess:
    beat = ManagedProcess(
        [
            sys.executable, "-m", "celery", "-A", "capitolscope", "beat",
            "--pidfile=", "--loglevel=INFO", f"--max-interval={max_interval}",
        ],
        env=env or subprocess_env(),
        log_path=log_dir / f"beat-{uuid.uuid4().hex[:8]}.log",
    )  # fmt: skip
    try:
        wait_until(
            lambda: not beat.alive() or "beat: Starting" in beat.output(),
            timeout=60,
            what="beat to start",
        )
    except AssertionError:
        beat.stop()
        raise
    if not beat.alive():
        beat.stop()
        raise AssertionError(f"beat exited at start:\n{beat.tail()}")
    return beat
