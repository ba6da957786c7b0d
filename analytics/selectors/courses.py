"""The courses and instructors pages' figures: one row per course (or instructor) over a range,
summed from the stored daily aggregates and revenue, and one course's page."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import User
from analytics.models import Breakdown, CohortKind, DailyAggregate, DailyRevenue, RetentionCell
from analytics.selectors.aggregates import daily_series
from analytics.selectors.funnels import FunnelStep, funnel_steps
from analytics.selectors.overview import latest_scored
from analytics.selectors.revenue import CurrencyTotal, RevenueTotals, exchange_rates
from analytics.selectors.revenue import revenue_totals as revenue_totals_of
from analytics.services.retention import week_of
from learning.models import Course

# The columns a table sorts by ("top courses" is a sort), the default first.
SORTS: dict[str, str] = {
    "enrollments": "Enrollments",
    "starts": "Starts",
    "completions": "Completions",
    "completion_rate": "Completion rate",
    "median_days_to_complete": "Median days to complete",
    "active_learners": "Active learners",
    "revenue": "Revenue",
    "average_rating": "Average rating",
    "messages_sent": "Messages sent",
    "week1_retention": "Week-1 retention",
}
INSTRUCTOR_SORTS: dict[str, str] = {
    key: SORTS[key]
    for key in (
        "enrollments",
        "completions",
        "completion_rate",
        "active_learners",
        "revenue",
        "average_rating",
    )
} | {"courses": "Courses"}


@dataclass
class Figures:
    """A scope's range totals. `active_learners` is the MAU of the range's last day (distinct
    learners in the 30 days to it: distinct learners cannot be summed from daily rows);
    `median_days_to_complete` is the median of the days' medians weighted by their completions
    (close to, not exactly, the median of every completion of the range)."""

    enrollments: int = 0
    starts: int = 0
    completions: int = 0
    active_learners: int = 0
    rating_sum: float = 0.0
    rating_count: int = 0
    messages_sent: int = 0
    median_days_to_complete: float | None = None
    revenue: list[CurrencyTotal] = field(default_factory=list)
    converted_revenue: Decimal | None = None

    @property
    def completion_rate(self) -> float | None:
        """Completions per enrollment made in the range (can pass 1: earlier enrollments
        complete too)."""
        return self.completions / self.enrollments if self.enrollments else None

    @property
    def average_rating(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None

    def revenue_in(self, currency: str) -> Decimal:
        return next((t.amount for t in self.revenue if t.currency == currency), Decimal(0))


@dataclass
class CourseRow(Figures):
    """`week1_retention`: of the learners who enrolled in the course in the weeks starting in
    the range (its first-enrollment cohorts), the share active in it the week after."""

    course: Course | None = None
    week1_retention: float | None = None


@dataclass
class InstructorRow(Figures):
    instructor: User | None = None
    courses: int = 0


def _weighted_median(pairs: list[tuple[float, int]]) -> float | None:
    """The median of values each repeated `weight` times."""
    pairs = sorted((value, weight) for value, weight in pairs if weight)
    total = sum(weight for _, weight in pairs)
    if not total:
        return None
    seen = 0
    for value, weight in pairs:
        seen += weight
        if seen * 2 >= total:
            return round(value, 2)
    return None  # pragma: no cover


def _figures(
    rows: QuerySet[DailyAggregate],
    revenue: QuerySet[DailyRevenue],
    scope: str,
    end: datetime.date,
    out: dict[int, Figures],
) -> None:
    """Fill `out` ({scope id: Figures}) from the range's rows of every scope, in three
    queries (sums, medians with the last day's MAU, revenue per currency)."""
    for row in rows.values(scope).annotate(
        enrollments=Sum("enrollments"),
        starts=Sum("starts"),
        completions=Sum("completions"),
        rating_sum=Sum("rating_sum"),
        rating_count=Sum("rating_count"),
        messages_sent=Sum("messages_sent"),
    ):
        figures = out[row[scope]]
        for name in (
            "enrollments",
            "starts",
            "completions",
            "rating_sum",
            "rating_count",
            "messages_sent",
        ):
            setattr(figures, name, row[name] or 0)
    medians: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for scope_id, day, mau, median, completions in rows.filter(
        Q(day=end) | Q(median_days_to_complete__isnull=False)
    ).values_list(scope, "day", "mau", "median_days_to_complete", "completions"):
        if day == end:
            out[scope_id].active_learners = mau
        if median is not None:
            medians[scope_id].append((median, completions))
    for scope_id, pairs in medians.items():
        out[scope_id].median_days_to_complete = _weighted_median(pairs)
    rates = exchange_rates()
    for row in (
        revenue.values(scope, "currency")
        .annotate(amount=Sum("amount"), transactions=Sum("transactions"))
        .order_by(scope, "-amount", "currency")
    ):
        out[row[scope]].revenue.append(
            CurrencyTotal(row["currency"], row["amount"], row["transactions"])
        )
    for figures in out.values():
        if rates and figures.revenue and all(t.currency in rates for t in figures.revenue):
            figures.converted_revenue = sum(
                (t.amount * rates[t.currency] for t in figures.revenue), Decimal(0)
            )


def sort_key(sort: str, currency: str | None) -> Callable[[Figures], tuple]:
    """A key for sorting rows by `sort`, largest first with empty values last; revenue sorts
    by the converted total when a rate table covers it, else by `currency`'s amount."""

    def key(row: Figures) -> tuple:
        if sort == "revenue":
            value = (
                row.converted_revenue
                if row.converted_revenue is not None
                else row.revenue_in(currency or "")
            )
        else:
            value = getattr(row, sort)
        return (value is None, -(value or 0))

    return key


def main_currency(rows: Iterable[Figures]) -> str | None:
    """The currency with the most transactions across `rows`, for sorting and the chart."""
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        for total in row.revenue:
            counts[total.currency] += total.transactions
    return max(counts, key=lambda c: (counts[c], c)) if counts else None


def course_table(
    start: datetime.date, end: datetime.date, courses: QuerySet[Course], *, sort: str
) -> list[CourseRow]:
    """One row per course of `courses` (those with no row in the range too, as zeros) over
    days start..end, sorted by `sort` (a key of SORTS), in five queries."""
    listed = list(courses)
    out: dict[int, Figures] = {c.pk: CourseRow(course=c) for c in listed}
    days = DailyAggregate.objects.filter(day__gte=start, day__lte=end, course__in=courses)
    revenue = DailyRevenue.objects.filter(day__gte=start, day__lte=end, course__in=courses)
    _figures(days.order_by(), revenue.order_by(), "course", end, out)
    for row in (
        RetentionCell.objects.filter(
            cohort_kind=CohortKind.ENROLLMENT,
            course__in=courses,
            breakdown=Breakdown.ALL,
            week_offset=1,
            cohort_week__gte=week_of(start),
            cohort_week__lte=end,
        )
        .values("course")
        .annotate(size=Sum("cohort_size"), retained=Sum("retained"))
        .order_by()
    ):
        if row["size"]:
            out[row["course"]].week1_retention = row["retained"] / row["size"]  # type: ignore[attr-defined]
    rows = [out[c.pk] for c in listed]
    rows.sort(key=sort_key(sort, main_currency(rows)))
    return rows  # type: ignore[return-value]


def instructor_table(start: datetime.date, end: datetime.date, *, sort: str) -> list[InstructorRow]:
    """One row per instructor of a course over days start..end from the instructor-scope
    rows (an instructor's active learners are distinct over their courses), sorted by `sort`
    (a key of INSTRUCTOR_SORTS), in five queries."""
    instructors = list(
        User.objects.filter(taught_courses__isnull=False)
        .annotate(n_courses=Count("taught_courses", distinct=True))
        .order_by("last_name", "first_name", "email", "id")
    )
    out: dict[int, Figures] = {
        u.pk: InstructorRow(instructor=u, courses=u.n_courses) for u in instructors
    }
    days = DailyAggregate.objects.filter(
        day__gte=start, day__lte=end, instructor__in=[u.pk for u in instructors]
    )
    revenue = DailyRevenue.objects.filter(
        day__gte=start, day__lte=end, instructor__in=[u.pk for u in instructors]
    )
    _figures(days.order_by(), revenue.order_by(), "instructor", end, out)
    rows = [out[u.pk] for u in instructors]
    rows.sort(key=sort_key(sort, main_currency(rows)))
    return rows  # type: ignore[return-value]


@dataclass(frozen=True)
class CoursePage:
    """One course over a range: its daily rows, revenue, rating and funnel."""

    course: Course
    rows: list[DailyAggregate]
    revenue: RevenueTotals
    revenue_days: list[DailyRevenue]
    funnel: list[FunnelStep]

    @property
    def has_activity(self) -> bool:
        return any(
            r.mau or r.events or r.enrollments or r.completions or r.scored_learners
            for r in self.rows
        )

    @property
    def at_risk(self) -> DailyAggregate | None:
        """The range's last day with a completed scoring run (its at-risk share), if any."""
        return latest_scored(self.rows)

    @property
    def rating_count(self) -> int:
        return sum(r.rating_count for r in self.rows)

    @property
    def average_rating(self) -> float | None:
        count = self.rating_count
        return sum(r.rating_sum for r in self.rows) / count if count else None

    @property
    def enrollments(self) -> int:
        return sum(r.enrollments for r in self.rows)

    @property
    def completions(self) -> int:
        return sum(r.completions for r in self.rows)


def course_page(course: Course, start: datetime.date, end: datetime.date) -> CoursePage:
    """`course`'s figures over days start..end, in four queries."""
    return CoursePage(
        course=course,
        rows=daily_series(start, end, course=course),
        revenue=revenue_totals_of(start, end, course=course),
        revenue_days=revenue_days(start, end, course=course),
        funnel=funnel_steps(course, start, end),
    )


def revenue_days(
    start: datetime.date,
    end: datetime.date,
    *,
    course: Course | None = None,
    instructor: User | None = None,
) -> list[DailyRevenue]:
    """The stored revenue rows of days start..end of the platform (or `course`, or
    `instructor`'s courses), oldest first, one per day and currency with a purchase, in one
    query."""
    return list(
        DailyRevenue.objects.filter(day__gte=start, day__lte=end)
        .scoped(course=course, instructor=instructor)
        .order_by("day", "currency")
    )
