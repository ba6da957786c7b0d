"""Risk-triggered interventions: after a scoring run, the rules queue messages or create
outreach tasks, once per run and learner, within their cooldown."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from engagement.models import EngagementScore
from interventions.models import Delivery, OutreachTask, Rule
from interventions.services.rules import rules_apply_to_run
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_run, make_score
from tests.interventions.factories import default_template
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db


def recommend(score: EngagementScore, *codes: str) -> None:
    score.recommendations = [{"code": c, "label": c, "reason": "test"} for c in codes]
    score.save(update_fields=["recommendations"])


@pytest.fixture
def run():
    course, other = CourseFactory(title="Python"), CourseFactory(title="SQL")
    run = make_run(timezone.localdate())
    slipping, critical, fine = UserFactory(), UserFactory(), UserFactory()
    recommend(make_score(run, slipping, 55, course=course), "gentle_reminder")
    recommend(make_score(run, slipping, 45, course=other), "gentle_reminder")
    recommend(make_score(run, critical, 91, course=course), "human_outreach", "gentle_reminder")
    recommend(make_score(run, fine, 10, course=course), "achievement_notification")
    run.people = {"slipping": slipping, "critical": critical, "fine": fine, "course": course}
    return run


def test_a_reminder_rule_queues_one_message_per_learner_about_their_riskiest_course(run):
    rule = Rule.objects.create(
        holdout_percent=0,  # counts every learner: no holdout (test_holdouts)
        name="Remind",
        levels=["medium", "high"],
        intervention_type="gentle_reminder",
        template=default_template("gentle-reminder"),
    )
    assert rules_apply_to_run(run) == {rule.pk: 1}
    (delivery,) = Delivery.objects.all()
    assert delivery.user == run.people["slipping"] and delivery.course == run.people["course"]
    # The handler running again (a retried task) or the next run within the cooldown: nothing.
    assert rules_apply_to_run(run) == {rule.pk: 0}
    later = make_run(timezone.localdate() + datetime.timedelta(days=1))
    recommend(make_score(later, run.people["slipping"], 60), "gentle_reminder")
    assert rules_apply_to_run(later) == {rule.pk: 0}
    assert Delivery.objects.count() == 1


def test_critical_human_outreach_becomes_a_task_for_staff_not_a_message(run):
    rule = Rule.objects.create(
        holdout_percent=0,  # counts every learner: no holdout (test_holdouts)
        name="Call",
        levels=["critical"],
        intervention_type="human_outreach",
        creates_outreach_task=True,
    )
    assert rules_apply_to_run(run) == {rule.pk: 1}
    task = OutreachTask.objects.get()
    assert task.user == run.people["critical"] and task.risk == 91
    assert task.due_on == timezone.localdate() + datetime.timedelta(days=2)
    assert not Delivery.objects.exists()
    assert rules_apply_to_run(run) == {rule.pk: 0}


def test_switched_off_rules_do_nothing(run):
    Rule.objects.create(
        name="Off",
        is_active=False,
        levels=["critical"],
        intervention_type="human_outreach",
        creates_outreach_task=True,
    )
    assert rules_apply_to_run(run) == {}


def test_the_dashboard_lists_open_outreach_tasks(admin_client, run):
    Rule.objects.create(
        holdout_percent=0,  # counts every learner: no holdout (test_holdouts)
        name="Call",
        levels=["critical"],
        intervention_type="human_outreach",
        creates_outreach_task=True,
    )
    rules_apply_to_run(run)
    html = admin_client.get("/dashboard/interventions/").content.decode()
    assert f'data-task="{OutreachTask.objects.get().pk}"' in html


def test_a_rule_without_template_or_task_is_refused_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/interventions/rule/add/",
        {
            "name": "Broken",
            "levels": ["high"],
            "intervention_type": "gentle_reminder",
            "cooldown_days": 7,
            "is_active": "on",
        },
    )
    assert "Choose the template to send" in response.content.decode()
    assert not Rule.objects.filter(name="Broken").exists()


def test_at_critical_risk_the_message_also_goes_out_on_the_urgent_channels(run, push_service):
    from interventions.models import PushSubscription
    from interventions.services.contacts import sms_contact_set

    critical, slipping = run.people["critical"], run.people["slipping"]
    for person in (critical, slipping):
        sub = push_service.subscriber()
        PushSubscription.objects.create(
            user=person, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth_b64
        )
        sms_contact_set(user_id=person.pk, number="+447700900123", consent=True)
    rule = Rule.objects.create(
        holdout_percent=0,  # counts every learner: no holdout (test_holdouts)
        name="Remind, louder when critical",
        levels=["medium", "high", "critical"],
        intervention_type="gentle_reminder",
        template=default_template("gentle-reminder"),
        urgent_channels=["push", "sms"],
    )
    assert rules_apply_to_run(run) == {rule.pk: 2}
    channels = {(d.user_id, d.channel) for d in Delivery.objects.all()}
    assert channels == {
        (slipping.pk, "email"),
        (critical.pk, "email"),
        (critical.pk, "push"),
        (critical.pk, "sms"),
    }
    assert len(set(Delivery.objects.filter(user=critical).values_list("source", flat=True))) == 1


def test_a_rule_with_drivers_reaches_only_learners_whose_risk_those_signals_raise(run):
    slipping = run.people["slipping"]
    for score in EngagementScore.objects.filter(user=slipping):
        score.drivers = [
            {"signal": "days_since_last_activity", "contribution": 12.0},
            {"signal": "quiz_pass_rate", "contribution": -3.0},
        ]
        score.save(update_fields=["drivers"])
    template = default_template("gentle-reminder")
    inactive = Rule.objects.create(
        holdout_percent=0,  # counts every learner: no holdout (test_holdouts)
        name="Gone quiet",
        levels=["medium", "high", "critical"],
        intervention_type="gentle_reminder",
        template=template,
        drivers=["days_since_last_activity"],
    )
    quizzes = Rule.objects.create(
        holdout_percent=0,  # counts every learner: no holdout (test_holdouts)
        name="Quizzes",
        levels=["medium", "high", "critical"],
        intervention_type="gentle_reminder",
        template=template,
        drivers=["quiz_pass_rate"],  # it lowers this learner's risk: not a reason to write
    )
    assert rules_apply_to_run(run) == {inactive.pk: 1, quizzes.pk: 0}
    assert list(Delivery.objects.values_list("user_id", flat=True)) == [slipping.pk]


def test_a_moment_rule_sends_on_the_moment_once_a_day_per_learner(run):
    from core.records import MomentRecord
    from interventions.services.rules import moments_to_rules

    critical, fine = run.people["critical"], run.people["fine"]
    rule = Rule.objects.create(
        holdout_percent=0,  # counts every learner: no holdout (test_holdouts)
        name="Streak about to break",
        trigger="moment",
        moment_kinds=["streak_at_risk"],
        intervention_type="streak_warning",
        template=default_template("streak-warning"),
        channel="in_app",
        cooldown_days=0,
    )
    now = timezone.now()

    def moment(n, user, kind="streak_at_risk"):
        return MomentRecord(n, user.pk, kind, "Streak at risk", "", {}, f"k{n}", now)

    first = [moment(1, critical), moment(2, fine), moment(3, fine, "level_up")]
    assert moments_to_rules(first) == 2
    assert moments_to_rules([moment(4, critical)]) == 0  # the same day again: nothing more
    assert set(Delivery.objects.values_list("user_id", "channel")) == {
        (critical.pk, "in_app"),
        (fine.pk, "in_app"),
    }
    # A level filter keeps the rule to learners at that risk now.
    rule.levels = ["critical"]
    rule.save()
    Delivery.objects.all().delete()
    assert moments_to_rules([moment(5, critical), moment(6, fine)]) == 1
