"""Settings come from the environment and refuse insecure production configurations."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from capitolscope.env import env_bool, env_int, parse_database_url, redact_url

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
    "ALLOWED_HOSTS": "capitolscope.example.org",
    "DATABASE_URL": "sqlite:///var/check-deploy.sqlite3",
    "PATH": "/usr/bin:/bin",
}


def run_manage(*args: str, env: dict, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**env, "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_sqlite_url_is_a_file_with_wal_a_busy_timeout_and_immediate_transactions(tmp_path):
    config = parse_database_url(
        f"sqlite:///{tmp_path}/db.sqlite3", base_dir=tmp_path, conn_max_age=0
    )
    assert config.engine == "sqlite"
    options = config.settings["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] >= 5


def test_a_postgres_url_becomes_a_postgresql_database_with_its_parts():
    config = parse_database_url(
        "postgres://scope:s%40cret@db.internal:6432/capitolscope?sslmode=require",
        base_dir=BASE_DIR,
        conn_max_age=60,
    )
    assert config.settings["ENGINE"] == "django.db.backends.postgresql"
    assert config.settings["NAME"] == "capitolscope"
    assert config.settings["USER"] == "scope"
    assert config.settings["PASSWORD"] == "s@cret"
    assert config.settings["HOST"] == "db.internal"
    assert config.settings["PORT"] == "6432"
    assert config.settings["OPTIONS"]["sslmode"] == "require"


def test_it_rejects_an_unknown_database_scheme():
    with pytest.raises(ImproperlyConfigured, match="mysql"):
        parse_database_url("mysql://root@localhost/x", base_dir=BASE_DIR, conn_max_age=0)


def test_passwords_are_redacted_for_display():
    assert redact_url("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_typed_helpers_reject_bad_values_naming_the_variable(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "perhaps")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG")
    monkeypatch.setenv("SOME_NUMBER", "12x")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 1)


def test_production_refuses_to_start_with_the_default_secret_key_and_no_hosts(tmp_path):
    result = run_manage(
        "check", env={"DJANGO_ENV": "production", "PATH": "/usr/bin:/bin"}, tmp_path=tmp_path
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert "ALLOWED_HOSTS must list" in result.stderr


def test_production_refuses_debug(tmp_path):
    result = run_manage("check", env={**PRODUCTION_ENV, "DEBUG": "1"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_a_configured_production_passes_check_deploy_without_warnings(tmp_path):
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
