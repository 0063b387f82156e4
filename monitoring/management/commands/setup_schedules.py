from django.core.management.base import BaseCommand, CommandError

from monitoring.schedules import DEFAULT_SCHEDULES, schedules_setup


class Command(BaseCommand):
    help = (
        "Create the default periodic schedules (django-celery-beat rows). Idempotent: rows an "
        "operator edited in the admin are kept unless --reset is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Restore the defaults, overwriting operators' edits.",
        )
        parser.add_argument(
            "names",
            nargs="*",
            metavar="NAME",
            help="Only these schedules (default: all of "
            + ", ".join(spec.name for spec in DEFAULT_SCHEDULES)
            + ").",
        )

    def handle(self, *args, reset: bool, names: list[str], **options):
        outcomes = schedules_setup(reset=reset, names=names)
        styles = {
            "created": self.style.SUCCESS,
            "recreated": self.style.WARNING,
            "updated": self.style.SUCCESS,
            "reset": self.style.WARNING,
            "kept": self.style.NOTICE,
            "unchanged": str,
            "error": self.style.ERROR,
        }
        for outcome in outcomes:
            line = f"{outcome.action:<9} {outcome.name}"
            if outcome.detail:
                line += f" — {outcome.detail}"
            self.stdout.write(styles[outcome.action](line))
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.action] = counts.get(outcome.action, 0) + 1
        self.stdout.write(
            ", ".join(f"{count} {action}" for action, count in sorted(counts.items()))
        )
        if any(outcome.action == "error" and "no such" in outcome.detail for outcome in outcomes):
            raise CommandError("unknown schedule name given")
