"""Shared set-up for benchmarks: a fresh PostgreSQL database of their own.

Benchmarks run against PostgreSQL (DATABASE_URL, default the local server) because that is
the production database; each creates and drops its own database so it never touches data.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def setup_django(name: str) -> str:
    """Create database ``name`` on the server of DATABASE_URL, point Django at it, migrate."""
    import psycopg2

    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not server.startswith(("postgres://", "postgresql://")):
        sys.exit("benchmarks need PostgreSQL: set BENCH_DATABASE_URL=postgres://…")
    parts = urlsplit(server)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "capitolscope.settings")
    os.environ["DEBUG"] = "0"  # as in production: no per-query log kept in memory
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return admin_url


def drop_database(admin_url: str, name: str) -> None:
    import psycopg2
    from django.db import connections

    connections.close_all()
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    connection.close()
