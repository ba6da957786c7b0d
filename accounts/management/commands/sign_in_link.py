"""Print a one-time sign-in link for a student (e.g. a demo student); the link is the last line."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import SignInRefused
from accounts.selectors import user_by_external_id
from accounts.services import sign_in_link_create, sign_in_link_url
from core.errors import DomainValidationError


class Command(BaseCommand):
    help = (
        "Make a one-time sign-in link for the student with this external id and print it. It "
        f"works once, for STRIDE_SIGN_IN_LINK_MINUTES ({settings.STRIDE_SIGN_IN_LINK_MINUTES}) "
        "minutes, and opens their pages at /me/ (or --next)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("external_id", help="The student's external id.")
        parser.add_argument("--next", default="", help="A path on Stride to open, e.g. /me/.")
        parser.add_argument(
            "--site",
            default="",
            help="The site's address (default STRIDE_SITE_URL, else http://127.0.0.1:8000).",
        )

    def handle(self, *args: object, **options: str) -> None:
        user = user_by_external_id(external_id=options["external_id"])
        if user is None:
            raise CommandError(f"No user has the external id {options['external_id']!r}.")
        try:
            link, raw_token = sign_in_link_create(user=user, next_path=options["next"])
        except DomainValidationError as exc:
            raise CommandError(exc.messages_text()) from exc
        except SignInRefused as refusal:
            raise CommandError(f"{refusal.reason} {refusal.detail}".strip()) from refusal
        self.stderr.write(
            f"One-time sign-in link for {user.email}, valid until "
            f"{link.expires_at:%Y-%m-%d %H:%M %Z}:"
        )
        self.stdout.write(sign_in_link_url(raw_token, site=options["site"]))
