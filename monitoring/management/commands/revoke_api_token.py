from django.core.management.base import BaseCommand, CommandError

from monitoring.models import ApiToken
from monitoring.tokens import api_token_revoke, split_token


class Command(BaseCommand):
    help = "Revoke an API token, named by its prefix (as listed in the admin) or its full text."

    def add_arguments(self, parser):
        parser.add_argument("token", help="the token's prefix, or the whole token")

    def handle(self, *args, token, **options):
        prefix = split_token(token) or token.strip()
        row = ApiToken.objects.filter(prefix=prefix).select_related("user").first()
        if row is None:
            raise CommandError(f"no API token with prefix {prefix!r}")
        if api_token_revoke(token=row):
            self.stdout.write(f"API token {row.prefix} ({row.name}, {row.user}) revoked")
        else:
            self.stdout.write(f"API token {row.prefix} ({row.name}) was already revoked")
