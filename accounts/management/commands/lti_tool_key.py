"""Make sure Stride's LTI tool has a key pair (or rotate it); print the key id and JWKS URL."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from accounts.services import lti_tool_key_create, lti_tool_key_ensure


class Command(BaseCommand):
    help = (
        "Generate Stride's LTI tool key pair if there is none (safe to repeat). With --rotate, "
        "generate a new one that signs from now on; older keys stay published until retired "
        "in the admin (LTI tool keys)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rotate", action="store_true", help="Generate a new key pair.")

    def handle(self, *args: object, **options: object) -> None:
        if options["rotate"]:
            key, created = lti_tool_key_create(), True
        else:
            key, created = lti_tool_key_ensure()
        site = settings.STRIDE_SITE_URL or "http://<this site>"
        self.stdout.write(
            f"{'Generated' if created else 'Kept'} LTI tool key {key.kid}; platforms read it at "
            f"{site}{reverse('accounts:lti-jwks')}"
        )
