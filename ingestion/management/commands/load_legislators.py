from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from capitolscope.locks import AlreadyRunning, exclusive
from ingestion.parsers.legislators import parse_legislators_json, parse_legislators_yaml
from ingestion.records import ParseError
from ingestion.services import legislators_load
from ingestion.sync import ALL_CHAMBER_LOCKS, SYNC_TIME_LIMIT


class Command(BaseCommand):
    help = (
        "Load the congress-legislators roster (legislators-current.yaml or .json) into "
        "politicians, and attach trades of names it now resolves."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="legislators-current.yaml, or a .json roster")

    def handle(self, *args, path: str, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"{path}: no such file")
        parse = parse_legislators_json if file.suffix.lower() == ".json" else parse_legislators_yaml
        problems: list[str] = []
        try:
            legislators = parse(file.read_bytes(), problems=problems)
        except ParseError as exc:
            raise CommandError(f"{path}: {exc}") from None
        for problem in problems:
            self.stderr.write(f"skipped: {problem}")
        # Merging unresolved politicians must not race an ingestion that is writing trades.
        try:
            with exclusive(*ALL_CHAMBER_LOCKS, ttl=SYNC_TIME_LIMIT + 60):
                counts = legislators_load(legislators=legislators)
        except AlreadyRunning as exc:
            raise CommandError(f"{exc}; try again when it has finished") from None
        self.stdout.write(
            f"{len(legislators)} legislators: {counts['created']} created, {counts['updated']} "
            f"updated, {counts['unchanged']} unchanged; {counts['merged']} unresolved "
            "politicians attached to roster members"
        )
