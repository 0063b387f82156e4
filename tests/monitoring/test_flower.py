"""Flower never runs without authentication (flowerconfig.py), in any mode."""

import base64
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from capitolscope.broker import free_port
from tests.processes import ManagedProcess, wait_until

BASE_DIR = Path(__file__).resolve().parent.parent.parent
REFUSAL = "Flower refuses to start without authentication"


def flower_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "capitolscope", "flower",
        "--conf=flowerconfig.py", "--address=127.0.0.1", f"--port={port}",
    ]  # fmt: skip


def flower_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"FLOWER_BASIC_AUTH", "FLOWER_AUTH", "FLOWER_AUTH_PROVIDER"}
    }
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def status(url: str, *, auth: str | None = None) -> int | None:
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


@pytest.mark.processes
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"DJANGO_ENV": "production", "FLOWER_BASIC_AUTH": "  "},
        {"FLOWER_AUTH": ".*@example.com"},  # OAuth without its provider
        {"FLOWER_BASIC_AUTH": "ops:"},  # anybody could send "ops:"
        {"FLOWER_BASIC_AUTH": "ops:secret,ops"},
    ],
    ids=[
        "nothing",
        "blank-in-production",
        "oauth-without-provider",
        "empty-password",
        "entry-without-password",
    ],
)
def test_flower_refuses_to_start_without_authentication(extra):
    result = subprocess.run(
        flower_command(free_port()),
        cwd=BASE_DIR,
        env=flower_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert REFUSAL in result.stderr
    assert "FLOWER_BASIC_AUTH=user:password" in result.stderr


@pytest.mark.processes
def test_flower_with_basic_auth_answers_401_without_credentials_and_200_with(tmp_path):
    port = free_port()
    flower = ManagedProcess(
        flower_command(port),
        env=flower_env(FLOWER_BASIC_AUTH="ops:flower-secret"),
        log_path=tmp_path / "flower.log",
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until(
            lambda: not flower.alive() or status(url) is not None,
            timeout=60,
            what=f"flower to listen\n{flower.tail()}",
        )
        assert flower.alive(), flower.tail()
        assert status(url) == 401
        assert status(url, auth="ops:wrong") == 401
        assert status(url, auth="ops:flower-secret") == 200
        assert status(f"http://127.0.0.1:{port}/api/workers") == 401
    finally:
        flower.stop()
