"""Make a VAPID key pair for Web Push and print it as environment settings."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from interventions.channels.push import vapid_keys_generate


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair for Web Push: put STRIDE_VAPID_PRIVATE_KEY in the "
        "environment (the public key is derived from it; it is printed for reference)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        private, public = vapid_keys_generate()
        self.stdout.write(f"STRIDE_VAPID_PRIVATE_KEY={private}\n")
        self.stdout.write(f"# public key (browsers subscribe with it): {public}\n")
