"""Saving a retention cohort row as a campaigns segment: its audience is exactly the cohort."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from analytics.selectors.retention import COURSE, cohort_rows
from analytics.services.retention import cohort_filter
from campaigns.filters import filter_errors
from campaigns.models import Segment
from campaigns.selectors.audience import audience_users
from tests.analytics.test_pages_overview import signed_in, staff
from tests.analytics.test_retention import TODAY, D
from tests.analytics.test_retention import history as history
from tests.analytics.test_retention_pages import cohorts as cohorts

pytestmark = pytest.mark.django_db

URL = "/dashboard/analytics/cohorts/segment/"


def audience(filter_) -> set[int]:
    assert filter_errors(filter_) == {}
    return set(audience_users(filter=filter_, now=timezone.now()).values_list("pk", flat=True))


def test_every_row_of_every_matrix_is_a_segment_of_its_cohort(cohorts):
    checked = 0
    for kind in ("signup", "enrollment"):
        for breakdown in ("all", COURSE, "timezone", "league", "streak7"):
            for course in (None, cohorts["algebra"], cohorts["biology"]):
                for row in cohort_rows(
                    kind=kind,
                    breakdown=breakdown,
                    course=course,
                    start=D(2026, 10, 1),
                    end=TODAY,
                ):
                    filter_ = cohort_filter(
                        kind=kind,
                        week=row.cohort_week,
                        breakdown="all" if breakdown == COURSE else breakdown,
                        value="" if breakdown == COURSE else row.value,
                        course=row.course,
                    )
                    assert len(audience(filter_)) == row.size, (kind, breakdown, row)
                    checked += 1
    assert checked > 40


@pytest.mark.parametrize(
    ("post", "members"),
    [
        ({"kind": "signup", "week": "2026-11-02", "breakdown": "all"}, {"tokyo", "ny"}),
        (
            {"kind": "enrollment", "week": "2026-11-09", "breakdown": "all", "course": "biology"},
            {"ny", "london"},
        ),
        (
            {"kind": "enrollment", "week": "2026-11-16", "breakdown": COURSE, "course": "algebra"},
            {"london"},
        ),
        (
            {"kind": "signup", "week": "2026-11-09", "breakdown": "streak7", "value": "yes"},
            {"london"},
        ),
        (
            {"kind": "signup", "week": "2026-11-02", "breakdown": "streak7", "value": "no"},
            {"tokyo", "ny"},
        ),
        (
            {
                "kind": "signup",
                "week": "2026-11-02",
                "breakdown": "timezone",
                "value": "Asia/Tokyo",
            },
            {"tokyo"},
        ),
    ],
)
def test_one_click_saves_the_row_and_shows_the_segment(cohorts, post, members):
    response = staff().post(URL, post)
    segment = Segment.objects.get(is_predefined=False)
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/campaigns/segments/{segment.pk}/"
    assert audience(segment.filter) == {cohorts[name].pk for name in members}
    page = staff().get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and segment.name in html
    assert f'data-live-count="{len(members)}"' in html
    for name, user in cohorts.items():
        if hasattr(user, "email") and user.role == "student":
            assert (user.email in html) == (name in members)
    assert segment.name.startswith("Cohort: ")


def test_saving_a_row_again_keeps_one_segment(cohorts):
    client = staff()
    row = {"kind": "signup", "week": "2026-11-02", "breakdown": "all"}
    client.post(URL, row)
    client.post(URL, row)
    assert Segment.objects.filter(is_predefined=False).count() == 1


def test_the_page_has_a_save_button_per_row(cohorts):
    html = staff().get("/dashboard/analytics/cohorts/?range=custom&from=2026-11-01&to=2026-11-29")
    text = html.content.decode()
    assert text.count(">Save as segment</button>") == 2
    assert 'name="csrfmiddlewaretoken"' in text


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"kind": "monthly", "week": "2026-11-02", "breakdown": "all"}, "kind"),
        ({"kind": "signup", "week": "2026-11-03", "breakdown": "all"}, "week"),
        ({"kind": "signup", "week": "soon", "breakdown": "all"}, "week"),
        ({"kind": "signup", "week": "2026-11-02", "breakdown": "shoe size"}, "breakdown"),
        ({"kind": "signup", "week": "2026-11-02", "breakdown": "streak7", "value": "x"}, "value"),
    ],
)
def test_a_bad_row_gets_a_400_naming_the_field(cohorts, post, field):
    response = staff().post(URL, post)
    assert response.status_code == 400
    assert response.content.decode().startswith(f"{field}:")
    assert not Segment.objects.filter(is_predefined=False).exists()


def test_instructors_save_rows_of_their_own_course_only(cohorts):
    client = signed_in(cohorts["instructor"])
    own = {"kind": "signup", "week": "2026-11-09", "breakdown": "all", "course": "biology"}
    response = client.post(URL, own)
    assert response.status_code == 302 and response["Location"] == "/dashboard/analytics/cohorts/"
    assert audience(Segment.objects.get(is_predefined=False).filter) == {cohorts["london"].pk}
    assert client.post(URL, {**own, "course": "algebra"}).status_code == 403
    assert client.post(URL, {**own, "course": ""}).status_code == 403
    assert signed_in(cohorts["tokyo"]).post(URL, own).status_code == 403
    assert Segment.objects.filter(is_predefined=False).count() == 1


def test_saving_needs_a_post_with_the_csrf_token(cohorts):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cohorts["instructor"])
    row = {"kind": "signup", "week": "2026-11-09", "breakdown": "all", "course": "biology"}
    assert client.post(URL, row).status_code == 403
    assert client.get(URL).status_code == 405
    assert not Segment.objects.filter(is_predefined=False).exists()
