"""The first-week analysis of the demo's history, so the first-week page has something to
show right after seeding (the nightly analytics run recomputes it)."""

from __future__ import annotations

from analytics.services.first_week import FirstWeekComputed, first_week_compute


def demo_first_week() -> FirstWeekComputed:
    """Analyse the demo's first weeks now; a rerun upserts the same snapshots."""
    return first_week_compute()
