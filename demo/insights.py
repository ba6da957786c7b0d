"""The demo's weekly insights: what beat writes on Mondays, for the last two weeks."""

from __future__ import annotations

from analytics.models import InsightRun
from analytics.services.findings import WEEK, week_just_ended
from analytics.services.insights import weekly_insights_write

WEEKS = 2  # the week just ended and the one before, so the page has an earlier week


def demo_insights_seed() -> int:
    """Write the insights of the last WEEKS weeks that have none yet (the demo never sets
    ANTHROPIC_API_KEY, so the built-in writer writes them); a second run changes nothing.
    Return how many weeks were written."""
    latest = week_just_ended()
    written = 0
    for back in range(WEEKS):
        week = latest - back * WEEK
        if not InsightRun.objects.filter(week=week, status=InsightRun.Status.DONE).exists():
            weekly_insights_write(week=week)
            written += 1
    return written
