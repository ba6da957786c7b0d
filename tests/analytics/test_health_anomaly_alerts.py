"""A new anomaly is told to staff once, by email, however often the nightly run repeats."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from accounts.models import User
from analytics.models import Anomaly, DailyAggregate
from analytics.services.nightly import analytics_derive
from tests.accounts.factories import UserFactory
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
END = datetime.date(2026, 11, 30)
SPIKE = END - 2 * DAY


def plant(course=None, *, spike: bool = True) -> None:
    """70 days of weekday-shaped DAU with +100 on SPIKE, as the nightly refresh stores them."""
    for back in range(70):
        day = END - back * DAY
        dau = 50 + (30 if day.weekday() == 0 else 0) + (back % 3)
        if spike and day == SPIKE:
            dau += 100
        DailyAggregate.objects.create(day=day, course=course, dau=dau, wau=200, mau=400, events=500)


@pytest.fixture
def people(settings):
    settings.STRIDE_SITE_URL = "https://stride.example.com"
    return {
        "staff": UserFactory(email="ops@example.com", is_staff=True, role=User.Role.ADMIN),
        "student": UserFactory(email="learner@example.com"),
        "other_instructor": UserFactory(email="other@example.com", role=User.Role.INSTRUCTOR),
        "former_staff": UserFactory(email="gone@example.com", is_staff=True, is_active=False),
    }


def test_a_planted_spike_is_told_to_staff_exactly_once_across_two_runs(people):
    CourseFactory(instructor=people["other_instructor"])  # a course without the anomaly
    plant()

    first = analytics_derive()
    second = analytics_derive()

    assert (first.anomalies, first.alerted) == (1, 1)
    assert (second.anomalies, second.alerted) == (1, 0)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com"]
    assert message.subject == "Stride analytics: Daily active learners anomaly on 28 Nov 2026"
    assert (
        "Daily active learners, the platform, Sat 28 Nov 2026: 152 against a baseline of 50.5"
        in (message.body)
    )
    assert (
        "https://stride.example.com/dashboard/analytics/trends/"
        "?range=custom&from=2026-11-01&to=2026-11-28&metric=dau"
    ) in message.body
    assert Anomaly.objects.get().notified_at is not None


def test_a_course_anomaly_reaches_staff_and_its_own_instructor_only(people):
    own = UserFactory(email="teacher@example.com", role=User.Role.INSTRUCTOR)
    course = CourseFactory(instructor=own, title="Algebra I", external_id="algebra-1")
    CourseFactory(instructor=people["other_instructor"])
    plant(spike=False)
    plant(course)

    assert analytics_derive().alerted == 1
    analytics_derive()

    assert sorted(m.to[0] for m in mail.outbox) == ["ops@example.com", "teacher@example.com"]
    body = mail.outbox[0].body
    assert "course Algebra I, Sat 28 Nov 2026" in body
    assert "&course=algebra-1" in body


def test_no_anomaly_no_message(people):
    plant(spike=False)
    assert analytics_derive().alerted == 0
    assert mail.outbox == []


def test_several_new_anomalies_make_one_message_per_person(people):
    plant()
    plant(CourseFactory(title="Geometry"))

    assert analytics_derive().alerted == 2

    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Stride analytics: 2 new anomalies"
    assert "the platform" in mail.outbox[0].body and "course Geometry" in mail.outbox[0].body


def test_a_message_that_cannot_be_sent_fails_the_run_and_is_not_sent_twice(people, settings):
    # A real SMTP client against a port where nothing listens: the connection is refused.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    plant()

    with pytest.raises(OSError):
        analytics_derive()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert analytics_derive().alerted == 0

    # Recorded before sending: at most once, and the failed run shows on the health page.
    assert mail.outbox == []
    assert Anomaly.objects.get().notified_at is not None
