"""The cohorts page: matrix, curves and lifecycle, its controls, CSV exports, empty state and
who may see it."""

from __future__ import annotations

import csv
import io

import plotly.graph_objects as go
import pytest

from accounts.models import User
from analytics import charts
from analytics.selectors.retention import cohort_rows, lifecycle_rows, retention_curves
from analytics.services.retention import retention_compute
from tests.accounts.factories import UserFactory
from tests.analytics.test_pages_overview import signed_in, staff
from tests.analytics.test_retention import TODAY, D
from tests.analytics.test_retention import history as history

pytestmark = pytest.mark.django_db

NOVEMBER = "range=custom&from=2026-11-01&to=2026-11-29"


@pytest.fixture
def cohorts(history):
    instructor = UserFactory(role=User.Role.INSTRUCTOR)
    history["biology"].instructor = instructor
    history["biology"].save()
    history["instructor"] = instructor
    retention_compute(today=TODAY)
    return history


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_staff_see_the_matrix_with_percentages_in_the_cells(cohorts):
    response = staff().get(f"/dashboard/analytics/cohorts/?{NOVEMBER}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Retention matrix" in html
    # The week of 2 Nov: 2 learners, active 1, 2, 1, 1 of them in weeks 0 to 3.
    assert ">50.0%</td>" in html and ">100.0%</td>" in html
    assert 'id="retention-curves"' in html and 'id="lifecycle"' in html
    assert 'aria-current="page">Cohorts' in html
    # Dormant learners count below the axis: the week of 23 Nov lost 2, a week losing none
    # reads 0, not "-0".
    assert '<td class="num">-2</td>' in html
    assert '<td class="num">-0</td>' not in html


def test_the_matrix_and_the_lifecycle_export_as_csv(cohorts):
    client = staff()
    matrix = csv_rows(client.get(f"/dashboard/analytics/cohorts/?{NOVEMBER}&format=csv"))
    assert matrix[0][:6] == [
        "cohort_kind",
        "cohort_week",
        "breakdown",
        "breakdown_value",
        "cohort_size",
        "week_0",
    ]
    assert matrix[1][:9] == ["signup", "2026-11-02", "all", "", "2", "0.5", "1.0", "0.5", "0.5"]
    assert matrix[2][:8] == ["signup", "2026-11-09", "all", "", "1", "1.0", "1.0", "0.0"]
    assert matrix[2][8] == ""  # the week of 9 Nov has not reached week 3
    lifecycle = csv_rows(
        client.get(f"/dashboard/analytics/cohorts/?{NOVEMBER}&format=csv&table=lifecycle")
    )
    assert lifecycle[0] == ["week", "new", "returning", "resurrecting", "dormant"]
    assert lifecycle[1:] == [
        ["2026-10-26", "0", "0", "0", "0"],
        ["2026-11-02", "1", "0", "0", "0"],
        ["2026-11-09", "2", "1", "0", "0"],
        ["2026-11-16", "0", "2", "0", "1"],
        ["2026-11-23", "0", "0", "1", "2"],
    ]


def test_the_kind_and_breakdown_controls(cohorts):
    client = staff()
    by_course = csv_rows(
        client.get(
            f"/dashboard/analytics/cohorts/?{NOVEMBER}&kind=enrollment&breakdown=course&format=csv"
        )
    )
    assert [(r[1], r[3], r[4]) for r in by_course[1:]] == [
        ("2026-11-02", "algebra", "1"),
        ("2026-11-09", "biology", "2"),
        ("2026-11-16", "algebra", "1"),
    ]
    streak = client.get(f"/dashboard/analytics/cohorts/?{NOVEMBER}&breakdown=streak7")
    assert "7-day streak" in streak.content.decode()
    unknown = client.get(f"/dashboard/analytics/cohorts/?{NOVEMBER}&kind=monthly&breakdown=x")
    assert unknown.status_code == 200
    assert "Unknown kind &#x27;monthly&#x27;" in unknown.content.decode()
    assert "Unknown breakdown" in unknown.content.decode()


def test_an_empty_range_says_what_to_do(cohorts):
    response = staff().get(
        "/dashboard/analytics/cohorts/?range=custom&from=2025-01-01&to=2025-02-01"
    )
    html = response.content.decode()
    assert "No cohorts to show" in html
    assert "aggregate_analytics" in html


def test_students_get_a_403_and_instructors_only_their_course(cohorts):
    assert signed_in(cohorts["tokyo"]).get("/dashboard/analytics/cohorts/").status_code == 403
    client = signed_in(cohorts["instructor"])
    page = client.get(f"/dashboard/analytics/cohorts/?{NOVEMBER}")
    html = page.content.decode()
    assert page.status_code == 200
    assert "All courses" not in html and "Algebra" not in html
    rows = csv_rows(client.get(f"/dashboard/analytics/cohorts/?{NOVEMBER}&format=csv"))
    # Biology's signup cohorts: ny (week of 2 Nov) and london (week of 9 Nov).
    assert [(r[1], r[4]) for r in rows[1:]] == [("2026-11-02", "1"), ("2026-11-09", "1")]
    # Another course's or the platform's cohorts are not theirs to see.
    other = csv_rows(
        client.get(f"/dashboard/analytics/cohorts/?{NOVEMBER}&course=algebra&format=csv")
    )
    assert other[1:] == rows[1:]
    by_course = client.get(f"/dashboard/analytics/cohorts/?{NOVEMBER}&breakdown=course")
    assert "Unknown breakdown" in by_course.content.decode()


def test_the_charts_are_valid_plotly_figures(cohorts):
    rows = cohort_rows(
        kind="signup", breakdown="timezone", course=None, start=D(2026, 11, 1), end=D(2026, 11, 29)
    )
    curves = retention_curves(rows)
    assert [(c.label, c.rates) for c in curves] == [
        ("America/New_York", (1.0, 1.0, 0.0, 1.0)),
        ("Asia/Tokyo", (0.0, 1.0, 1.0, 0.0)),
        ("UTC", (1.0, 1.0, 0.0)),
    ]
    go.Figure(charts.retention_curves_figure([(c.label, c.rates) for c in curves]))
    weeks = lifecycle_rows(course=None, start=D(2026, 11, 1), end=D(2026, 11, 29))
    figure = charts.lifecycle_figure(
        [w.week for w in weeks],
        [w.new for w in weeks],
        [w.returning for w in weeks],
        [w.resurrecting for w in weeks],
        [w.dormant for w in weeks],
    )
    go.Figure(figure)
    assert figure["data"][3]["name"] == "Dormant" and min(figure["data"][3]["y"]) == -2


def test_the_selectors_read_one_query_each(cohorts, django_assert_num_queries):
    span = {"start": D(2026, 11, 1), "end": D(2026, 11, 29)}
    with django_assert_num_queries(1):
        by_course = cohort_rows(kind="signup", breakdown="course", course=None, **span)
        assert {r.course.title for r in by_course} == {"Algebra", "Biology"}
    with django_assert_num_queries(1):
        cohort_rows(kind="enrollment", breakdown="streak7", course=cohorts["biology"], **span)
    with django_assert_num_queries(1):
        assert len(lifecycle_rows(course=cohorts["biology"], **span)) == 5
