"""The first-week page, saving its weak cohort as a segment, the command and the admin."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from analytics.models import FirstWeekSnapshot
from analytics.services.first_week import first_week_compute
from analytics.services.nightly import analytics_derive
from campaigns.filters import filter_errors
from campaigns.models import Segment
from campaigns.selectors.audience import audience_users
from tests.accounts.factories import AdminFactory, UserFactory
from tests.analytics.test_first_week import planted as planted
from tests.analytics.test_pages_overview import signed_in, staff

pytestmark = pytest.mark.django_db

URL = "/dashboard/analytics/first-week/"
SAVE = "/dashboard/analytics/first-week/segment/"


def audience(filter_) -> set[int]:
    assert filter_errors(filter_) == {}
    return set(audience_users(filter=filter_, now=timezone.now()).values_list("pk", flat=True))


@pytest.fixture
def analysed(planted):
    first_week_compute(now=planted.now)
    return planted


def test_staff_see_the_definition_outcomes_signals_and_recommendation(analysed):
    page = staff().get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    weak = [p for p in analysed.plan if p.weak]
    assert "fewer than 2 of those days" in html
    assert f"<strong>{len(weak)}</strong> with a weak first week" in html
    assert 'id="first-week-outcomes"' in html  # the Plotly chart
    assert "Dropped off" in html and "95% CI" in html
    assert "quizzes passed on average" in html  # the planted signal, in words
    assert "forum posts and replies on average" not in html  # not planted: not presented
    assert ">Save as segment</button>" in html and 'name="csrfmiddlewaretoken"' in html
    assert 'aria-current="page">First week</a>' in html


def test_the_page_says_what_to_do_before_any_analysis(db):
    html = staff().get(URL).content.decode()
    assert "Not analysed yet" in html
    assert "python manage.py analyse_first_week" in html
    assert "Save as segment" not in html


def test_students_are_refused_and_instructors_see_only_their_course(analysed):
    algebra, biology = analysed.courses
    assert signed_in(UserFactory()).get(URL).status_code == 403
    assert Client().get(URL).status_code == 302  # to the login page
    instructor = signed_in(algebra.instructor)
    html = instructor.get(URL).content.decode()  # their one course, chosen for them
    assert algebra.title in html and biology.title not in html
    weak = [p for p in analysed.of(algebra) if p.weak]
    assert f"<strong>{len(weak)}</strong> with a weak first week" in html
    # Another course named in the query is not theirs: their own is shown instead.
    other = instructor.get(f"{URL}?course={biology.external_id}").content.decode()
    assert f"<strong>{len(weak)}</strong> with a weak first week" in other
    assert instructor.post(SAVE, {"course": biology.external_id}).status_code == 403
    assert instructor.post(SAVE, {}).status_code == 403
    assert signed_in(UserFactory()).post(SAVE, {}).status_code == 403


@pytest.mark.parametrize("scope", [None, 0])
def test_saving_the_cohort_once_gives_a_segment_of_exactly_the_weak(analysed, scope):
    course = None if scope is None else analysed.courses[scope]
    client = staff()
    data = {"course": course.external_id if course else ""}
    response = client.post(SAVE, data)
    segment = Segment.objects.get(is_predefined=False)
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/campaigns/segments/{segment.pk}/"
    weak = {p.user_id for p in analysed.of(course) if p.weak}
    assert audience(segment.filter) == weak
    assert segment.name.startswith("Weak first week")
    client.post(SAVE, data)  # again: the same segment
    assert Segment.objects.filter(is_predefined=False).count() == 1
    page = client.get(response["Location"])
    assert f'data-live-count="{len(weak)}"' in page.content.decode()


def test_an_instructor_saves_their_courses_cohort_and_comes_back(analysed):
    algebra = analysed.courses[0]
    response = signed_in(algebra.instructor).post(SAVE, {"course": algebra.external_id})
    assert response.status_code == 302
    assert response["Location"] == f"{URL}?course={algebra.external_id}"
    segment = Segment.objects.get(is_predefined=False)
    assert audience(segment.filter) == {p.user_id for p in analysed.of(algebra) if p.weak}


def test_no_cohort_to_save_is_a_400_naming_the_course(db):
    response = staff().post(SAVE, {"course": ""})
    assert response.status_code == 400
    assert "course" in response.content.decode()
    assert not Segment.objects.filter(is_predefined=False).exists()


def test_the_command_analyses_every_course_or_one(planted, capsys):
    call_command("analyse_first_week")
    out = capsys.readouterr().out
    weak = sum(p.weak for p in planted.plan)
    assert f"{weak} weak of {len(planted.plan)} enrolments analysed; 3 snapshots" in out
    algebra = planted.courses[0]
    FirstWeekSnapshot.objects.all().delete()
    call_command("analyse_first_week", course=algebra.external_id)
    assert list(FirstWeekSnapshot.objects.values_list("course", flat=True)) == [algebra.pk]
    with pytest.raises(CommandError, match="no course"):
        call_command("analyse_first_week", course="nope")


def test_the_nightly_derive_computes_it(planted):
    derived = analytics_derive()
    assert derived.first_week.analysed == len(planted.plan)
    assert FirstWeekSnapshot.objects.filter(course=None).exists()


def test_the_admin_lists_the_snapshots_read_only(analysed):
    root: User = AdminFactory(email="root@example.com", is_superuser=True)
    client = Client()
    client.force_login(root)
    page = client.get("/admin/analytics/firstweeksnapshot/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Platform (every course)" in html and "Algebra" in html
    assert client.get("/admin/analytics/firstweeksnapshot/add/").status_code == 403
