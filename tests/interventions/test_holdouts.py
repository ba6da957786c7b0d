"""Holdouts: a share of the learners a rule or campaign would contact is deliberately left
alone, the same learners every time for one scope, recorded once, never contacted, and
counted apart from the skipped, so that the effectiveness report can compare the two arms."""

from __future__ import annotations

import datetime
import math

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from core.api import exception_handler
from core.errors import DomainValidationError
from engagement.models import EngagementScore
from interventions.models import ChannelOptOut, Delivery, Holdout, OutreachTask, Rule
from interventions.selectors.holdouts import (
    holdout_counts,
    holdout_draw,
    holdout_user_ids,
    holdouts_of,
)
from interventions.services.deliveries import Skip, deliveries_queue, deliveries_send_due
from interventions.services.rules import rules_apply_to_run
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_run, make_score
from tests.interventions.factories import MessageTemplateFactory, default_template
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db
NOON = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


FIRST_ID = 7_000_000


def learners(n: int, prefix: str = "h") -> list[int]:
    """`n` active learners with an email address, made in one insert. Their ids are fixed
    (from FIRST_ID), so the shares measured are the same on every run and database."""
    User.objects.bulk_create(
        User(
            pk=FIRST_ID + i,
            email=f"{prefix}{i}@example.com",
            external_id=f"{prefix}-{i}",
            role=User.Role.STUDENT,
            timezone="UTC",
        )
        for i in range(n)
    )
    return list(
        User.objects.filter(external_id__startswith=f"{prefix}-").values_list("pk", flat=True)
    )


def queue(template, user_ids, *, source="campaign:7:run:1", scope="campaign:7", share=0.1, **kw):
    return deliveries_queue(
        template=template,
        user_ids=user_ids,
        source=source,
        now=NOON,
        holdout_scope=scope,
        holdout_share=share,
        **kw,
    )


def test_about_the_requested_share_of_2000_learners_is_held_out_and_recorded():
    template = MessageTemplateFactory()
    ids = learners(2000)

    result = queue(template, ids)

    assert abs(len(result.held_out) / 2000 - 0.10) <= 0.02
    assert set(result.queued) | result.held_out == set(ids)
    assert not set(result.queued) & result.held_out
    assert not result.skipped  # held out is not skipped: callers count it apart
    assert result.new == 2000 - len(result.held_out)
    recorded = Holdout.objects.filter(scope="campaign:7", source="campaign:7:run:1")
    assert set(recorded.values_list("user_id", flat=True)) == result.held_out
    assert set(recorded.values_list("channel", flat=True)) == {"email"}
    assert set(recorded.values_list("template", flat=True)) == {template.pk}
    assert not Delivery.objects.filter(user_id__in=result.held_out).exists()


def test_a_share_of_30_percent_holds_out_about_30_percent():
    ids = learners(2000)
    result = queue(MessageTemplateFactory(), ids, share=0.3)
    assert abs(len(result.held_out) / 2000 - 0.30) <= 0.03


def test_the_same_learners_are_held_out_of_a_scope_every_time_and_others_of_another():
    template = MessageTemplateFactory(intervention_type="achievement_notification")
    ids = learners(1000)

    first = queue(template, ids, source="campaign:7:run:1")
    later = queue(template, ids, source="campaign:7:run:2")
    other = queue(template, ids, source="campaign:8:run:1", scope="campaign:8", channel="in_app")

    assert later.held_out == first.held_out
    assert other.held_out and other.held_out != first.held_out
    # Two independent draws of 10% overlap by about 1%, not by 10%.
    assert len(other.held_out & first.held_out) < 0.05 * 1000


def test_a_replay_records_nothing_twice_and_answers_the_same():
    template = MessageTemplateFactory()
    ids = learners(300)
    first = queue(template, ids)

    again = queue(template, ids)

    assert again.held_out == first.held_out
    assert again.queued == first.queued and again.new == 0
    assert not again.skipped
    assert Holdout.objects.count() == len(first.held_out)
    assert Delivery.objects.count() == 300 - len(first.held_out)


def test_held_out_learners_are_never_contacted():
    template = MessageTemplateFactory()
    ids = learners(200)
    result = queue(template, ids, share=0.25)

    sent = deliveries_send_due(now=NOON)

    emails = dict(User.objects.filter(pk__in=ids).values_list("pk", "email"))
    sent_to = {to for message in mail.outbox for to in message.to}
    assert result.held_out and sent == len(result.queued) == len(sent_to) == 200 - len(
        result.held_out
    )
    assert not sent_to & {emails[u] for u in result.held_out}


def test_only_learners_who_would_have_been_contacted_are_held_out():
    """Drawn after opt-outs and caps: a learner the message would not have reached anyway is
    skipped with the reason, never counted as held out."""
    template = MessageTemplateFactory()
    ids = learners(400)
    drawn = [u for u in ids if holdout_draw("campaign:7", u) < 0.1]
    opted, busy = drawn[0], drawn[1]
    ChannelOptOut.objects.create(user_id=opted, channel="email")
    deliveries_queue(
        template=template,
        user_ids=[busy],
        source="earlier",
        now=NOON - datetime.timedelta(hours=2),
    )

    result = queue(template, ids)

    assert result.skipped == {opted: Skip.OPTED_OUT, busy: Skip.CAPPED}
    assert result.held_out == set(drawn) - {opted, busy}


def test_a_dry_run_says_who_would_be_held_out_and_writes_nothing():
    ids = learners(300)
    result = queue(MessageTemplateFactory(), ids, dry_run=True)
    assert result.held_out and not set(result.planned) & result.held_out
    assert len(result.planned) + len(result.held_out) == 300
    assert not Holdout.objects.exists() and not Delivery.objects.exists()


def test_without_a_holdout_nobody_is_held_out():
    ids = learners(300)
    template = MessageTemplateFactory()
    assert not deliveries_queue(template=template, user_ids=ids, source="a", now=NOON).held_out
    assert not queue(template, ids, source="b", share=0).held_out
    assert not Holdout.objects.exists()


def _queries(template, ids, **kw) -> int:
    with CaptureQueriesContext(connection) as captured:
        queue(template, ids, **kw)
    return len(captured)


def test_the_holdout_costs_two_queries_whatever_the_count():
    template = MessageTemplateFactory()
    ids = learners(90)
    # Few enough rows that each insert is one statement on either database (core.bulk:
    # VALUES_MAX_ROWS on PostgreSQL, the bound on parameters on SQLite).
    without = _queries(template, ids[:20], source="campaign:7:run:1", share=0)
    few = _queries(template, ids[20:40], source="campaign:7:run:2", share=0.5)
    many = _queries(template, ids[40:], source="campaign:7:run:3", share=0.5)
    assert few == many == without + 2


@pytest.mark.parametrize("share", [-0.1, 1, 1.5, math.nan, "0.1", True])
def test_a_bad_share_is_refused_with_a_400_naming_the_field(share):
    template = MessageTemplateFactory()
    ids = learners(3)
    with pytest.raises(DomainValidationError) as caught:
        queue(template, ids, share=share)
    assert set(caught.value.fields) == {"holdout_share"}
    response = exception_handler(caught.value, {})
    assert response.status_code == 400
    assert "holdout_share" in str(response.data)
    assert not Delivery.objects.exists() and not Holdout.objects.exists()


def test_a_share_without_a_scope_is_refused():
    template = MessageTemplateFactory()
    with pytest.raises(DomainValidationError) as caught:
        queue(template, learners(3), scope=None)
    assert set(caught.value.fields) == {"holdout_scope"}


# --- rules ----------------------------------------------------------------------------------


def recommend(score: EngagementScore, *codes: str) -> None:
    score.recommendations = [{"code": c, "label": c, "reason": "test"} for c in codes]
    score.save(update_fields=["recommendations"])


def crowd_run(risk: int):
    """A scoring run in which 80 learners at `risk` are recommended a gentle reminder (and
    human outreach)."""
    course = CourseFactory(title="Python")
    run = make_run(timezone.localdate())
    people = UserFactory.create_batch(80)
    for person in people:
        recommend(make_score(run, person, risk, course=course), "gentle_reminder", "human_outreach")
    run.people = people
    run.course = course
    return run


@pytest.fixture
def crowd():
    return crowd_run(65)  # high risk


def reminder_rule(**kw) -> Rule:
    fields = {"levels": ["high"], **kw}
    return Rule.objects.create(
        name="Remind",
        intervention_type="gentle_reminder",
        template=default_template("gentle-reminder"),
        **fields,
    )


def test_a_rule_holds_out_ten_percent_by_default():
    assert Rule._meta.get_field("holdout_percent").default == 10


def test_a_rule_with_no_holdout_contacts_everyone(crowd):
    rule = reminder_rule(holdout_percent=0)
    assert rules_apply_to_run(crowd) == {rule.pk: 80}
    assert not Holdout.objects.exists()


def test_a_rules_run_records_its_held_out_learners_and_contacts_the_rest(crowd):
    rule = reminder_rule(holdout_percent=40)
    ids = {p.pk for p in crowd.people}

    reached = rules_apply_to_run(crowd)

    held = holdout_user_ids(scope=f"rule:{rule.pk}")
    contacted = set(Delivery.objects.values_list("user_id", flat=True))
    assert held and contacted and held | contacted == ids and not held & contacted
    assert reached == {rule.pk: len(contacted)}
    assert held == {u for u in ids if holdout_draw(f"rule:{rule.pk}", u) < 0.4}
    row = Holdout.objects.filter(user_id=min(held)).get()
    assert (row.source, row.channel, row.template, row.course) == (
        f"rule:{rule.pk}:run:{crowd.pk}",
        "email",
        rule.template,
        crowd.course,
    )
    counts = holdout_counts(scopes=[f"rule:{rule.pk}"])[f"rule:{rule.pk}"]
    assert (counts.contacted, counts.held_out) == (len(contacted), len(held))

    # The handler again, and the next run within the cooldown: nobody more, in either arm.
    assert rules_apply_to_run(crowd) == {rule.pk: 0}
    later = make_run(timezone.localdate() + datetime.timedelta(days=1))
    for person in crowd.people:
        recommend(make_score(later, person, 70, course=crowd.course), "gentle_reminder")
    assert rules_apply_to_run(later) == {rule.pk: 0}
    assert Holdout.objects.count() == len(held)
    assert Delivery.objects.count() == len(contacted)


def test_a_held_out_learner_at_critical_risk_gets_nothing_on_the_urgent_channels():
    from interventions.services.contacts import sms_contact_set

    crowd = crowd_run(92)
    for person in crowd.people:
        sms_contact_set(user_id=person.pk, number="+447700900123", consent=True)
    rule = reminder_rule(holdout_percent=30, levels=["critical"], urgent_channels=["sms"])

    rules_apply_to_run(crowd)

    held = holdout_user_ids(scope=f"rule:{rule.pk}")
    by_channel = {
        channel: set(Delivery.objects.filter(channel=channel).values_list("user_id", flat=True))
        for channel in ("email", "sms")
    }
    assert held and by_channel["email"] == by_channel["sms"]
    assert len(by_channel["sms"]) == 80 - len(held)
    assert not held & by_channel["sms"]
    assert Holdout.objects.filter(user_id__in=held).count() == len(held)  # once, not per channel


def test_an_outreach_rule_holds_out_learners_from_its_tasks(crowd):
    rule = Rule.objects.create(
        name="Call",
        levels=["high"],
        intervention_type="human_outreach",
        creates_outreach_task=True,
        holdout_percent=40,
    )
    rules_apply_to_run(crowd)
    held = holdout_user_ids(scope=f"rule:{rule.pk}")
    tasks = set(OutreachTask.objects.values_list("user_id", flat=True))
    assert held and tasks and held | tasks == {p.pk for p in crowd.people}
    assert not held & tasks
    assert set(Holdout.objects.values_list("channel", flat=True)) == {""}
    counts = holdout_counts(scopes=[f"rule:{rule.pk}"])[f"rule:{rule.pk}"]
    assert (counts.contacted, counts.held_out) == (len(tasks), len(held))
    assert rules_apply_to_run(crowd) == {rule.pk: 0}
    assert Holdout.objects.count() == len(held)


def test_a_rules_holdout_is_at_most_half(admin_client):
    rule = reminder_rule()
    rule.holdout_percent = 51
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert "holdout_percent" in caught.value.message_dict
    page = admin_client.get(f"/admin/interventions/rule/{rule.pk}/change/").content.decode()
    assert 'name="holdout_percent"' in page
    assert "deliberately not contacted" in page


# --- reading them back ----------------------------------------------------------------------


def test_the_counts_keep_scopes_apart_and_answer_every_scope_asked_for():
    template = MessageTemplateFactory(intervention_type="achievement_notification")
    ids = learners(400)
    one = queue(template, ids[:200], source="campaign:1:run:1", scope="campaign:1", share=0.2)
    twelve = queue(template, ids[200:], source="campaign:12:run:1", scope="campaign:12", share=0.2)

    counts = holdout_counts(scopes=["campaign:1", "campaign:12", "rule:99"])

    assert (counts["campaign:1"].contacted, counts["campaign:1"].held_out) == (
        len(one.queued),
        len(one.held_out),
    )
    assert (counts["campaign:12"].contacted, counts["campaign:12"].held_out) == (
        len(twelve.queued),
        len(twelve.held_out),
    )
    assert counts["campaign:1"].eligible == 200
    assert (counts["rule:99"].contacted, counts["rule:99"].held_out) == (0, 0)
    assert counts["rule:99"].held_out_share is None
    assert holdout_counts(scopes=[]) == {}


def test_the_counts_are_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        holdout_counts(scopes=["campaign:1", "rule:2", "rule:3"])


def test_each_held_out_learner_is_listed_once_with_when_they_were_first_held_out():
    template = MessageTemplateFactory(intervention_type="achievement_notification")
    ids = learners(300)
    first = queue(template, ids, source="campaign:7:run:1")
    deliveries_queue(
        template=template,
        user_ids=ids,
        source="campaign:7:run:2",
        now=NOON + datetime.timedelta(days=1),
        holdout_scope="campaign:7",
        holdout_share=0.1,
    )
    listed = holdouts_of(scope="campaign:7")
    assert {u for u, _ in listed} == first.held_out
    assert {when for _, when in listed} == {NOON}
    assert holdout_user_ids(scope="campaign:7", since=NOON + datetime.timedelta(hours=1)) == (
        first.held_out
    )
    assert holdout_user_ids(scope="campaign:7", until=NOON) == set()


def test_staff_read_the_holdouts_by_scope_and_cannot_change_them(admin_client):
    template = MessageTemplateFactory()
    ids = learners(200)
    queue(template, ids, share=0.2)
    queue(template, ids, source="campaign:8:run:1", scope="campaign:8", channel="in_app")
    page = admin_client.get("/admin/interventions/holdout/?scope__exact=campaign:8")
    assert page.status_code == 200
    html = page.content.decode()
    assert "campaign:8:run:1" in html and "campaign:7:run:1" not in html
    assert admin_client.get("/admin/interventions/holdout/add/").status_code == 403
