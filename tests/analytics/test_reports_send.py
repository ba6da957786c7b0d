"""Sending the staff reports: only to opted-in active staff, once per person and period however
often (or however concurrently) the task runs, a failure recorded and retried."""

from __future__ import annotations

import datetime
import smtplib
import threading

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from analytics.models import DailyAggregate, ReportKind, ReportSend, ReportSubscription
from analytics.services.reports import (
    MAX_ATTEMPTS,
    STALE_CLAIM,
    report_subscription_set,
    reports_send,
)
from analytics.tasks import send_reports
from core.errors import DomainValidationError
from tests.accounts.factories import AdminFactory, InstructorFactory, UserFactory
from tests.locks import needs_postgresql

pytestmark = pytest.mark.django_db

DAILY, WEEKLY = ReportKind.DAILY_SUMMARY, ReportKind.WEEKLY_GROWTH
NOW = datetime.datetime(2026, 12, 2, 7, tzinfo=datetime.UTC)
REPORTED = datetime.date(2026, 12, 1)


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that refuses every message (the transport failing, not our code)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"x": (550, b"mailbox unavailable")})


@pytest.fixture(autouse=True)
def site(settings):
    settings.STRIDE_SITE_URL = "https://stride.example.com"
    DailyAggregate.objects.create(day=REPORTED, dau=42, enrollments=7)


def subscribed(email: str, *kinds: str, **fields) -> User:
    user = AdminFactory(email=email, **fields)
    for kind in kinds:
        report_subscription_set(user=user, kind=kind, active=True)
    return user


def test_only_opted_in_active_staff_get_the_report():
    subscribed("ada@example.com", DAILY)
    subscribed("both@example.com", DAILY, WEEKLY)
    subscribed("weekly@example.com", WEEKLY)
    off = subscribed("off@example.com", DAILY)
    report_subscription_set(user=off, kind=DAILY, active=False)
    left = subscribed("left@example.com", DAILY)
    User.objects.filter(pk=left.pk).update(is_active=False)
    demoted = subscribed("demoted@example.com", DAILY)
    User.objects.filter(pk=demoted.pk).update(is_staff=False)
    AdminFactory(email="never@example.com")

    outcome = reports_send(DAILY, now=NOW)

    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "both@example.com"]
    assert (outcome.period, outcome.sent, outcome.failed) == (REPORTED, 2, 0)
    message = mail.outbox[0]
    assert message.subject == "Stride daily summary: Tue 01 Dec 2026"
    html = message.alternatives[0]
    assert html[1] == "text/html"
    assert ">42<" in html[0] and "Active learners: 42" in message.body
    assert message.extra_headers["Message-ID"].startswith("<report-")
    sends = ReportSend.objects.order_by("to")
    assert [(s.to, s.status, s.period, s.attempts) for s in sends] == [
        ("ada@example.com", "sent", REPORTED, 1),
        ("both@example.com", "sent", REPORTED, 1),
    ]
    assert all(s.sent_at is not None for s in sends)


def test_a_student_or_an_instructor_cannot_subscribe():
    for user in (UserFactory(), InstructorFactory()):
        with pytest.raises(DomainValidationError) as refused:
            report_subscription_set(user=user, kind=DAILY, active=True)
        assert refused.value.fields == {
            "user": ["Only active staff can subscribe to staff reports."]
        }
    assert not ReportSubscription.objects.exists()


def test_an_unknown_kind_is_refused_naming_the_field():
    with pytest.raises(DomainValidationError) as refused:
        report_subscription_set(user=AdminFactory(), kind="hourly", active=True)
    assert refused.value.fields == {
        "kind": ['"hourly" is not a valid choice. Choose one of: daily_summary, weekly_growth.']
    }


def test_subscribing_twice_keeps_one_row_and_switching_off_keeps_the_choice():
    staff = AdminFactory()
    report_subscription_set(user=staff, kind=DAILY, active=True)
    report_subscription_set(user=staff, kind=DAILY, active=True)
    report_subscription_set(user=staff, kind=DAILY, active=False)
    assert list(ReportSubscription.objects.values_list("kind", "is_active")) == [(DAILY, False)]


def test_the_task_run_twice_sends_each_report_once(eager):
    subscribed("ada@example.com", DAILY)

    first = send_reports.delay(DAILY).get()
    second = send_reports.delay(DAILY).get()

    assert (first, second) == (1, 0)
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert ReportSend.objects.get().status == ReportSend.Status.SENT


def test_the_database_keeps_one_send_per_kind_person_and_period():
    ada = subscribed("ada@example.com", DAILY)
    ReportSend.objects.create(kind=DAILY, user=ada, period=REPORTED)
    ReportSend.objects.create(kind=WEEKLY, user=ada, period=REPORTED)  # another kind: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportSend.objects.create(kind=DAILY, user=ada, period=REPORTED)


def test_a_send_another_worker_has_claimed_is_left_to_it_until_the_claim_is_stale():
    ada = subscribed("ada@example.com", DAILY)
    ReportSend.objects.create(
        kind=DAILY, user=ada, period=REPORTED, status=ReportSend.Status.SENDING, claimed_at=NOW
    )

    assert reports_send(DAILY, now=NOW).sent == 0
    assert mail.outbox == []

    later = NOW + STALE_CLAIM + datetime.timedelta(minutes=1)  # that worker died mid-send
    assert reports_send(DAILY, now=later, period=REPORTED).sent == 1
    assert len(mail.outbox) == 1


def test_a_failed_send_is_recorded_and_retried_by_the_next_run(settings):
    subscribed("ada@example.com", DAILY)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"

    failed = reports_send(DAILY, now=NOW)

    send = ReportSend.objects.get()
    assert (failed.sent, failed.failed) == (0, 1)
    assert send.status == ReportSend.Status.FAILED
    assert send.error.startswith("SMTPRecipientsRefused")
    assert send.sent_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The next morning's run sends the new day's summary and retries yesterday's.
    retried = reports_send(DAILY, now=NOW + datetime.timedelta(days=1))

    assert (retried.sent, retried.failed) == (2, 0)
    assert sorted(m.subject for m in mail.outbox) == [
        "Stride daily summary: Tue 01 Dec 2026",
        "Stride daily summary: Wed 02 Dec 2026",
    ]
    send.refresh_from_db()
    assert (send.status, send.attempts, send.error) == ("sent", 2, "")


def test_a_send_that_keeps_failing_is_given_up_after_the_last_attempt(settings):
    subscribed("ada@example.com", DAILY)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    for _ in range(MAX_ATTEMPTS + 1):
        reports_send(DAILY, now=NOW)
    assert ReportSend.objects.get().attempts == MAX_ATTEMPTS


def test_the_anymail_backend_records_the_providers_message_id(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    subscribed("ada@example.com", DAILY)

    reports_send(DAILY, now=NOW)

    (message,) = mail.outbox
    assert message.anymail_status.status == {"sent"}
    assert ReportSend.objects.get().message_id == str(message.anymail_status.message_id)


def test_a_dry_run_lists_the_recipients_and_records_and_sends_nothing():
    subscribed("ada@example.com", DAILY)
    outcome = reports_send(DAILY, now=NOW, dry_run=True)
    assert (outcome.recipients, outcome.dry_run) == (["ada@example.com"], True)
    assert mail.outbox == []
    assert not ReportSend.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_report_once():
    needs_postgresql()
    for n in range(5):
        subscribed(f"staff{n}@example.com", DAILY)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            reports_send(DAILY, now=NOW)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(m.to[0] for m in mail.outbox) == [f"staff{n}@example.com" for n in range(5)]
    assert ReportSend.objects.filter(status="sent").count() == 5


def test_a_failed_send_is_not_retried_once_its_owner_has_unsubscribed(settings):
    ada = subscribed("ada@example.com", DAILY)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    reports_send(DAILY, now=NOW)
    report_subscription_set(user=ada, kind=DAILY, active=False)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    assert reports_send(DAILY, now=NOW).sent == 0
    assert mail.outbox == []
    assert ReportSend.objects.get().status == ReportSend.Status.FAILED


class UnreachableBackend(BaseEmailBackend):
    """An SMTP server that cannot be reached: the connection fails to open."""

    def open(self):
        raise ConnectionRefusedError(111, "Connection refused")

    def send_messages(self, email_messages):
        raise AssertionError("never reached")


def test_an_unreachable_mail_server_fails_every_claimed_send_for_the_next_run(settings):
    subscribed("ada@example.com", DAILY)
    subscribed("bob@example.com", DAILY)
    settings.EMAIL_BACKEND = f"{__name__}.UnreachableBackend"

    outcome = reports_send(DAILY, now=NOW)

    assert (outcome.sent, outcome.failed) == (0, 2)
    assert set(ReportSend.objects.values_list("status", flat=True)) == {"failed"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert reports_send(DAILY, now=NOW).sent == 2


def test_the_task_retries_a_failing_send_until_its_last_attempt(eager, settings):
    subscribed("ada@example.com", DAILY)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"

    send_reports.delay(DAILY)

    send = ReportSend.objects.get()
    assert (send.status, send.attempts) == ("failed", MAX_ATTEMPTS)
    assert mail.outbox == []
