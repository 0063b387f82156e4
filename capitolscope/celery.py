"""The Celery application. Configuration lives in Django settings under the CELERY_ prefix."""

from __future__ import annotations

import os
import sys

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "capitolscope.settings")

app = Celery("capitolscope")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def check_database_on_worker_start(**_kwargs) -> None:
    """Stop a worker at once, with one line saying why, when its database is unreachable.

    Otherwise it would start, consume messages and fail every task with a long traceback.
    """
    from django.conf import settings
    from django.db import connection

    try:
        connection.ensure_connection()
    except Exception as exc:  # any driver error: the message is what the operator needs
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        sys.stderr.write(
            f"capitolscope: database {settings.DATABASE_DISPLAY} is unreachable: {first_line}\n"
        )
        sys.stderr.flush()
        os._exit(1)  # SystemExit would be caught and logged with a traceback by the worker
    finally:
        connection.close()
