"""Print a fresh one-time sign-in link for the busiest demo student (used by `make run`)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import sign_in_link_create, sign_in_link_url
from demo.services import demo_busiest_student


class Command(BaseCommand):
    help = (
        "Make a one-time sign-in link for the demo student with the most XP and print how to "
        "use it; run it again for a new link (each works once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--site", default="", help="The site's address (default STRIDE_SITE_URL)."
        )

    def handle(self, *args: object, **options: str) -> None:
        student = demo_busiest_student()
        if student is None:
            raise CommandError("No demo student has XP yet: run `manage.py seed_demo` first.")
        link, raw_token = sign_in_link_create(user=student, next_path="")
        url = sign_in_link_url(raw_token, site=options["site"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo student {student.email} ({student.external_id}): open {url} "
                f"(one use, until {link.expires_at:%H:%M %Z}; new link: "
                "`.venv/bin/python manage.py demo_sign_in`)."
            )
        )
