import json

from django.core.management.base import BaseCommand, CommandError

from monitoring.health import CHECK_NAMES, exit_code_for, system_health


class Command(BaseCommand):
    help = (
        "Check the database, broker, workers, beat, queues, failure rate, schedules, disk and "
        "memory. Exit status: 0 healthy, 1 degraded, 2 unhealthy. Meant for cron and "
        "monitoring agents; answers within a bounded time even when Redis or a worker hangs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--quiet", action="store_true", help="Print only when something is wrong."
        )
        parser.add_argument(
            "--check",
            action="append",
            dest="checks",
            metavar="NAME",
            help=f"Run only this check (repeatable): {', '.join(CHECK_NAMES)}.",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="Seconds each broker or worker probe may take (default HEALTH_PROBE_TIMEOUT).",
        )

    def handle(self, *args, **options):
        try:
            report = system_health(timeout=options["timeout"], only=options["checks"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
        elif not (options["quiet"] and report["status"] == "ok"):
            for name, component in report["components"].items():
                self.stdout.write(
                    f"{name:<12} {component['status']:<9} {component['duration_ms']:>8.1f} ms"
                    f"  {component['message']}"
                )
            self.stdout.write(f"{'overall':<12} {report['status']}")
        code = exit_code_for(report["status"])
        if code:
            raise SystemExit(code)
