"""Print a fresh one-time sign-in link for the busiest demo student (used by `make run`)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from accounts.services import sign_in_link_create
from gamification.models import LearnerGameProfile


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
        profile = (
            LearnerGameProfile.objects.filter(user__external_id__startswith="demo-student-")
            .select_related("user")
            .order_by("-total_xp", "user_id")
            .first()
        )
        if profile is None:
            raise CommandError("No demo student has XP yet: run `manage.py seed_demo` first.")
        link, raw_token = sign_in_link_create(user=profile.user, next_path="")
        site = (options["site"] or settings.STRIDE_SITE_URL or "http://127.0.0.1:8000").rstrip("/")
        url = f"{site}{reverse('accounts:sign-in-link', args=[raw_token])}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo student {profile.user.email} ({profile.user.external_id}): open {url} "
                f"(one use, until {link.expires_at:%H:%M %Z}; new link: "
                "`.venv/bin/python manage.py demo_sign_in`)."
            )
        )
