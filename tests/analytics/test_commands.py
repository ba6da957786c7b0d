"""`manage.py aggregate_analytics`: a backfill of dates with progress, or the refresh."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics.models import AggregateRun, DailyAggregate
from analytics.tasks import refresh
from tests.accounts.factories import UserFactory
from tests.analytics.history import DAY, recount, stored, utc
from tests.engagement.factories import make_events

pytestmark = pytest.mark.django_db


def test_backfill_prints_progress_and_writes_every_day():
    learner = UserFactory(timezone="Asia/Kolkata")
    today = timezone.now().date()
    make_events(learner, [("login", utc(today - 20 * DAY, 20)), ("login", utc(today - 3 * DAY, 1))])
    start, end = today - 200 * DAY, today - 1 * DAY
    out = StringIO()

    call_command("aggregate_analytics", "--from", str(start), "--to", str(end), stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == f"backfilling 200 days, {start} to {end}"
    assert lines[1:3] == [
        f"  {start}..{start + 119 * DAY} done (120 days)",
        f"  {start + 120 * DAY}..{end} done (200 days)",
    ]
    assert f"200 days, {start} to {end}" in lines[3]
    assert DailyAggregate.objects.filter(course=None).count() == 200
    assert stored() == recount(start, end)
    # 20:00 UTC is 01:30 the next day in Kolkata.
    assert DailyAggregate.objects.get(day=today - 19 * DAY, course=None).dau == 1
    assert AggregateRun.objects.get().kind == AggregateRun.Kind.BACKFILL


def test_without_dates_it_refreshes_and_says_how_many_days():
    learner = UserFactory()
    make_events(learner, [("login", timezone.now() - 2 * DAY)])
    out = StringIO()

    call_command("aggregate_analytics", stdout=out)

    assert "refreshing the days changed since the last refresh" in out.getvalue()
    assert DailyAggregate.objects.filter(course=None, dau=1).count() == 1
    run = AggregateRun.objects.get()
    assert f"{run.days} days" in out.getvalue() and run.days >= 3


def test_half_a_range_is_refused():
    with pytest.raises(CommandError, match="both --from and --to"):
        call_command("aggregate_analytics", "--from", "2026-01-01")
    with pytest.raises(CommandError, match="before"):
        call_command("aggregate_analytics", "--from", "2026-01-05", "--to", "2026-01-01")


def test_the_task_runs_the_refresh():
    learner = UserFactory()
    make_events(learner, [("login", timezone.now() - DAY)])

    days = refresh.apply().get()

    assert days == AggregateRun.objects.get().days >= 2
    assert DailyAggregate.objects.filter(course=None, dau=1).count() == 1
