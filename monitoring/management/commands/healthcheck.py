import json

from django.core.management.base import BaseCommand

from monitoring.health import exit_code_for, system_health


class Command(BaseCommand):
    help = (
        "Check the database and the broker. Exit status: 0 healthy, 1 degraded, 2 unhealthy. "
        "Meant for cron and monitoring agents."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--quiet", action="store_true", help="Print only when something is wrong."
        )

    def handle(self, *args, **options):
        report = system_health()
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        elif not (options["quiet"] and report["status"] == "ok"):
            for name, component in report["components"].items():
                self.stdout.write(
                    f"{name:<10} {component['status']:<9} {component['duration_ms']:>8.1f} ms"
                    f"  {component['detail']}"
                )
            self.stdout.write(f"overall    {report['status']}")
        code = exit_code_for(report["status"])
        if code:
            raise SystemExit(code)
