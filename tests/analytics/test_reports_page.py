"""The reports page (toggle, preview, last sends; staff only), the admin and the command."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics.models import DailyAggregate, ReportKind, ReportSubscription
from analytics.services.reports import report_subscription_set, reports_send
from demo.reports import demo_reports_subscribe
from tests.accounts.factories import AdminFactory, InstructorFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/dashboard/analytics/reports/"
TOGGLE = "/dashboard/analytics/reports/subscription/"
DAILY, WEEKLY = ReportKind.DAILY_SUMMARY, ReportKind.WEEKLY_GROWTH


@pytest.fixture
def yesterday():
    """Yesterday's platform aggregates, which today's preview shows."""
    day = timezone.now().date() - datetime.timedelta(days=1)
    return DailyAggregate.objects.create(day=day, dau=57, enrollments=11, completions=4)


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


def test_staff_see_both_reports_previewed_from_todays_figures(staff, yesterday):
    page = staff.get(URL)

    assert page.status_code == 200
    html = page.content.decode()
    assert '<a href="/dashboard/analytics/reports/" aria-current="page">Reports</a>' in html
    assert "Daily executive summary" in html and "Weekly growth report" in html
    assert f"Preview ({yesterday.day:%a} {yesterday.day.day} {yesterday.day:%b %Y})" in html
    assert 'data-figure="dau"' in html and ">57<" in html
    assert html.count("Email it to me") == 2
    assert "No report has been sent yet" in html


def test_the_page_says_what_to_do_before_any_aggregate_exists(staff):
    html = staff.get(URL).content.decode()
    assert "No figures for this period yet" in html
    assert "python manage.py aggregate_analytics" in html


def test_staff_switch_their_own_report_on_and_off(staff, staff_user):
    on = staff.post(TOGGLE, {"kind": DAILY, "active": "1"}, follow=True)

    assert on.redirect_chain == [(URL, 302)]
    html = on.content.decode()
    assert "You will get the daily executive summary by email." in html
    assert html.count("Stop emailing me") == 1
    assert ReportSubscription.objects.get(user=staff_user, kind=DAILY).is_active

    off = staff.post(TOGGLE, {"kind": DAILY, "active": "0"}, follow=True)
    assert "You will no longer get the daily executive summary." in off.content.decode()
    assert not ReportSubscription.objects.get(user=staff_user, kind=DAILY).is_active


def test_an_unknown_report_is_refused_naming_the_field(staff):
    answer = staff.post(TOGGLE, {"kind": "hourly", "active": "1"})
    assert answer.status_code == 400
    assert answer.content.decode().startswith('kind: "hourly" is not a valid choice.')
    assert not ReportSubscription.objects.exists()


def test_the_last_sends_are_listed(staff, staff_user, yesterday):
    report_subscription_set(user=staff_user, kind=DAILY, active=True)
    reports_send(DAILY)

    html = staff.get(URL).content.decode()

    assert "No report has been sent yet" not in html
    assert staff_user.email in html
    assert 'data-status="sent"' in html


@pytest.mark.parametrize("make", [UserFactory, InstructorFactory])
def test_students_and_instructors_are_refused(client, make):
    client.force_login(make())
    assert client.get(URL).status_code == 403
    assert client.post(TOGGLE, {"kind": DAILY, "active": "1"}).status_code == 403
    assert not ReportSubscription.objects.exists()


def test_visitors_are_sent_to_sign_in(client):
    answer = client.get(URL)
    assert answer.status_code == 302
    assert answer.url.startswith("/accounts/login/")


def test_an_instructor_sees_no_reports_tab(client):
    client.force_login(InstructorFactory())
    assert ">Reports</a>" not in client.get("/dashboard/analytics/courses/").content.decode()


def test_the_admin_refuses_a_students_subscription(client, staff_user):
    client.force_login(AdminFactory(email="root@example.com", is_superuser=True))
    student = UserFactory()
    added = client.post(
        "/admin/analytics/reportsubscription/add/",
        {"user": student.pk, "kind": DAILY, "is_active": "on"},
    )
    assert added.status_code == 200
    assert "Only active staff can subscribe to staff reports." in added.content.decode()
    assert not ReportSubscription.objects.exists()

    ok = client.post(
        "/admin/analytics/reportsubscription/add/",
        {"user": staff_user.pk, "kind": WEEKLY, "is_active": "on"},
    )
    assert ok.status_code == 302
    assert ReportSubscription.objects.get().kind == WEEKLY
    assert client.get("/admin/analytics/reportsend/").status_code == 200


def test_the_command_sends_the_report_due_now(capsys, yesterday):
    staff = AdminFactory(email="ops@example.com")
    report_subscription_set(user=staff, kind=DAILY, active=True)

    call_command("send_reports", "--kind", DAILY, "--dry-run")
    assert mail.outbox == []
    assert f"daily_summary {yesterday.day}: would be sent to ops@example.com." in (
        capsys.readouterr().out
    )

    call_command("send_reports", "--kind", DAILY)
    call_command("send_reports", "--kind", DAILY)
    out = capsys.readouterr().out
    assert f"daily_summary {yesterday.day}: 1 sent, 0 failed" in out
    assert f"daily_summary {yesterday.day}: 0 sent, 0 failed" in out
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]


def test_the_command_sends_a_chosen_past_week(capsys):
    staff = AdminFactory(email="ops@example.com")
    report_subscription_set(user=staff, kind=WEEKLY, active=True)
    call_command("send_reports", "--kind", WEEKLY, "--period", "2026-11-23")
    assert [m.subject for m in mail.outbox] == ["Stride weekly growth: 23 Nov to 29 Nov 2026"]


def test_the_command_refuses_an_unknown_kind():
    with pytest.raises(CommandError, match="invalid choice: 'hourly'"):
        call_command("send_reports", "--kind", "hourly")


def test_the_demo_admin_gets_both_reports_and_a_rerun_changes_nothing(settings):
    admin = AdminFactory(email=settings.STRIDE_DEMO_ADMIN_EMAIL)
    assert demo_reports_subscribe() == 2
    before = list(ReportSubscription.objects.values_list("pk", "kind", "is_active", "updated_at"))
    assert demo_reports_subscribe() == 2
    after = list(ReportSubscription.objects.values_list("pk", "kind", "is_active", "updated_at"))
    assert after == before
    assert sorted((s[1], s[2]) for s in after) == [(DAILY, True), (WEEKLY, True)]
    assert ReportSubscription.objects.filter(user=admin).count() == 2
