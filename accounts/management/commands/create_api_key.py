"""Create an integrator API key; the key itself is printed alone on the last line."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import api_key_create
from core.errors import DomainValidationError


class Command(BaseCommand):
    help = "Create an API key. The secret is shown once, on the last line of the output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="What the key is for.")
        parser.add_argument(
            "--scopes", required=True, help="Comma-separated scopes, e.g. users:write,events:write"
        )
        parser.add_argument("--source", default="", help="Idempotency namespace for its events.")

    def handle(self, *args: object, **options: str) -> None:
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        try:
            key, raw_key = api_key_create(
                name=options["name"], scopes=scopes, source=options["source"]
            )
        except DomainValidationError as exc:
            raise CommandError(exc.messages_text()) from exc
        self.stderr.write(
            f"Created API key '{key.name}' (prefix {key.prefix}, scopes {', '.join(key.scopes)})."
            " Store it now: it is not shown again."
        )
        self.stdout.write(raw_key)
