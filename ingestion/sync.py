"""Running one ingestion: a source sync over a date window, or a file import.

Both record an IngestionRun with counts; a sync holds a per-source lock so two runs of the
same source never overlap (on any host).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from capitolscope.locks import exclusive
from ingestion.http import FetchError, Validators
from ingestion.models import Filing, HttpValidator, IngestionRun
from ingestion.parsers import feeds
from ingestion.records import ParseError
from ingestion.services import (
    IngestCounts,
    bulk_work,
    filings_ingest,
    run_finish,
    run_result,
    run_start,
)

SYNC_SOFT_TIME_LIMIT = 50 * 60
SYNC_TIME_LIMIT = 55 * 60
SOURCES = ("house", "senate")
# Network syncs commit every few filings, so a failure half-way keeps what was read.
SYNC_CHUNK_FILINGS = 25
FILE_FORMATS = {
    "senate-watcher": (feeds.parse_senate_watcher_flat, Filing.Source.SENATE_WATCHER),
    "senate-watcher-daily": (feeds.parse_senate_watcher_daily, Filing.Source.SENATE_WATCHER),
    "house-watcher": (feeds.parse_house_watcher, Filing.Source.HOUSE_WATCHER),
    "csv": (feeds.parse_capitolscope_csv, Filing.Source.FILE),
    "json": (feeds.parse_capitolscope_json, Filing.Source.FILE),
}


class InvalidArguments(ValueError):
    """Arguments a person must fix; never retried."""


class TransientSyncError(Exception):
    """The source failed in a way that may pass (timeouts, 5xx): retry later."""


class SyncFailed(Exception):
    """The run failed for good (403, unreadable source, a bug); its IngestionRun says why."""


# Every writer of ingested data holds the locks of the chambers it may write; file imports and
# roster loads may touch both (politicians, assets), so they take both.
ALL_CHAMBER_LOCKS = tuple(f"ingestion.sync.{name}" for name in SOURCES)


def sync_window(
    *,
    days_back: int | str | None = None,
    start_date: str | dt.date | None = None,
    end_date: str | dt.date | None = None,
    today: dt.date | None = None,
) -> tuple[dt.date, dt.date]:
    """The [start, end] dates of a sync, from ``days_back`` or explicit ISO dates."""
    today = today or timezone.now().date()
    end = _date_arg(end_date, "end_date") or today
    start = _date_arg(start_date, "start_date")
    if start is not None and days_back not in (None, ""):
        raise InvalidArguments("give either days_back or start_date, not both")
    if start is None:
        try:
            days = int(days_back if days_back not in (None, "") else 1)
        except (TypeError, ValueError):
            raise InvalidArguments(f"days_back={days_back!r} is not a whole number") from None
        if not 0 <= days <= 3660:
            raise InvalidArguments(f"days_back={days} must be between 0 and 3660")
        start = end - dt.timedelta(days=days)
    if start > end:
        raise InvalidArguments(f"start_date {start} is after end_date {end}")
    if end > today:
        raise InvalidArguments(f"end_date {end} is in the future")
    if start < dt.date(2012, 1, 1):
        raise InvalidArguments(f"start_date {start} is before 2012 (STOCK Act reports begin 2012)")
    return start, end


def _date_arg(value, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidArguments(f"{name}={value!r} is not a date (use YYYY-MM-DD)") from None


def source_sync(
    *,
    source_name: str,
    start_date: dt.date,
    end_date: dt.date,
    task_id: str = "",
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Fetch one source's filings for the window and store them. Returns the run's JSON.

    Raises AlreadyRunning when another run of this source holds the lock, and
    TransientSyncError when the source failed in a way worth retrying (what was stored before
    the failure stays stored; the run records the error either way).
    """
    from ingestion.sources import SourceError, source_for

    if source_name not in SOURCES:
        raise InvalidArguments(f"source {source_name!r} is not one of {', '.join(SOURCES)}")
    with exclusive(f"ingestion.sync.{source_name}", ttl=SYNC_TIME_LIMIT + 60) as held:
        source = source_for(source_name)
        run = run_start(
            source=source.source, start_date=start_date, end_date=end_date, task_id=task_id
        )
        latest = IngestCounts()
        try:
            if hasattr(source, "validators"):
                # A 304 only proves nothing is new for windows the stored reading covered.
                source.validators = {
                    row.url: Validators(etag=row.etag, last_modified=row.last_modified)
                    for row in HttpValidator.objects.filter(covered_from__lte=start_date)
                }
            # Documents this source already read completely are not downloaded again; ones
            # a feed stored, or whose reading had errors or rejected rows, are read again.
            done = set(
                Filing.objects.filter(
                    chamber=source_name,
                    source=source.source,
                    status__in=[Filing.Status.PARSED, Filing.Status.NEEDS_REVIEW],
                )
                .exclude(source_digest="")
                .values_list("doc_id", flat=True)
            )

            def on_progress(counts: IngestCounts) -> None:
                latest.__dict__.update(counts.__dict__)
                held.renew()
                if progress:
                    progress({"source": source_name, "fetched": counts.fetched,
                              "created": counts.created, "rejected": counts.rejected})  # fmt: skip

            def on_source_progress(message: str) -> None:
                if progress:
                    progress({"source": source_name, "message": message})

            counts = filings_ingest(
                source.fetch(
                    start_date=start_date,
                    end_date=end_date,
                    skip_doc_id=done.__contains__,
                    progress=on_source_progress,
                ),
                run=run,
                source=source.source,
                progress=on_progress,
                chunk_size=SYNC_CHUNK_FILINGS,
            )
        except (SourceError, FetchError) as exc:
            run_finish(run, latest, error=str(exc))
            if not exc.permanent:
                raise TransientSyncError(str(exc)) from exc
            raise SyncFailed(f"{source_name} sync failed: {exc}") from exc
        except BaseException as exc:
            # Time limits, database errors, bugs: the run must not stay "running" forever.
            run_finish(run, latest, error=f"{type(exc).__name__}: {exc}".strip())
            raise
        if counts.document_errors == 0:
            _store_validators(getattr(source, "new_validators", {}), covered_from=start_date)
        run_finish(run, counts)
        return run_result(run)


def run_attempt_note(*, task_id: str, attempt: int, attempts: int) -> None:
    """Mark the latest run of ``task_id``, which failed transiently, with its attempt number
    and whether the task will try again (``detail["attempt"]``, ``["attempts"]``,
    ``["retrying"]``, and a note after the error)."""
    run = IngestionRun.objects.filter(task_id=task_id).order_by("-started_at", "-id").first()
    if run is None:
        return
    retrying = attempt < attempts
    note = f"attempt {attempt} of {attempts}; " + (
        "the task will try again" if retrying else "no retries left"
    )
    run.error = f"{run.error} ({note})" if run.error else note
    run.detail = {**run.detail, "attempt": attempt, "attempts": attempts, "retrying": retrying}
    run.save(update_fields=["error", "detail"])


def _store_validators(validators: dict[str, Validators], *, covered_from: dt.date) -> None:
    for url, value in validators.items():
        HttpValidator.objects.update_or_create(
            url=url,
            defaults={
                "etag": value.etag,
                "last_modified": value.last_modified,
                "covered_from": covered_from,
            },
        )


def file_import(
    *,
    data: bytes,
    file_format: str,
    location: str,
    notify: bool = False,
    task_id: str = "",
    progress: Callable[[IngestCounts], None] | None = None,
) -> dict:
    """Import a feed file or our own CSV/JSON (docs/import-format.md). Returns the run's JSON.

    A file that cannot be read at all becomes a failed run with the reason; bad records inside
    it become rejected records and the rest lands.
    """
    if file_format not in FILE_FORMATS:
        raise InvalidArguments(
            f"format {file_format!r} is not one of {', '.join(sorted(FILE_FORMATS))}"
        )
    parser, source = FILE_FORMATS[file_format]
    with exclusive(*ALL_CHAMBER_LOCKS, ttl=SYNC_TIME_LIMIT + 60) as held:
        run = run_start(source=source, task_id=task_id)
        latest = IngestCounts()

        def on_progress(counts: IngestCounts) -> None:
            latest.__dict__.update(counts.__dict__)
            held.renew()
            if progress:
                progress(counts)

        try:
            with bulk_work():
                try:
                    batch = parser(data, location=location)
                except ParseError as exc:
                    run_finish(run, IngestCounts(), error=str(exc))
                    return run_result(run)
                counts = filings_ingest(
                    batch.filings,
                    run=run,
                    source=source,
                    notify=notify,
                    rejections=batch.rejected,
                    progress=on_progress,
                )
                del batch  # freed before the collector returns, or it would scan it all
        except BaseException as exc:
            run_finish(run, latest, error=f"{type(exc).__name__}: {exc}".strip())
            raise
        run_finish(run, counts, detail={"file": location, "format": file_format})
        return run_result(run)


def read_import_file(path: str) -> bytes:
    file = Path(path)
    if not file.is_file():
        raise InvalidArguments(f"{path}: no such file")
    if file.stat().st_size > settings.INGESTION_HTTP_MAX_BYTES * 4:
        raise InvalidArguments(f"{path}: larger than {settings.INGESTION_HTTP_MAX_BYTES * 4} bytes")
    return file.read_bytes()
