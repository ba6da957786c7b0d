"""The audience filter language: every mistake answered with its path, each field selecting the
right learners, and the compiled SQL agreeing with the plain-Python meaning of the language on
generated learners and filters (hypothesis).

The stored state each field reads (scores, events, streak days, game profiles, deliveries) is
written directly, so that every learner's value is exactly the one the test states; courses,
lessons, enrollments, progress and freezes go through their apps' services (the factories).
"""

from __future__ import annotations

import datetime
import itertools
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from campaigns.filters import (
    FIELDS,
    MAX_DEPTH,
    MAX_NODES,
    filter_errors,
    filter_evaluate,
    filter_validate,
)
from campaigns.models import Campaign
from campaigns.selectors.audience import audience_count, audience_preview, audience_users
from core.errors import DomainValidationError
from engagement.models import EngagementScore, Event, ScoringRun
from gamification.models import LearnerGameProfile, StreakDay
from gamification.selectors.streaks import streak_states
from gamification.services.rewards import reward_grant
from interventions.models import Delivery
from learning.models import Course, Enrollment
from tests.accounts.factories import InstructorFactory, UserFactory
from tests.engagement.factories import make_run, make_score
from tests.interventions.factories import MessageTemplateFactory
from tests.learning.factories import (
    CourseFactory,
    EnrollmentFactory,
    LessonFactory,
    LessonProgressFactory,
)

NOW = datetime.datetime(2026, 6, 15, 10, 30, tzinfo=datetime.UTC)
MONDAY = "2026-06-15"  # NOW's week
WEEKS = [
    (datetime.date(2026, 6, 15) - k * datetime.timedelta(weeks=1)).isoformat()
    for k in range(-1, 16)
]
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
SIGNALS = ["recency_days", "active_days_7d", "events_7d"]
CAMPAIGN_A, CAMPAIGN_B = 1001, 1002
_ids = itertools.count(1)


def errors_of(filter_: Any) -> dict[str, str]:
    with pytest.raises(DomainValidationError) as caught:
        filter_validate(filter_)
    return {path: " ".join(messages) for path, messages in caught.value.fields.items()}


# --- validation -------------------------------------------------------------------------------

RISK = {"field": "risk", "op": ">=", "value": 60}
XP = {"field": "xp", "op": ">", "value": 10}

MISTAKES = [
    (["risk"], {"filter": 'Give an object: {"all": [...]}'}),
    ("risk >= 60", {"filter": "Give an object"}),
    ({"any": 3}, {"any": "Give a list of conditions."}),
    ({"all": []}, {"all": "Give at least one condition."}),
    (
        {"all": [RISK, XP, {"field": "timezone", "op": ">", "value": "E"}]},
        {"all[2].op": '">" is not defined for text fields.'},
    ),
    (
        {"all": [{"field": "rsik", "op": ">=", "value": 60}]},
        {"all[0].field": 'No field "rsik". Did you mean "risk"?'},
    ),
    ({"field": 7, "op": "=", "value": 1}, {"field": 'No field "7".'}),
    ({"field": "risk", "op": "~", "value": 1}, {"op": 'No operator "~". Operators: =, !='}),
    ({"field": "risk", "value": 1}, {"op": "Give an operator: =, !=, >, >=, <, <=, in"}),
    (
        {"field": "risk", "op": "contains", "value": 1},
        {"op": '"contains" is not defined for number'},
    ),
    (
        {"field": "streak_at_risk", "op": ">", "value": 1},
        {"op": '">" is not defined for boolean fields.'},
    ),
    (
        {"field": "risk_level", "op": "<", "value": "high"},
        {"op": '"<" is not defined for choice fields.'},
    ),
    (
        {"field": "days_inactive", "op": "in", "value": [7]},
        {"op": '"in" is not defined for days fields.'},
    ),
    ({"field": "risk", "op": ">=", "value": "60"}, {"value": "Give a number."}),
    ({"field": "risk", "op": ">=", "value": True}, {"value": "Give a number."}),
    ({"field": "risk", "op": ">="}, {"value": "Give a value."}),
    ({"field": "xp", "op": "in", "value": 5}, {"value": "Give a list of values."}),
    ({"field": "xp", "op": "not_in", "value": []}, {"value": "Give a list of values."}),
    (
        {"field": "xp", "op": "in", "value": [1, "two", 3, None]},
        {"value[1]": "Give a number.", "value[3]": "Give a number."},
    ),
    ({"field": "xp", "op": "in", "value": list(range(1001))}, {"value": "at most 1000 values"}),
    (
        {"field": "risk_level", "op": "=", "value": "severe"},
        {"value": '"severe" is not a valid choice. Choose one of: low, medium, high, critical.'},
    ),
    (
        {"field": "league", "op": "in", "value": ["gold", "platinum"]},
        {"value[1]": '"platinum" is not a valid choice.'},
    ),
    (
        {"field": "days_inactive", "op": ">=", "value": -1},
        {"value": "Give a whole number of days, 0 or more."},
    ),
    (
        {"field": "days_inactive", "op": ">=", "value": 7.5},
        {"value": "Give a whole number of days, 0 or more."},
    ),
    ({"field": "timezone", "op": "contains", "value": ""}, {"value": "Give the text to look for."}),
    ({"field": "timezone", "op": "=", "value": 3}, {"value": "Give text of at most 200"}),
    ({"field": "xp", "op": "is_set", "value": "yes"}, {"value": "Give true or false"}),
    ({"field": "streak_at_risk", "op": "=", "value": 1}, {"value": "Give true or false"}),
    (
        {"field": "risk", "op": ">=", "vaule": 60},
        {
            "vaule": 'Unknown key "vaule" for the field "risk". Keys: field, op, value.',
            "value": "Give a value.",
        },
    ),
    ({"all": [RISK], "any": [XP]}, {"filter": 'Give one of "all", "any", "not" or "field"'}),
    ({"all": [RISK], "limit": 5}, {"limit": 'Unknown key "limit": a group has only "all".'}),
    ({"not": {}}, {"not": 'Give "all", "any", "not" or a condition with "field".'}),
    (
        {"not": {"feild": "risk"}},
        {"not": 'Give "all", "any", "not" or a condition', "not.feild": 'Unknown key "feild".'},
    ),
    ({"field": "signal", "op": ">", "value": 3}, {"name": 'Give "name" for the field "signal".'}),
    (
        {"field": "signal", "name": "recency_dayz", "op": ">", "value": 3},
        {"name": 'No signal "recency_dayz". Did you mean "recency_days"?'},
    ),
    ({"field": "received"}, {"filter": 'Give "campaign": <id> or "template": "<slug>"'}),
    (
        {"any": [XP, {"field": "opened", "campaign": "first"}]},
        {"any[1].campaign": "Give a campaign's id."},
    ),
    ({"field": "clicked", "template": ""}, {"template": "Give a template's slug."}),
    ({"field": "course", "op": "=", "value": ""}, {"value": "Give a course's external id."}),
    (
        {"not": {"any": [XP, {"all": [RISK, {"field": "xp", "op": "=", "value": "a"}]}]}},
        {"not.any[1].all[1].value": "Give a number."},
    ),
    # Every mistake at once, each with its own path.
    (
        {"all": [{"field": "rsik"}, {"field": "xp", "op": ">"}, {"any": []}, {"not": 5}]},
        {
            "all[0].field": 'No field "rsik"',
            "all[1].value": "Give a value.",
            "all[2].any": "Give at least one condition.",
            "all[3].not": "Give an object",
        },
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("filter_", "expected"), MISTAKES)
def test_every_mistake_is_answered_with_its_path(filter_, expected):
    errors = errors_of(filter_)

    assert set(errors) == set(expected)
    for path, fragment in expected.items():
        assert fragment in errors[path], (path, errors[path])


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = RISK
    for _ in range(depth):
        node = {"not": node}
    return node


@pytest.mark.django_db
def test_nesting_and_size_are_limited():
    filter_validate(_nested(MAX_DEPTH - 1))

    too_deep = errors_of(_nested(MAX_DEPTH))
    assert too_deep == {"not." * (MAX_DEPTH - 1) + "not": f"Nest at most {MAX_DEPTH} levels deep."}
    assert errors_of({"any": [XP] * MAX_NODES}) == {
        "filter": f"Use at most {MAX_NODES} groups and conditions."
    }
    filter_validate({"any": [XP] * (MAX_NODES - 1)})


@pytest.mark.django_db
def test_courses_campaigns_and_templates_named_must_exist():
    CourseFactory(external_id="python-101")
    MessageTemplateFactory(slug="nudge")
    campaign = Campaign.objects.create(name="Weekly", kind=Campaign.Kind.RECURRING)
    good = {
        "all": [
            {"field": "course", "op": "in", "value": ["python-101"]},
            {"field": "progress", "course": "python-101", "op": ">", "value": 50},
            {"field": "received", "campaign": campaign.pk, "template": "nudge"},
        ]
    }
    filter_validate(good)

    assert errors_of(
        {
            "all": [
                {"field": "course", "op": "in", "value": ["python-101", "rust-999"]},
                {"field": "enrollment_status", "course": "go-1", "op": "=", "value": "active"},
                {"field": "opened", "campaign": campaign.pk + 1},
                {"field": "clicked", "template": "no-such-template"},
            ]
        }
    ) == {
        "all[0].value[1]": "No course 'rust-999'.",
        "all[1].course": "No course 'go-1'.",
        "all[2].campaign": f"No campaign {campaign.pk + 1}.",
        "all[3].template": "No template 'no-such-template'.",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "filter_",
    [
        None,
        {},
        {"field": "received", "template": "nudge"},
        {"field": "streak_at_risk"},
        {"field": "xp", "op": "is_set"},
        {"not": {"any": [RISK, {"field": "timezone", "op": "contains", "value": "Europe"}]}},
    ],
)
def test_valid_filters_pass(filter_):
    MessageTemplateFactory(slug="nudge")

    filter_validate(filter_)
    assert filter_errors(filter_) == {}


def test_the_catalogue_describes_every_field():
    for name, spec in FIELDS.items():
        assert spec["type"] in ("number", "days", "choice", "text", "boolean", "week"), name
        assert spec["label"] and spec["help"] and spec["ops"], name
        assert all(isinstance(choice, str) for choice in spec.get("choices", [])), name
    assert FIELDS["signal"]["parameters"] == ["name"]
    assert FIELDS["received"]["parameters"] == ["campaign", "template"]
    assert "contains" in FIELDS["timezone"]["ops"]
    assert ">" not in FIELDS["league"]["ops"]


# --- each field on a hand-built set of learners -----------------------------------------------


def _event(user: User, at: datetime.datetime) -> None:
    Event.objects.create(
        source="test", client_id=f"e{next(_ids)}", type="login", user=user, occurred_at=at
    )


def _streak(user: User, day: datetime.date, length: int) -> None:
    StreakDay.objects.create(user=user, date=day, run_started_on=day, run_length=length)


def _sent(user: User, template: Any, source: str, at: datetime.datetime, **times: Any) -> None:
    Delivery.objects.create(
        user=user,
        template=template,
        channel="email",
        source=source,
        status=Delivery.Status.SENT,
        sent_at=at,
        **times,
    )


@pytest.fixture
def town(db) -> dict[str, User]:
    """Six learners told apart by every field (see each one's comment), an instructor and an
    inactive student who match everything but are no learners, and scoring runs around the
    current one."""
    c1 = CourseFactory(external_id="c1")
    c2 = CourseFactory(external_id="c2")
    c3 = CourseFactory(external_id="c3")  # no lessons
    lessons = {c1: [LessonFactory(course=c1) for _ in range(4)], c2: [LessonFactory(course=c2)]}
    nudge = MessageTemplateFactory(slug="nudge")
    other = MessageTemplateFactory(slug="other")
    for pk in (CAMPAIGN_A, CAMPAIGN_B):
        Campaign.objects.create(pk=pk, name=f"Campaign {pk}", kind=Campaign.Kind.ONE_TIME)
    old = make_run(NOW.date() - 2 * DAY)
    run = make_run(NOW.date() - DAY)
    run.signal_names = SIGNALS
    run.save(update_fields=["signal_names"])
    make_run(NOW.date(), status=ScoringRun.Status.RUNNING)

    def learner(name: str, tz: str, joined_days: float) -> User:
        return UserFactory(
            email=f"{name}@example.com",
            first_name=name.title(),
            timezone=tz,
            date_joined=NOW - joined_days * DAY,
        )

    def score(user: User, risk: int, level: str, course: Any, signals: list[float]) -> None:
        made = make_score(run, user, risk, level=level, course=course)
        EngagementScore.objects.filter(pk=made.pk).update(signals=signals)

    def done(user: User, course: Any, n: int) -> None:
        for lesson in lessons[course][:n]:
            LessonProgressFactory(user=user, lesson=lesson, completed=True, at=NOW - 5 * DAY)

    # ada: riskiest (75, high, in c1; 40 in c2), active 2 days ago, half of c1 and all of c2
    # done, XP 500 / level 4 / silver, streak of 5 through yesterday (at risk), campaign 1's
    # message 3 days ago, opened.
    ada = learner("ada", "UTC", 100)
    EnrollmentFactory(user=ada, course=c1)
    EnrollmentFactory(user=ada, course=c2, status=Enrollment.Status.COMPLETED)
    done(ada, c1, 2)
    done(ada, c2, 1)
    score(ada, 75, "high", c1, [2, 3, 10])
    score(ada, 40, "medium", c2, [2, 1, 1])
    make_score(old, ada, 10, course=c1)
    _event(ada, NOW - 2 * DAY - HOUR)
    LearnerGameProfile.objects.create(user=ada, total_xp=500, level=4, league_tier="silver")
    _streak(ada, NOW.date() - DAY, 5)
    _sent(ada, nudge, f"campaign:{CAMPAIGN_A}:run:1", NOW - 3 * DAY, opened_at=NOW - 2 * DAY)

    # ben (Tokyo): 30 (low, c1, withdrawn, nothing done), active 10 days ago, XP 50 / level 2,
    # streak of 3 alive today (not at risk), a manual "nudge" 40 days ago, opened and clicked.
    ben = learner("ben", "Asia/Tokyo", 60)
    EnrollmentFactory(user=ben, course=c1, status=Enrollment.Status.WITHDRAWN)
    score(ben, 30, "low", c1, [10, 0, 0])
    _event(ben, NOW - 10 * DAY)
    LearnerGameProfile.objects.create(user=ben, total_xp=50, level=2)
    _streak(ben, datetime.date(2026, 6, 15), 3)  # 19:30 in Tokyo
    _sent(
        ben, nudge, "manual:1", NOW - 40 * DAY, opened_at=NOW - 40 * DAY, clicked_at=NOW - 39 * DAY
    )

    # cleo (New York): never scored in the current run (99 in the old one), no event at all
    # since joining 40 days ago, no enrolment, no profile, no streak, never messaged.
    cleo = learner("cleo", "America/New_York", 40)
    make_score(old, cleo, 99)

    # dev (Berlin): exactly 60 (high, in c3, which has no lessons), last active 31 days ago;
    # streak of 7 ending three days ago, the two missed days covered by two freezes (alive, at
    # risk); a profile with nothing yet; campaign 2's "other", sent 1 day ago, not opened.
    dev = learner("dev", "Europe/Berlin", 200)
    EnrollmentFactory(user=dev, course=c3)
    score(dev, 60, "high", c3, [31, 0, 0])
    _event(dev, NOW - 31 * DAY - HOUR)
    LearnerGameProfile.objects.create(user=dev)
    _streak(dev, NOW.date() - 3 * DAY, 7)
    reward_grant(
        user_id=dev.pk,
        reward_code="streak_freeze",
        quantity=2,
        source="staff",
        idempotency_key="dev-freezes",
        record_moment=False,
    )
    _sent(dev, other, f"campaign:{CAMPAIGN_B}:run:5", NOW - DAY - HOUR)

    # eve: joined two days ago, last event an hour ago, no score; streak of 4 ending three days
    # ago with no freeze (lapsed); a queued message never sent.
    eve = learner("eve", "UTC", 2)
    _event(eve, NOW - 5 * DAY)
    _event(eve, NOW - HOUR)
    _streak(eve, NOW.date() - 3 * DAY, 4)
    Delivery.objects.create(
        user=eve, template=nudge, channel="email", source=f"campaign:{CAMPAIGN_A}:run:2"
    )

    # finn (Kiritimati, UTC+14: already 16 June): streak of 2 on the 15th, his yesterday.
    finn = learner("finn", "Pacific/Kiritimati", 10)
    _streak(finn, datetime.date(2026, 6, 15), 2)
    _event(finn, NOW - 3 * HOUR)

    for outsider in (
        InstructorFactory(date_joined=NOW - 100 * DAY),
        UserFactory(is_active=False, date_joined=NOW - 100 * DAY),
    ):
        score(outsider, 90, "critical", c1, [40, 0, 0])
        LearnerGameProfile.objects.create(user=outsider, total_xp=900, level=9)
        EnrollmentFactory(user=outsider, course=c1)
    return {u.first_name.lower(): u for u in (ada, ben, cleo, dev, eve, finn)}


FIELD_CASES = [
    ({}, "ada ben cleo dev eve finn"),
    (RISK, "ada dev"),
    ({"field": "risk", "op": ">", "value": 60}, "ada"),
    ({"field": "risk", "op": "<", "value": 60}, "ben"),
    ({"field": "risk", "op": "<=", "value": 60}, "ben dev"),
    ({"field": "risk", "op": "=", "value": 75}, "ada"),
    ({"field": "risk", "op": "=", "value": 40}, ""),  # ada's lesser enrolment does not count
    ({"field": "risk", "op": "!=", "value": 75}, "ben cleo dev eve finn"),
    ({"field": "risk", "op": "in", "value": [30, 60]}, "ben dev"),
    # Fractions stay fractions against whole-number columns.
    ({"field": "risk", "op": ">=", "value": 59.5}, "ada dev"),
    ({"field": "risk", "op": "<=", "value": 59.9}, "ben"),
    ({"field": "risk", "op": "=", "value": 60.0}, "dev"),
    ({"field": "risk", "op": "in", "value": [29.5, 60.5]}, ""),
    ({"field": "level", "op": ">", "value": 1.5}, "ada ben"),
    ({"field": "xp", "op": "in", "value": [49.5, 500]}, "ada"),
    ({"field": "risk", "op": "not_in", "value": [30, 60]}, "ada cleo eve finn"),
    ({"field": "risk", "op": "is_set"}, "ada ben dev"),
    ({"field": "risk", "op": "is_set", "value": False}, "cleo eve finn"),
    ({"field": "risk_level", "op": "=", "value": "high"}, "ada dev"),
    ({"field": "risk_level", "op": "in", "value": ["low", "medium"]}, "ben"),
    ({"field": "signal", "name": "recency_days", "op": ">=", "value": 10}, "ben dev"),
    ({"field": "signal", "name": "events_7d", "op": "=", "value": 10}, "ada"),
    ({"field": "signal", "name": "sessions_7d", "op": "is_set"}, ""),  # not in the run
    ({"field": "days_inactive", "op": ">=", "value": 7}, "ben cleo dev"),
    ({"field": "days_inactive", "op": ">=", "value": 30}, "cleo dev"),
    ({"field": "days_inactive", "op": "=", "value": 2}, "ada"),
    ({"field": "days_inactive", "op": "<", "value": 1}, "eve finn"),
    ({"field": "days_inactive", "op": ">", "value": 31}, "cleo"),  # joined 40 days ago
    ({"field": "days_since_signup", "op": "<=", "value": 10}, "eve finn"),
    ({"field": "days_since_last_message", "op": "<", "value": 7}, "ada dev"),
    ({"field": "days_since_last_message", "op": ">=", "value": 7}, "ben"),
    ({"field": "days_since_last_message", "op": "is_set", "value": False}, "cleo eve finn"),
    ({"field": "course", "op": "=", "value": "c1"}, "ada ben"),
    ({"field": "course", "op": "!=", "value": "c1"}, "cleo dev eve finn"),
    ({"field": "course", "op": "in", "value": ["c2", "c3"]}, "ada dev"),
    ({"field": "course", "op": "is_set"}, "ada ben dev"),
    ({"field": "enrollment_status", "op": "=", "value": "active"}, "ada dev"),
    ({"field": "enrollment_status", "op": "=", "value": "active", "course": "c2"}, ""),
    (
        {"field": "enrollment_status", "op": "not_in", "value": ["withdrawn"]},
        "ada cleo dev eve finn",
    ),
    ({"field": "progress", "op": ">=", "value": 100}, "ada"),
    ({"field": "progress", "course": "c1", "op": "=", "value": 50}, "ada"),
    ({"field": "progress", "course": "c1", "op": "<", "value": 50}, "ben"),
    ({"field": "progress", "op": "is_set"}, "ada ben"),  # c3 has no lessons
    ({"field": "xp", "op": ">", "value": 0}, "ada ben"),
    ({"field": "xp", "op": "=", "value": 0}, "cleo dev eve finn"),
    ({"field": "level", "op": ">=", "value": 2}, "ada ben"),
    ({"field": "level", "op": "=", "value": 1}, "cleo dev eve finn"),
    ({"field": "league", "op": "=", "value": "silver"}, "ada"),
    ({"field": "league", "op": "=", "value": "bronze"}, "ben cleo dev eve finn"),
    ({"field": "streak", "op": ">=", "value": 3}, "ada ben dev"),
    ({"field": "streak", "op": "=", "value": 0}, "cleo eve"),
    ({"field": "streak_at_risk"}, "ada dev finn"),
    ({"field": "streak_at_risk", "op": "=", "value": False}, "ben cleo eve"),
    ({"field": "timezone", "op": "=", "value": "UTC"}, "ada eve"),
    ({"field": "timezone", "op": "contains", "value": "america"}, "cleo"),
    ({"field": "timezone", "op": "in", "value": ["Asia/Tokyo", "Europe/Berlin"]}, "ben dev"),
    ({"field": "role", "op": "=", "value": "student"}, "ada ben cleo dev eve finn"),
    ({"field": "role", "op": "=", "value": "instructor"}, ""),
    ({"field": "received", "campaign": CAMPAIGN_A}, "ada"),
    ({"field": "received", "template": "nudge"}, "ada ben"),
    ({"field": "received", "campaign": CAMPAIGN_B}, "dev"),
    ({"field": "received", "campaign": CAMPAIGN_B, "template": "nudge"}, ""),
    ({"field": "opened", "template": "nudge"}, "ada ben"),
    ({"field": "opened", "campaign": CAMPAIGN_B}, ""),
    ({"field": "clicked", "template": "nudge"}, "ben"),
    ({"field": "clicked", "template": "nudge", "op": "=", "value": False}, "ada cleo dev eve finn"),
    # The language's groups.
    ({"all": [RISK, {"field": "days_inactive", "op": ">=", "value": 7}]}, "dev"),
    ({"any": [RISK, {"field": "streak_at_risk"}]}, "ada dev finn"),
    ({"not": RISK}, "ben cleo eve finn"),
    ({"not": {"any": [RISK, {"not": {"field": "timezone", "op": "=", "value": "UTC"}}]}}, "eve"),
]


@pytest.mark.parametrize(("filter_", "expected"), FIELD_CASES)
def test_each_field_selects_the_right_learners(town, filter_, expected):
    filter_validate(filter_)

    found = audience_users(filter=filter_, now=NOW).order_by("pk").values_list("email", flat=True)

    assert {email.split("@")[0] for email in found} == set(expected.split())


def test_the_preview_counts_and_shows_the_first_learners(town, django_assert_max_num_queries):
    filter_ = {"any": [RISK, {"field": "streak_at_risk"}]}

    with django_assert_max_num_queries(4):  # the current run and the count; again the sample
        count = audience_count(filter=filter_, now=NOW)
        sample = audience_preview(filter=filter_, now=NOW, limit=2)

    assert count == 3
    ada, dev = town["ada"], town["dev"]
    assert sample == [
        {
            "id": ada.pk,
            "external_id": ada.external_id,
            "name": "Ada",
            "email": "ada@example.com",
            "timezone": "UTC",
            "risk": 75,
        },
        {
            "id": dev.pk,
            "external_id": dev.external_id,
            "name": "Dev",
            "email": "dev@example.com",
            "timezone": "Europe/Berlin",
            "risk": 60,
        },
    ]


def test_the_audience_is_one_query(town, django_assert_num_queries):
    every_field = {
        "any": [
            {"field": name, "op": FIELDS[name]["ops"][0], "value": _any_value(name)}
            | _parameters(name)
            for name in FIELDS
        ]
    }
    users = audience_users(filter=every_field, now=NOW)  # finds the current run

    with django_assert_num_queries(1):
        assert len(list(users.values("pk"))) == 6


def _any_value(name: str) -> Any:
    spec = FIELDS[name]
    return {
        "number": 1,
        "days": 1,
        "text": "UTC",
        "boolean": True,
        "choice": (spec.get("choices") or ["c1"])[0],
        "week": MONDAY,
    }[spec["type"]]


def _parameters(name: str) -> dict[str, Any]:
    return {
        "signal": {"name": "recency_days"},
        "received": {"campaign": CAMPAIGN_A},
        "opened": {"template": "nudge"},
        "clicked": {"campaign": CAMPAIGN_A, "template": "nudge"},
        "streak_in_two_weeks": {"week": MONDAY},
    }.get(name, {})


def test_an_invalid_filter_is_refused_not_run(db):
    with pytest.raises(DomainValidationError) as caught:
        audience_users(filter={"all": [{"field": "rsik"}]}, now=NOW)

    assert list(caught.value.fields) == ["all[0].field"]


# --- the SQL agrees with the plain-Python meaning (hypothesis) --------------------------------

TIMEZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]
COURSES = {"k1": 4, "k2": 2, "k3": 0}  # external id -> lessons
DAYS_AGO = [None, 0.04, 0.9, 1.1, 6.9, 7.0, 7.2, 29.5, 30.5, 45]
RISKS = [0, 30, 59, 60, 61, 85, 100]


def _population(rng: random.Random) -> list[dict[str, Any]]:
    """Learners as plain data: what is stored for each, from which their facts follow."""
    people = []
    for i in range(36):
        courses = {
            c: {
                "status": rng.choice(Enrollment.Status.values),
                "done": rng.randint(0, n),
            }
            for c, n in COURSES.items()
            if rng.random() < 0.45
        }
        scored = rng.random() < 0.75
        scores = (
            {
                c: (
                    rng.choice(RISKS),
                    rng.choice(EngagementScore.Level.values),
                    [rng.choice([0, 1, 7, 12.5]) for _ in SIGNALS],
                )
                for c in (courses if courses else ["k1"])
            }
            if scored
            else {}
        )
        deliveries = [
            {
                "campaign": rng.choice([None, 1, 2]),
                "template": rng.choice(["t1", "t2"]),
                "sent_days": rng.choice([None, 0.5, 3, 8, 40]),
                "opened": rng.random() < 0.5,
                "clicked": rng.random() < 0.3,
            }
            for _ in range(rng.randint(0, 2))
        ]
        people.append(
            {
                "email": f"p{i}@example.com",
                "timezone": rng.choice(TIMEZONES),
                "joined_days": rng.choice([0.5, 3, 8, 31, 100]),
                "last_event_days": rng.choice([*DAYS_AGO, -0.1]),
                "courses": courses,
                "scores": scores,
                "profile": (
                    rng.choice([0, 10, 250, 1000]),
                    rng.randint(1, 5),
                    rng.choice(["bronze", "silver", "gold"]),
                )
                if rng.random() < 0.7
                else None,
                "streak": (rng.randint(-4, 1), rng.randint(1, 9)) if rng.random() < 0.7 else None,
                "freezes": rng.choice([0, 0, 1, 2]),
                "deliveries": deliveries,
            }
        )
    return people


def _monday(at: datetime.datetime, tz: str) -> str:
    """The Monday of the learner-local week of `at`, as the language writes weeks."""
    day = at.astimezone(ZoneInfo(tz)).date()
    return (day - datetime.timedelta(days=day.weekday())).isoformat()


def _build(people: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Store the population; return each learner's facts (filters module docstring)."""
    lesson_ids: dict[str, list[Any]] = {}
    for external_id, n in COURSES.items():
        course = CourseFactory(external_id=external_id)
        lesson_ids[external_id] = [LessonFactory(course=course) for _ in range(n)]
    courses = {c.external_id: c for c in Course.objects.all()}
    templates = {slug: MessageTemplateFactory(slug=slug) for slug in ("t1", "t2")}
    run = make_run(NOW.date() - DAY)
    run.signal_names = SIGNALS
    run.save(update_fields=["signal_names"])
    facts: dict[int, dict[str, Any]] = {}
    for person in people:
        user = UserFactory(
            email=person["email"],
            timezone=person["timezone"],
            date_joined=NOW - person["joined_days"] * DAY,
        )
        last = NOW - person["joined_days"] * DAY
        if person["last_event_days"] is not None:
            last = NOW - person["last_event_days"] * DAY
            _event(user, last)
            _event(user, last - 3 * DAY)
        learner_courses = {}
        first_weeks = {}
        for external_id, enrolment in person["courses"].items():
            enrolled_at = NOW - ((len(facts) * 5 + int(external_id[1:]) * 3) % 40 + 0.3) * DAY
            EnrollmentFactory(
                user=user,
                course=courses[external_id],
                status=enrolment["status"],
                enrolled_at=enrolled_at,
            )
            first_weeks[external_id] = _monday(enrolled_at, user.timezone)
            for lesson in lesson_ids[external_id][: enrolment["done"]]:
                LessonProgressFactory(user=user, lesson=lesson, completed=True, at=NOW - DAY)
            total = COURSES[external_id]
            learner_courses[external_id] = {
                "status": enrolment["status"],
                "progress": enrolment["done"] * 100.0 / total if total else None,
            }
        top = None
        for external_id, (risk, level, signals) in sorted(
            person["scores"].items(), key=lambda item: courses[item[0]].pk
        ):
            made = make_score(run, user, risk, level=level, course=courses[external_id])
            EngagementScore.objects.filter(pk=made.pk).update(signals=signals)
            if top is None or risk > top[0]:
                top = (risk, level, signals)
        if person["profile"]:
            xp, level, league = person["profile"]
            LearnerGameProfile.objects.create(
                user=user, total_xp=xp, level=level, league_tier=league
            )
        if person["streak"]:
            offset, length = person["streak"]
            today = NOW.astimezone(user.tz).date()
            _streak(user, today + offset * DAY, length)
        if person["freezes"]:
            reward_grant(
                user_id=user.pk,
                reward_code="streak_freeze",
                quantity=person["freezes"],
                source="staff",
                idempotency_key=f"f{user.pk}",
                record_moment=False,
            )
        sent_times = []
        for k, d in enumerate(person["deliveries"]):
            source = f"campaign:{d['campaign']}:run:{k}" if d["campaign"] else f"manual:{k}"
            sent_at = NOW - d["sent_days"] * DAY if d["sent_days"] is not None else None
            sent = sent_at is not None
            Delivery.objects.create(
                user=user,
                template=templates[d["template"]],
                channel="email",
                source=source,
                sent_at=sent_at,
                opened_at=sent_at if sent and d["opened"] else None,
                clicked_at=sent_at if sent and d["clicked"] else None,
            )
            if sent:
                sent_times.append(sent_at)
        facts[user.pk] = {
            "risk": top[0] if top else None,
            "risk_level": top[1] if top else None,
            "signals": dict(zip(SIGNALS, top[2], strict=True)) if top else {},
            "days_inactive": max(0, (NOW - last) // DAY),
            "days_since_signup": max(0, (NOW - user.date_joined) // DAY),
            "days_since_last_message": max(0, (NOW - max(sent_times)) // DAY)
            if sent_times
            else None,
            "courses": learner_courses,
            "xp": person["profile"][0] if person["profile"] else 0,
            "level": person["profile"][1] if person["profile"] else 1,
            "league": person["profile"][2] if person["profile"] else "bronze",
            "timezone": user.timezone,
            "role": user.role,
            "learner": user.pk,
            "signup_week": _monday(user.date_joined, user.timezone),
            "first_enrollment_weeks": first_weeks,
            "streak_days": {
                d.isoformat(): n
                for d, n in StreakDay.objects.filter(user=user).values_list("date", "run_length")
            },
            "deliveries": [
                {
                    "campaign": d["campaign"],
                    "template": d["template"],
                    "sent": d["sent_days"] is not None,
                    "opened": d["sent_days"] is not None and d["opened"],
                    "clicked": d["sent_days"] is not None and d["clicked"],
                }
                for d in person["deliveries"]
            ],
        }
    # Streaks as gamification itself reads them (its one definition, freezes included).
    for user_id, state in streak_states(user_ids=list(facts), now=NOW).items():
        facts[user_id]["streak"] = state.current
        facts[user_id]["streak_at_risk"] = state.at_risk_today
    InstructorFactory()  # never in an audience
    return facts


POPULATION_IDS: list[int] = []


def _leaves() -> st.SearchStrategy[dict[str, Any]]:
    numbers = {
        "risk": st.sampled_from([*RISKS, 45.5, 59.5, 60.0, 60.5]),
        "signal": st.sampled_from([0, 1, 7, 12.5, 3]),
        "progress": st.sampled_from([0, 25, 50, 100, 33.3, 200 / 3]),
        "xp": st.sampled_from([0, 10, 250, 1000, 5, 249.5]),
        "level": st.sampled_from([0, 1, 2, 3, 4, 5, 6, 2.5]),
        "streak": st.integers(0, 9),
        "streak_in_two_weeks": st.integers(0, 9),
        # The population's ids are known once it is built (POPULATION_IDS), not here.
        "learner": st.integers(0, 99).map(
            lambda i: POPULATION_IDS[i % len(POPULATION_IDS)] if POPULATION_IDS else i
        ),
    }
    days = st.sampled_from([0, 1, 2, 3, 7, 8, 29, 30, 31, 40, 45, 100])
    texts = st.sampled_from([*TIMEZONES, "Europe", "pacific", "a", "Asia/Tok", "Mars/Base"])

    def leaf(field: str) -> st.SearchStrategy[dict[str, Any]]:
        spec = FIELDS[field]
        params: st.SearchStrategy[dict[str, Any]] = st.just({})
        if field == "signal":
            params = st.fixed_dictionaries({"name": st.sampled_from([*SIGNALS, "sessions_7d"])})
        elif field == "streak_in_two_weeks":
            params = st.fixed_dictionaries({"week": st.sampled_from(WEEKS)})
        elif field in ("progress", "enrollment_status", "first_enrollment_week"):
            params = st.one_of(
                st.just({}), st.fixed_dictionaries({"course": st.sampled_from(list(COURSES))})
            )
        elif field in ("received", "opened", "clicked"):
            params = st.one_of(
                st.fixed_dictionaries({"campaign": st.sampled_from([1, 2, 3])}),
                st.fixed_dictionaries({"template": st.sampled_from(["t1", "t2"])}),
                st.fixed_dictionaries(
                    {"campaign": st.sampled_from([1, 2]), "template": st.sampled_from(["t1", "t2"])}
                ),
            )
        if spec["type"] == "number":
            value = numbers[field]
        elif spec["type"] == "days":
            value = days
        elif spec["type"] == "text":
            value = texts
        elif spec["type"] == "boolean":
            value = st.booleans()
        elif spec["type"] == "week":
            value = st.sampled_from(WEEKS)
        else:
            value = st.sampled_from(spec.get("choices") or [*list(COURSES), "k9"])

        def make(op: str, param: dict[str, Any], scalar: Any, many: list[Any], flag: bool):
            node = {"field": field, "op": op, **param}
            if op == "is_set" or spec["type"] == "boolean":
                node["value"] = flag
            elif op in ("in", "not_in"):
                node["value"] = many
            else:
                node["value"] = scalar
            return node

        return st.builds(
            make,
            st.sampled_from(spec["ops"]),
            params,
            value,
            st.lists(value, min_size=1, max_size=3),
            st.booleans(),
        )

    return st.one_of([leaf(field) for field in FIELDS])


FILTERS = st.recursive(
    _leaves(),
    lambda children: st.one_of(
        st.fixed_dictionaries({"all": st.lists(children, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"any": st.lists(children, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"not": children}),
    ),
    max_leaves=6,
)


@pytest.mark.django_db
def test_the_sql_agrees_with_the_plain_python_meaning():
    facts = _build(_population(random.Random(11)))
    POPULATION_IDS[:] = sorted(facts)

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(FILTERS)
    def agree(filter_: dict[str, Any]) -> None:
        assert filter_errors(filter_, check_references=False) == {}
        expected = {pk for pk, fact in facts.items() if filter_evaluate(filter_, fact)}
        found = set(audience_users(filter=filter_, now=NOW).values_list("pk", flat=True))
        assert found == expected, filter_

    agree()
    # The population tells the fields apart: each comparison selects some learners, not all.
    for leaf in (
        RISK,
        {"field": "signup_week", "op": "=", "value": "2026-06-08"},
        {"field": "first_enrollment_week", "op": "=", "value": "2026-06-08"},
        {"field": "first_enrollment_week", "course": "k2", "op": "in", "value": WEEKS[:4]},
        {"field": "streak_in_two_weeks", "week": "2026-06-08", "op": ">=", "value": 3},
        {"field": "streak_at_risk"},
        {"field": "days_inactive", "op": ">=", "value": 7},
    ):
        selected = sum(filter_evaluate(leaf, fact) for fact in facts.values())
        assert 0 < selected < len(facts), leaf


# --- weeks and the streak of two weeks (the analytics cohorts saved as segments) -------------


@pytest.mark.django_db
def test_weeks_are_the_learners_own_and_a_first_enrolment_is_the_earliest():
    # Sunday 14 June 20:00 UTC is Monday 15 June in Tokyo, still Sunday in New York.
    sunday_evening = datetime.datetime(2026, 6, 14, 20, tzinfo=datetime.UTC)
    tokyo = UserFactory(timezone="Asia/Tokyo", date_joined=sunday_evening)
    ny = UserFactory(timezone="America/New_York", date_joined=sunday_evening)
    course, other = CourseFactory(external_id="k1"), CourseFactory(external_id="k2")
    EnrollmentFactory(user=tokyo, course=course, enrolled_at=sunday_evening)
    EnrollmentFactory(user=ny, course=course, enrolled_at=sunday_evening)
    EnrollmentFactory(user=ny, course=other, enrolled_at=sunday_evening - 9 * DAY)
    _streak(tokyo, datetime.date(2026, 6, 21), 7)
    _streak(ny, datetime.date(2026, 6, 29), 7)  # the 15th day from 15 June

    def selected(filter_: dict[str, Any]) -> set[str]:
        filter_validate(filter_)
        users = audience_users(filter=filter_, now=NOW)
        return {u.timezone for u in users}

    assert selected({"field": "signup_week", "op": "=", "value": "2026-06-15"}) == {"Asia/Tokyo"}
    assert selected({"field": "signup_week", "op": "=", "value": "2026-06-08"}) == {
        "America/New_York"
    }
    week = {"field": "first_enrollment_week", "op": "=", "value": "2026-06-08"}
    # ny's first enrolment (in k2) was the week before.
    assert selected(week) == set()
    assert selected({**week, "course": "k1"}) == {"America/New_York"}
    assert selected({**week, "op": "!="}) == {"Asia/Tokyo", "America/New_York"}
    streak = {"field": "streak_in_two_weeks", "week": "2026-06-15", "op": ">=", "value": 7}
    assert selected(streak) == {"Asia/Tokyo"}
    assert selected({"not": streak}) == {"America/New_York"}


@pytest.mark.parametrize(
    ("filter_", "path", "message"),
    [
        ({"field": "signup_week", "op": "=", "value": "2026-06-16"}, "value", "Give a Monday"),
        ({"field": "signup_week", "op": "=", "value": "15/06/2026"}, "value", "Give a Monday"),
        ({"field": "signup_week", "op": ">", "value": "2026-06-15"}, "op", "not defined"),
        ({"field": "streak_in_two_weeks", "op": ">=", "value": 7}, "week", 'Give "week"'),
        (
            {"field": "streak_in_two_weeks", "week": "2026-6-15", "op": ">=", "value": 7},
            "week",
            "Give a Monday",
        ),
    ],
)
def test_weeks_must_be_mondays(filter_, path, message):
    errors = filter_errors(filter_, check_references=False)
    assert list(errors) == [path]
    assert message in errors[path]


# --- learners by id (the analytics cohorts saved as segments) --------------------------------


@pytest.mark.django_db
def test_learner_ids_select_exactly_those_active_students():
    ada, ben, cleo = UserFactory(), UserFactory(), UserFactory()
    gone = UserFactory(is_active=False)
    teacher = InstructorFactory()
    ids = [ada.pk, cleo.pk, gone.pk, teacher.pk]

    def selected(filter_: dict[str, Any]) -> set[int]:
        filter_validate(filter_)
        return set(audience_users(filter=filter_, now=NOW).values_list("pk", flat=True))

    assert selected({"field": "learner", "op": "in", "value": ids}) == {ada.pk, cleo.pk}
    assert selected({"field": "learner", "op": "=", "value": ben.pk}) == {ben.pk}
    assert selected({"field": "learner", "op": "not_in", "value": ids}) == {ben.pk}
    assert filter_errors({"field": "learner", "op": "in", "value": ["x"]}) == {
        "value[0]": "Give a number."
    }
