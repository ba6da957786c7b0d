"""The overview page's figures: the range's daily series and its headline numbers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from analytics.models import DailyAggregate
from analytics.selectors.aggregates import daily_series
from analytics.services.aggregates import latest_complete_day
from learning.models import Course


@dataclass(frozen=True)
class Headline:
    """The cards above the charts: the active learners of the range's last day that has
    ended for every learner (`day`; today's, still under way, would read low all day) and the
    range's totals, with the same totals over the range just before for the growth rates."""

    day: datetime.date
    dau: int
    wau: int
    mau: int
    stickiness: float | None
    new_learners: int
    new_learners_before: int
    enrollments: int
    enrollments_before: int
    completions: int
    events: int

    @property
    def growth(self) -> float | None:
        """New learners against the previous range of the same length (0.25 = +25 %)."""
        if not self.new_learners_before:
            return None
        return self.new_learners / self.new_learners_before - 1

    @property
    def enrollment_growth(self) -> float | None:
        if not self.enrollments_before:
            return None
        return self.enrollments / self.enrollments_before - 1


@dataclass(frozen=True)
class Overview:
    rows: list[DailyAggregate]
    headline: Headline

    @property
    def has_activity(self) -> bool:
        return any(r.mau or r.events or r.enrollments or r.scored_learners for r in self.rows)

    @property
    def at_risk(self) -> DailyAggregate | None:
        """The range's last day with a completed scoring run (its at-risk share), if any."""
        return latest_scored(self.rows)


def latest_scored(rows: list[DailyAggregate]) -> DailyAggregate | None:
    """The last of `rows` (oldest first) whose day had a completed scoring run."""
    return next((r for r in reversed(rows) if r.scored_learners), None)


def overview(start: datetime.date, end: datetime.date, *, course: Course | None = None) -> Overview:
    rows = daily_series(start, end, course=course)
    length = end - start + datetime.timedelta(days=1)
    before = daily_series(start - length, start - datetime.timedelta(days=1), course=course)
    complete = latest_complete_day()
    last = next((r for r in reversed(rows) if r.day <= complete), rows[-1])
    headline = Headline(
        day=last.day,
        dau=last.dau,
        wau=last.wau,
        mau=last.mau,
        stickiness=last.stickiness,
        new_learners=sum(r.new_learners for r in rows),
        new_learners_before=sum(r.new_learners for r in before),
        enrollments=sum(r.enrollments for r in rows),
        enrollments_before=sum(r.enrollments for r in before),
        completions=sum(r.completions for r in rows),
        events=sum(r.events for r in rows),
    )
    return Overview(rows=rows, headline=headline)
