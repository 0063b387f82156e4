"""The ingestion management commands: progress on long work, one-line reasons on failure."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from ingestion import sync
from ingestion.models import Filing, Politician, Trade

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parent.parent.parent
FIXTURES = BASE_DIR / "tests" / "fixtures"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_ingest_imports_a_file_with_progress_and_a_summary():
    output = run("ingest", "--file", str(FIXTURES / "feeds/capitolscope-import/example.csv"),
                 "--format", "csv")  # fmt: skip
    assert "records read" in output
    assert "file: succeeded — 5 records: 5 new" in output
    assert Trade.objects.count() == 5


def test_ingest_refuses_a_file_without_a_format_and_a_file_with_async():
    path = str(FIXTURES / "feeds/capitolscope-import/example.csv")
    with pytest.raises(CommandError, match="--format"):
        run("ingest", "--file", path)
    with pytest.raises(CommandError, match="other hosts"):
        run("ingest", "--file", path, "--format", "csv", "--async")
    with pytest.raises(CommandError, match="no such file"):
        run("ingest", "--file", "/no/such/file.json", "--format", "csv")


def test_ingest_refuses_a_bad_window_in_one_line():
    with pytest.raises(CommandError, match=r"start_date='2026-13-01' is not a date"):
        run("ingest", "--start-date", "2026-13-01")


def test_ingest_syncs_a_source_and_prints_its_progress(source_settings):
    output = run("ingest", "--source", "house", "--start-date", "2026-01-01",
                 "--end-date", "2026-06-30")  # fmt: skip
    assert "house: syncing 2026-01-01 .. 2026-06-30" in output
    assert "house_clerk: partial — " in output
    assert "11 new" in output
    assert Filing.objects.filter(chamber="house", status=Filing.Status.NEEDS_REVIEW).count() == 1


def test_a_sync_reports_progress_as_it_goes(source_settings):
    seen: list[dict] = []
    sync.source_sync(
        source_name="house",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 6, 30),
        progress=seen.append,
    )
    assert any("fetched" in meta and meta["created"] > 0 for meta in seen)
    assert all(meta["source"] == "house" for meta in seen)


def test_load_legislators_loads_the_roster_and_fails_clearly_on_a_missing_file():
    output = run("load_legislators", str(FIXTURES / "legislators/legislators-current.compact.json"))
    assert "537 legislators: 537 created" in output
    assert Politician.objects.filter(is_resolved=True).count() == 537
    with pytest.raises(CommandError, match="no such file"):
        run("load_legislators", "/no/such/roster.yaml")


def test_the_ingest_command_exits_non_zero_with_one_line_on_bad_arguments(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "ingest", "--days-back", "soon"],
        cwd=BASE_DIR, env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == "CommandError: days_back='soon' is not a whole number"


def test_the_ingestion_schedules_are_enabled_now_that_their_tasks_exist():
    run("setup_schedules")
    enabled = set(PeriodicTask.objects.filter(enabled=True).values_list("name", flat=True))
    assert {"sync-congressional-trades", "weekly-full-sync", "update-stock-prices"} <= enabled


def test_a_not_modified_index_is_trusted_only_for_windows_its_reading_covered(
    source_settings, source_server
):
    from ingestion.models import HttpValidator

    url = f"{source_server.house_base_url}/financial-pdfs/2026FD.zip"
    etag = requests.get(url, timeout=5).headers["ETag"]
    HttpValidator.objects.create(url=url, etag=etag, covered_from=dt.date(2026, 6, 15))
    narrow = sync.source_sync(
        source_name="house", start_date=dt.date(2026, 6, 20), end_date=dt.date(2026, 6, 30)
    )
    assert narrow["fetched"] == 0  # 304: nothing new since a reading that covered this window
    wide = sync.source_sync(
        source_name="house", start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 6, 30)
    )
    assert wide["created"] == 11  # the wider window is read in full
