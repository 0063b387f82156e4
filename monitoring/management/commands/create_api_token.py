import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from monitoring.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Create an API token acting as a staff user and print it once (only its hash is "
        "stored). Use it as 'Authorization: Bearer <token>' for /api/ and /metrics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username of an active staff member")
        parser.add_argument("--name", required=True, help="what uses it, e.g. prometheus")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="days until it stops working"
        )

    def handle(self, *args, user, name, expires_days, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"no user {user!r}")
        expires_at = None
        if expires_days is not None:
            if expires_days < 1:
                raise CommandError("--expires-days must be at least 1")
            expires_at = timezone.now() + dt.timedelta(days=expires_days)
        try:
            created = api_token_create(user=owner, name=name, expires_at=expires_at)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        token = created.token
        expiry = f", expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else ""
        self.stderr.write(
            f"API token {token.prefix} ({token.name}) created for {owner.get_username()}{expiry}. "
            "It is shown once, now; only its hash is stored:",
            style_func=str,  # a note, not an error: not in red
        )
        self.stdout.write(created.secret)
