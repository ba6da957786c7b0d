"""Make sure the demo admin exists and print how to log in (used by `make run`)."""

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts.models import User


class Command(BaseCommand):
    help = "Create the local admin on first use (password kept in var/) and print its login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--site", default="", help="The site's address (default STRIDE_SITE_URL)."
        )

    def handle(self, *args: object, **options: object) -> None:
        email = settings.STRIDE_DEMO_ADMIN_EMAIL
        password_file = Path(settings.VAR_DIR) / "admin-password.txt"
        user = User.objects.filter(email=email).first()
        if user is None or not password_file.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                user = User.objects.create_superuser(email=email, password=password)
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            password_file.write_text(password)
            password_file.chmod(0o600)
        site = str(options["site"] or settings.STRIDE_SITE_URL or "http://127.0.0.1:8000")
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin login: {email} / {password_file.read_text().strip()}  "
                f"({site.rstrip('/')}/admin/)"
            )
        )
