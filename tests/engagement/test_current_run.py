"""The current scoring run: one definition for the dashboard, both APIs, the export and alerts."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.management import call_command

from engagement.models import Alert, ScoringRun
from engagement.selectors.dashboard import scoring_run_current, scoring_run_trend
from engagement.services.alerts import alerts_evaluate
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_run, make_score

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 10, 19, 30, tzinfo=datetime.UTC)
TODAY = NOW.date()
DAY = datetime.timedelta(days=1)


@pytest.fixture
def backfilled() -> dict:
    """Last night's run as of yesterday, then a backfill of an older date that finished later.

    Last night: ada 90 (critical), ben 20. The backfill (as of 30 days ago): ada 10, ben 85.
    Today's run is still running, and one for yesterday failed.
    """
    ada, ben = UserFactory(external_id="ada"), UserFactory(external_id="ben")
    tonight = make_run(TODAY - DAY, finished_at=NOW - datetime.timedelta(hours=16))
    make_score(tonight, ada, 90)
    make_score(tonight, ben, 20)
    backfill = make_run(TODAY - 30 * DAY, finished_at=NOW - datetime.timedelta(hours=1))
    make_score(backfill, ada, 10)
    make_score(backfill, ben, 85)
    make_run(TODAY, status=ScoringRun.Status.RUNNING)
    make_run(TODAY - DAY, status=ScoringRun.Status.FAILED, finished_at=NOW)
    return {"tonight": tonight, "backfill": backfill}


def test_the_current_run_is_the_latest_date_scored_not_the_last_to_finish(
    backfilled, django_assert_num_queries
) -> None:
    with django_assert_num_queries(1):
        assert scoring_run_current() == backfilled["tonight"]


def test_of_one_date_scored_twice_the_later_finished_run_counts(backfilled) -> None:
    again = make_run(TODAY - DAY, finished_at=NOW - datetime.timedelta(hours=2))

    assert scoring_run_current() == again
    assert scoring_run_current(as_of=TODAY - DAY) == again


def test_as_of_and_on_or_before_narrow_the_dates(backfilled, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        assert scoring_run_current(as_of=TODAY - 30 * DAY) == backfilled["backfill"]
    with django_assert_num_queries(1):
        assert scoring_run_current(on_or_before=TODAY - 2 * DAY) == backfilled["backfill"]
    assert scoring_run_current(on_or_before=TODAY - DAY) == backfilled["tonight"]
    assert scoring_run_current(as_of=TODAY) is None  # only running
    assert scoring_run_current(on_or_before=TODAY - 31 * DAY) is None


def test_no_finished_run_means_none(django_assert_num_queries) -> None:
    make_run(TODAY, status=ScoringRun.Status.RUNNING)
    with django_assert_num_queries(1):
        assert scoring_run_current() is None


def test_dashboard_apis_export_and_alerts_all_show_the_current_run(backfilled, make_key) -> None:
    tonight = backfilled["tonight"]
    client = make_key("scores:read")

    at_risk = client.get("/api/v1/engagement/at-risk/").json()
    assert at_risk["run"]["id"] == tonight.pk
    assert [row["user"] for row in at_risk["results"]] == ["ada"]

    scores = client.get("/api/v1/engagement/scores/").json()["results"]
    assert [(row["user"], row["drop_off_risk"]) for row in scores] == [("ada", 90), ("ben", 20)]

    out = io.StringIO()
    call_command("export_scores", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert [(row[0], int(row[3])) for row in rows] == [("ada", 90), ("ben", 20)]

    assert scoring_run_trend()[-1].run_id == tonight.pk  # the trend ends on the current run

    alerts_evaluate(now=NOW, codes=["critical_risk"])
    alert = Alert.objects.get(rule__code="critical_risk")
    assert (alert.user.external_id, alert.context["run_id"]) == ("ada", tonight.pk)
