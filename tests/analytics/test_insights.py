"""The weekly insights end to end: findings from generated aggregates, events and scores (a
planted jump found with scipy's p-value, nothing where nothing was planted), written by the
real anthropic client over a mocked transport (an invented figure rejected and retried, two
bad answers falling back), by the built-in writer without a key, stored once per week."""

from __future__ import annotations

import datetime
import json

import httpx2
import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analytics.models import Anomaly, DailyAggregate, Insight, InsightRun
from analytics.services.findings import WEEK, week_findings, week_just_ended
from analytics.services.grounding import ungrounded
from analytics.services.insight_writer import (
    allowed_dates,
    allowed_figures,
    deterministic_write,
    number,
    texts_of,
)
from analytics.services.insights import insight_status_set, weekly_insights_write
from tests.accounts.factories import UserFactory
from tests.claude import client_answering
from tests.claude import reply as claude_reply
from tests.engagement.factories import make_events, make_run, make_score
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
LAST_WEEK_DAU = [40, 42, 39, 41, 43, 38, 40]
THIS_WEEK_DAU = [55, 58, 54, 57, 59, 53, 56]  # the planted jump
EVENTS = [300, 310, 295, 305, 290, 315, 300]
EVENTS_THIS = [302, 298, 307, 296, 311, 301, 299]


def _aggregates(week: datetime.date, last: list[int], this: list[int], course=None) -> None:
    for i, (dau, events) in enumerate(zip(last + this, EVENTS + EVENTS_THIS, strict=True)):
        DailyAggregate.objects.create(
            day=week - WEEK + i * DAY, course=course, dau=dau, events=events
        )


def _at(week: datetime.date, day: int, hour: int = 12) -> str:
    moment = datetime.datetime.combine(week + day * DAY, datetime.time(hour), tzinfo=datetime.UTC)
    return moment.isoformat()


@pytest.fixture
def week() -> datetime.date:
    return week_just_ended()


@pytest.fixture
def learners(week):
    """Twelve named learners: nine slowed down this week, three sped up."""
    people = []
    course = CourseFactory(external_id="geometry", title="Geometry")
    for i in range(12):
        learner = UserFactory(
            first_name=f"Zenobia{i}", last_name="Quillfeather", email=f"zenobia{i}@secret.example"
        )
        slower = i < 9
        before, after = (6, 1) if slower else (1, 5)
        make_events(
            learner,
            [("page_view", _at(week, -7 + d % 7, 9 + d)) for d in range(before)]
            + [("page_view", _at(week, d % 7, 9 + d)) for d in range(after)],
            course=course,
        )
        people.append(learner)
    return people


@pytest.fixture
def history(week, learners):
    """The platform's DAU jumps this week; a course does too; a stored anomaly; scores whose
    sessions fall as the risk rises."""
    _aggregates(week, LAST_WEEK_DAU, THIS_WEEK_DAU)
    course = CourseFactory(external_id="algebra", title="Algebra")
    _aggregates(week, [5, 6, 5, 4, 6, 5, 5], [12, 13, 11, 12, 14, 12, 13], course=course)
    Anomaly.objects.create(
        day=week + 2 * DAY, metric="dau", value=54, baseline=40, score=4.2, course=None
    )
    run = make_run(week + 6 * DAY)
    run.signal_names = ["page_views_28d", "sessions_28d"]  # a score's signals, in this order
    run.save(update_fields=["signal_names"])
    rng = np.random.default_rng(5)
    for i, learner in enumerate(learners * 3):
        risk = int(rng.integers(0, 100))
        score = make_score(run, learner, risk, course=course if i < 12 else None)
        score.signals = [float(rng.normal(20, 5)), float(30 - risk / 4 + rng.normal(0, 2))]
        score.save(update_fields=["signals"])
    return course


def test_the_planted_jump_is_found_with_scipys_holm_corrected_p_value(history, week):
    found = week_findings(week)
    metrics = [f for f in found.findings if f.kind == "metric"]
    assert [f.key for f in metrics] == ["metric:dau"]
    dau = metrics[0]
    # dau and events vary; the other metrics are constant (no test), so the family is two.
    p = [
        stats.ttest_ind(THIS_WEEK_DAU, LAST_WEEK_DAU, equal_var=False).pvalue,
        stats.ttest_ind(EVENTS_THIS, EVENTS, equal_var=False).pvalue,
    ]
    assert dau.p_value == pytest.approx(multipletests(p, method="holm")[1][0])
    assert dau.figures["this_week"] == round(np.mean(THIS_WEEK_DAU), 1)
    assert dau.figures["last_week"] == round(np.mean(LAST_WEEK_DAU), 1)
    assert dau.direction == "up" and "metric=dau" in dau.chart_url
    assert [m["metric"] for m in found.movements][:3] == ["dau", "new_learners", "events"]

    kinds = {f.kind for f in found.findings}
    assert {"course", "learners", "anomaly", "correlation"} <= kinds
    course = next(f for f in found.findings if f.kind == "course")
    assert course.subject == "Algebra" and course.chart_url.startswith(
        "/dashboard/analytics/courses/algebra/"
    )
    movers = next(f for f in found.findings if f.kind == "learners")
    assert (movers.figures["rising"], movers.figures["declining"]) == (3, 9)
    assert [f.subject for f in found.findings if f.kind == "correlation"] == [
        "Count of sessions in the last 28 days"
    ]


def test_nothing_is_found_where_nothing_was_planted(week):
    _aggregates(week, LAST_WEEK_DAU, LAST_WEEK_DAU[::-1])
    found = week_findings(week)
    assert found.findings == []
    assert {m["metric"]: m["significant"] for m in found.movements}["dau"] is False


def test_the_built_in_writer_uses_only_the_input_figures(history, week):
    found = week_findings(week)
    written = deterministic_write(found)
    assert len(written.insights) == len(found.findings)
    assert ungrounded(texts_of(written), allowed_figures(found), allowed_dates(found)) == []


def reply(text: str) -> httpx2.Response:
    return claude_reply(text, output_tokens=300)


def answer(found, *, invent: bool = False) -> str:
    """Claude's answer: each insight quoting its own figures, or with one number made up."""
    summary = "Daily active learners jumped" + (" by 987,654 learners." if invent else ".")
    return json.dumps(
        {
            "summary": summary,
            "insights": [
                {
                    "key": f.key,
                    "headline": f"AI: {f.title}",
                    "body": "Figures: " + ", ".join(number(v) for v in f.figures.values()),
                    "recommendation": "Open the chart and act on it.",
                }
                for f in found.findings
            ],
        }
    )


def test_an_invented_figure_is_rejected_then_the_clean_retry_is_stored(history, week):
    found = week_findings(week)
    replies = iter([answer(found, invent=True), answer(found)])
    requests = []

    def handler(request):
        requests.append(request.content.decode())
        return reply(next(replies))

    run = weekly_insights_write(week=week, client=client_answering(handler))

    assert len(requests) == 2
    assert (run.writer, run.attempts, run.status) == ("ai", 2, "done")
    assert run.rejected == [
        {"attempt": 1, "reasons": ["These numbers are not among the input figures: 987,654."]}
    ]
    assert "987,654" in json.loads(requests[1])["messages"][2]["content"]  # the violation named
    assert (run.input_tokens, run.output_tokens) == (2000, 600)
    assert float(run.cost_usd) == pytest.approx(2000 * 3e-6 + 600 * 15e-6)
    assert run.latency_ms is not None and run.model
    stored = list(Insight.objects.filter(week=week).order_by("position"))
    assert [i.key for i in stored] == [f.key for f in found.findings]
    assert all(i.headline.startswith("AI: ") for i in stored)
    assert run.summary == "Daily active learners jumped."


def test_what_claude_is_sent_names_no_learner(history, week, learners):
    requests = []

    def handler(request):
        requests.append(request.content.decode())
        return reply(answer(week_findings(week)))

    weekly_insights_write(week=week, client=client_answering(handler))
    body = requests[0]
    assert "Algebra" in body  # a course is no person
    for learner in learners:
        for personal in (learner.email, learner.external_id, learner.first_name):
            assert personal not in body
    assert "Quillfeather" not in body and "@" not in body


def test_two_bad_answers_fall_back_to_the_built_in_writer(history, week):
    found = week_findings(week)
    replies = iter([answer(found, invent=True), "Sorry, here is prose instead of JSON."])
    run = weekly_insights_write(
        week=week, client=client_answering(lambda request: reply(next(replies)))
    )
    assert (run.writer, run.attempts) == ("fallback", 2)
    assert [r["reasons"] for r in run.rejected][1] == ["The answer was not the JSON asked for."]
    assert run.cost_usd is not None and run.input_tokens == 2000
    expected = deterministic_write(found)
    stored = list(Insight.objects.filter(week=week).order_by("position"))
    assert [i.body for i in stored] == [w.body for w in expected.insights]


def test_an_api_error_counts_as_an_attempt(history, week):
    found = week_findings(week)
    responses = iter(
        [
            httpx2.Response(429, json={"type": "error", "error": {"type": "rate_limit_error"}}),
            reply(answer(found)),
        ]
    )
    run = weekly_insights_write(week=week, client=client_answering(lambda request: next(responses)))
    assert (run.writer, run.attempts) == ("ai", 2)
    assert run.rejected[0]["reasons"][0].startswith("RateLimitError")


def test_without_a_key_the_built_in_writer_writes_and_nothing_is_sent(history, week, settings):
    settings.ANTHROPIC_API_KEY = ""
    run = weekly_insights_write(week=week)
    assert (run.writer, run.attempts, run.cost_usd, run.model) == ("deterministic", 0, None, "")
    assert run.findings == Insight.objects.filter(week=week).count() > 0


def test_a_rerun_of_the_week_replaces_its_insights_and_keeps_their_status(
    history, week, settings, staff_user
):
    settings.ANTHROPIC_API_KEY = ""
    first = weekly_insights_write(week=week)
    dau = Insight.objects.get(week=week, key="metric:dau")
    insight_status_set(insight=dau, status=Insight.Status.ACTED_ON, actor=staff_user)
    Anomaly.objects.all().delete()  # that finding is gone on the rerun

    again = weekly_insights_write(week=week + 3 * DAY)  # any day of the week
    assert again.pk == first.pk and InsightRun.objects.count() == 1
    assert Insight.objects.filter(week=week).count() == first.findings - 1
    assert not Insight.objects.filter(week=week, kind="anomaly").exists()
    dau.refresh_from_db()
    assert (dau.status, dau.status_by, dau.run_id) == ("acted_on", staff_user, first.pk)


def test_an_unknown_status_is_refused_naming_the_field(history, week, settings):
    from core.errors import DomainValidationError

    settings.ANTHROPIC_API_KEY = ""
    weekly_insights_write(week=week)
    insight = Insight.objects.filter(week=week).first()
    with pytest.raises(DomainValidationError) as error:
        insight_status_set(insight=insight, status="done", actor=None)
    assert list(error.value.fields) == ["status"]


def test_the_command_and_the_beat_task_write_the_week(history, week, settings, eager, capsys):
    from analytics.tasks import weekly_insights

    settings.ANTHROPIC_API_KEY = ""
    call_command("weekly_insights", "--week", week.isoformat())
    out = capsys.readouterr().out
    assert f"week of {week}" in out and "written by deterministic" in out
    assert weekly_insights.delay(week.isoformat()).get() == InsightRun.objects.get().findings
    assert InsightRun.objects.count() == 1


def test_the_beat_writes_insights_on_monday_after_the_nights_derive(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["analytics.weekly_insights"]
    derive = settings.CELERY_BEAT_SCHEDULE["analytics.derive"]["schedule"]
    assert entry["task"] == "analytics.weekly_insights"
    assert entry["schedule"].day_of_week == {1}  # Monday
    assert (min(entry["schedule"].hour), min(entry["schedule"].minute)) == (2, 0)
    assert (min(derive.hour), min(derive.minute)) == (1, 45)


def test_the_default_week_is_the_monday_to_sunday_week_just_ended():
    today = timezone.now().date()
    week = week_just_ended()
    assert week.weekday() == 0 and week + WEEK <= today < week + 2 * WEEK


def test_an_interventions_holdout_effect_is_a_finding_with_its_interval(settings, week):
    from tests.campaigns.conftest import make_campaign, one_time_spec
    from tests.campaigns.test_effectiveness import _history, _learners
    from tests.interventions.factories import MessageTemplateFactory

    settings.STRIDE_INTERVENTION_DAILY_CAP = settings.STRIDE_INTERVENTION_WEEKLY_CAP = 100
    settings.STRIDE_QUIET_HOURS = (0, 0)
    MessageTemplateFactory(slug="nudge", name="Nudge")
    campaign = make_campaign(one_time_spec(name="Comeback", holdout_percent=30))
    _history(campaign, _learners(1000), timezone.now() - 40 * DAY, rates=(0.40, 0.60))

    found = {f.key: f for f in week_findings(week).findings if f.kind == "intervention"}
    # The campaign, and its template (whoever sent it) with the same learners.
    assert set(found) == {f"intervention:campaign:{campaign.pk}", "intervention:template:nudge"}
    comeback = found[f"intervention:campaign:{campaign.pk}"]
    figures = comeback.figures
    assert figures["ci_low_pct"] < figures["uplift_pct"] < figures["ci_high_pct"]
    # 0.60 / 0.40 - 1 = +50%; which learners are held out follows their ids, so the observed
    # uplift varies from run to run (its standard error is about 12 points): within 3 of them.
    assert 15 < figures["uplift_pct"] < 95 and figures["ci_low_pct"] > 0
    assert comeback.significant and comeback.chart_url == "/dashboard/effectiveness/"
    assert figures["contacted"] + figures["held_out"] == 1000
    assert "Comeback" in comeback.title
    every = week_findings(week)
    written = deterministic_write(every)
    assert ungrounded(texts_of(written), allowed_figures(every), allowed_dates(every)) == []
