"""Reads of the precomputed retention cohorts and lifecycle (analytics.services.retention)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from analytics.models import Breakdown, CohortKind, LifecycleWeek, RetentionCell
from analytics.services.retention import MAX_WEEK_OFFSET, week_of
from learning.models import Course

COURSE = "course"  # the breakdown by course: one row per course of the platform's cohorts
BREAKDOWNS: dict[str, str] = {
    Breakdown.ALL.value: "No breakdown",
    COURSE: "Course",
    Breakdown.TIMEZONE.value: "Timezone (learner property)",
    Breakdown.LEAGUE.value: "League tier now (learner property)",
    Breakdown.STREAK7.value: "7-day streak in the first two weeks",
}
STREAK_LABELS = {"yes": "7-day streak", "no": "No 7-day streak"}


@dataclass(frozen=True)
class CohortRow:
    """One row of the matrix: a cohort (and breakdown value) and its learners per week."""

    kind: str
    cohort_week: datetime.date
    breakdown: str
    value: str  # breakdown value ("" without a breakdown; a course's external id by course)
    label: str
    course: Course | None  # the course whose learners the cohort holds (None: the platform)
    size: int
    retained: tuple[int, ...]  # learners active in week 0, 1, ... (as far as weeks have passed)

    @property
    def rates(self) -> tuple[float | None, ...]:
        """Each week's share of the cohort (None for an empty cohort)."""
        return tuple(n / self.size if self.size else None for n in self.retained)


@dataclass(frozen=True)
class Curve:
    """Retention by week offset of one breakdown value over the range's cohorts (or one
    cohort): learners retained over the size of the cohorts that have reached the week."""

    label: str
    rates: tuple[float | None, ...]


@dataclass(frozen=True)
class LifecycleRow:
    week: datetime.date
    new: int
    returning: int
    resurrecting: int
    dormant: int


def _label(breakdown: str, value: str, course: Course | None) -> str:
    if breakdown == COURSE and course is not None:
        return course.title
    if breakdown == Breakdown.STREAK7:
        return STREAK_LABELS.get(value, value)
    return value or "All learners"


def cohort_rows(
    *,
    kind: str,
    breakdown: str,
    course: Course | None,
    start: datetime.date,
    end: datetime.date,
) -> list[CohortRow]:
    """The matrix rows of the cohorts of `kind` whose week starts from the week of `start`
    to `end`: the platform's (course None) or the course's learners, split by `breakdown`
    (a Breakdown value, or "course": the platform's cohorts per course, ignoring `course`).
    Ordered by cohort week, then label. One query."""
    cells = RetentionCell.objects.filter(
        cohort_kind=kind, cohort_week__gte=week_of(start), cohort_week__lte=end
    )
    if breakdown == COURSE:
        cells = cells.filter(course__isnull=False, breakdown=Breakdown.ALL).select_related("course")
    else:
        cells = cells.filter(course=course, breakdown=breakdown)
    grouped: dict[tuple, list[RetentionCell]] = defaultdict(list)
    for cell in cells.order_by("cohort_week", "course_id", "breakdown_value", "week_offset"):
        grouped[cell.cohort_week, cell.course_id, cell.breakdown_value].append(cell)
    rows = []
    for (week, _, value), group in grouped.items():
        row_course = group[0].course if breakdown == COURSE else course
        shown = row_course.external_id if breakdown == COURSE and row_course else value
        rows.append(
            CohortRow(
                kind=kind,
                cohort_week=week,
                breakdown=breakdown,
                value=shown,
                label=_label(breakdown, value, row_course),
                course=row_course,
                size=group[0].cohort_size,
                retained=tuple(c.retained for c in group),
            )
        )
    return sorted(rows, key=lambda r: (r.cohort_week, r.label))


def retention_curves(rows: list[CohortRow]) -> list[Curve]:
    """The curves of the matrix `rows`: one per cohort without a breakdown, else one per
    breakdown value over its cohorts (weighted by cohort size). No query."""
    if all(r.breakdown == Breakdown.ALL for r in rows):
        return [Curve(f"Week of {r.cohort_week:%d %b %Y}", r.rates) for r in rows]
    sums: dict[str, list[list[int]]] = {}
    for row in rows:
        per_week = sums.setdefault(row.label, [[0, 0] for _ in range(MAX_WEEK_OFFSET + 1)])
        for offset, n in enumerate(row.retained):
            per_week[offset][0] += n
            per_week[offset][1] += row.size
    curves = []
    for label, per_week in sorted(sums.items()):
        reached = [(n, size) for n, size in per_week if size]
        curves.append(Curve(label, tuple(n / size for n, size in reached)))
    return curves


def lifecycle_rows(
    *, course: Course | None, start: datetime.date, end: datetime.date
) -> list[LifecycleRow]:
    """The lifecycle of the weeks from the week of `start` to `end`, for the platform
    (course None) or one course, every week present (zeros where nobody was counted). One
    query."""
    stored = {
        w.week: w
        for w in LifecycleWeek.objects.filter(
            course=course, week__gte=week_of(start), week__lte=end
        )
    }
    out = []
    week = week_of(start)
    while week <= end:
        w = stored.get(week)
        out.append(
            LifecycleRow(week, w.new, w.returning, w.resurrecting, w.dormant)
            if w
            else LifecycleRow(week, 0, 0, 0, 0)
        )
        week += datetime.timedelta(days=7)
    return out


KINDS: dict[str, str] = dict(CohortKind.choices)
