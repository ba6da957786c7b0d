"""The demo's star performers: what the nightly run stores, so the Performers page has data."""

from __future__ import annotations

from analytics.services.performers import performers_compute


def demo_performers_analyse() -> int:
    """Store every course's, learner's and instructor's performers from the demo's history;
    return how many scopes. A rerun replaces the same rows (one snapshot per scope)."""
    return performers_compute().runs
