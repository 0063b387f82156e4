import json

from django.core.management.base import BaseCommand, CommandError

from capitolscope.locks import AlreadyRunning
from ingestion import sync


class Command(BaseCommand):
    help = (
        "Ingest disclosures: sync the House Clerk and/or Senate eFD over a date window, or import "
        "a file (community feeds or our own CSV/JSON, see docs/import-format.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", choices=["house", "senate", "all"], default="all")
        parser.add_argument("--days-back", help="window ending today (default 1)")
        parser.add_argument("--start-date", help="YYYY-MM-DD")
        parser.add_argument("--end-date", help="YYYY-MM-DD (default today)")
        parser.add_argument("--file", help="import this file instead of syncing a source")
        parser.add_argument("--format", choices=sorted(sync.FILE_FORMATS), help="format of --file")
        parser.add_argument(
            "--notify",
            action="store_true",
            help="with --file: alert subscribers about the imported trades (default: no, a "
            "backfill of old trades should not send alerts)",
        )
        parser.add_argument(
            "--async",
            dest="run_async",
            action="store_true",
            help="queue the sync on the data_ingestion queue and print the task id",
        )

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        try:
            if options["file"]:
                return self.import_file(options)
            start, end = sync.sync_window(
                days_back=options["days_back"],
                start_date=options["start_date"],
                end_date=options["end_date"],
            )
        except sync.InvalidArguments as exc:
            raise CommandError(str(exc)) from None
        sources = sync.SOURCES if options["source"] == "all" else (options["source"],)
        if options["run_async"]:
            return self.queue(sources, start, end)
        failed = False
        for name in sources:
            self.stdout.write(f"{name}: syncing {start} .. {end}")
            try:
                result = sync.source_sync(
                    source_name=name, start_date=start, end_date=end, progress=self.show
                )
            except AlreadyRunning as exc:
                raise CommandError(str(exc)) from None
            except sync.TransientSyncError as exc:
                self.stderr.write(f"{name}: failed (worth retrying later): {exc}")
                failed = True
                continue
            except sync.SyncFailed as exc:
                self.stderr.write(str(exc))
                failed = True
                continue
            self.summarise(result)
        if failed:
            raise CommandError("a sync failed; see the messages above")

    def import_file(self, options):
        if options["run_async"]:
            raise CommandError(
                "--file cannot be combined with --async: workers may run on other hosts and "
                "cannot read this machine's files"
            )
        if not options["format"]:
            raise CommandError("--file needs --format " + "|".join(sorted(sync.FILE_FORMATS)))
        try:
            data = sync.read_import_file(options["file"])
        except sync.InvalidArguments as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"importing {options['file']} ({options['format']}, {len(data)} bytes)")
        try:
            result = sync.file_import(
                data=data,
                file_format=options["format"],
                location=options["file"],
                notify=options["notify"],
                progress=lambda counts: self.stdout.write(
                    f"  {counts.fetched} records read, {counts.created} new trades"
                ),
            )
        except AlreadyRunning as exc:
            raise CommandError(f"{exc}; try again when it has finished") from None
        self.summarise(result)
        if result["status"] == "failed":
            raise CommandError(result["error"])

    def queue(self, sources, start, end):
        from ingestion.tasks import sync_house_trades, sync_senate_trades

        tasks = {"house": sync_house_trades, "senate": sync_senate_trades}
        for name in sources:
            result = tasks[name].delay(start_date=start.isoformat(), end_date=end.isoformat())
            self.stdout.write(f"{name}: queued as task {result.id}")

    def show(self, meta: dict) -> None:
        if "message" in meta:
            self.stdout.write(f"  {meta['message']}")
        else:
            self.stdout.write(f"  {meta['fetched']} records read, {meta['created']} new trades")

    def summarise(self, result: dict) -> None:
        line = (
            f"{result['source']}: {result['status']} — {result['fetched']} records: "
            f"{result['created']} new, {result['updated']} updated, {result['unchanged']} "
            f"unchanged, {result['rejected']} rejected; {result['filings_created']} new filings "
            f"({result['needs_review']} need review); run {result['run_id']}"
        )
        if result["error"]:
            line += f"; error: {result['error']}"
        self.stdout.write(line)
        if self.verbosity >= 2:
            self.stdout.write(json.dumps(result, indent=2))
