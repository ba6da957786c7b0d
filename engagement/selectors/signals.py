"""The behavioural signals by name, with the words staff read (e.g. for a rule's drivers)."""

from __future__ import annotations

from engagement.scoring.signals import SIGNALS

SIGNAL_LABELS: dict[str, str] = {sig.name: sig.description for sig in SIGNALS}
