import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from capitolscope.env import env_str


class Command(BaseCommand):
    help = (
        "Create the first admin user if there is none: from DJANGO_SUPERUSER_USERNAME / "
        "DJANGO_SUPERUSER_PASSWORD / DJANGO_SUPERUSER_EMAIL, or with a generated password "
        "printed once."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("admin user: already exists (unchanged)")
            return
        username = env_str("DJANGO_SUPERUSER_USERNAME", "admin")
        email = env_str("DJANGO_SUPERUSER_EMAIL", "admin@localhost")
        password = env_str("DJANGO_SUPERUSER_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=email, password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"admin user: created {username!r} with password {password!r} "
                    "(shown once; change it in the admin)"
                )
            )
        else:
            self.stdout.write(f"admin user: created {username!r} from DJANGO_SUPERUSER_*")
