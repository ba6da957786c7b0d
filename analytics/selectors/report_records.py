"""What a staff report holds: plain records of its figures, with their changes in words.

No Django here: `analytics.selectors.reports` fills these from the aggregates, and the email
templates and the reports page read them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Figure:
    """One line of a report: the period's value, the one it is compared with, and a link.

    `previous` is the day (week) before, `average` the 7-day baseline (daily summary only);
    either is None where there is nothing to compare with. `share` figures are 0-1."""

    key: str
    label: str
    value: float | None
    previous: float | None
    url: str
    average: float | None = None
    share: bool = False
    note: str = ""

    @property
    def change(self) -> float | None:
        """value - previous (None when either is missing)."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change_ratio(self) -> float | None:
        """value / previous - 1 (0.25 = +25 %); None without a previous value or from 0."""
        if self.value is None or not self.previous:
            return None
        return self.value / self.previous - 1

    @property
    def value_text(self) -> str:
        return _number(self.value, share=self.share)

    @property
    def previous_text(self) -> str:
        return _number(self.previous, share=self.share)

    @property
    def average_text(self) -> str:
        return _number(self.average, share=self.share, digits=1)

    @property
    def change_text(self) -> str:
        """ "+12 (+8.0 %)", "-3.5 points", "no change", or "" when there is no comparison."""
        change = self.change
        if change is None:
            return ""
        if change == 0:
            return "no change"
        if self.share:
            return f"{100 * change:+.1f} points"
        text = f"{change:+g}"
        ratio = self.change_ratio
        return f"{text} ({100 * ratio:+.1f} %)" if ratio is not None else text

    @property
    def direction(self) -> str:
        """ "up", "down" or "" (no change or nothing to compare), for the arrow shown."""
        change = self.change
        if not change:
            return ""
        return "up" if change > 0 else "down"


def _number(value: float | None, *, share: bool = False, digits: int = 0) -> str:
    if value is None:
        return "\u2013"  # an en dash: no figure
    if share:
        return f"{100 * value:.1f} %"
    if digits and value != int(value):
        return f"{value:.{digits}f}"
    return f"{int(value)}" if value == int(value) else f"{value:.1f}"


@dataclass(frozen=True)
class AnomalyLine:
    day: datetime.date
    scope: str  # "the platform" or the course's title
    metric: str
    value: float
    baseline: float
    url: str


@dataclass(frozen=True)
class DailySummary:
    """The daily executive summary of learner-local day `day`."""

    day: datetime.date
    figures: list[Figure]
    anomalies: list[AnomalyLine]
    kind: str = "daily_summary"  # ReportKind.DAILY_SUMMARY

    @property
    def period(self) -> datetime.date:
        return self.day

    @property
    def has_activity(self) -> bool:
        return any(f.value or f.previous or f.average for f in self.figures)

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


@dataclass(frozen=True)
class CourseMove:
    """A course's active learners (WAU on the week's last day) against the week before."""

    title: str
    external_id: str
    active: int
    previous: int
    url: str

    @property
    def change(self) -> int:
        return self.active - self.previous

    @property
    def change_text(self) -> str:
        ratio = f" ({100 * (self.active / self.previous - 1):+.1f} %)" if self.previous else ""
        return f"{self.change:+d}{ratio}"


@dataclass(frozen=True)
class WeeklyGrowth:
    """The weekly growth report of the week `week_start` (a Monday) to `week_start` + 6."""

    week_start: datetime.date
    figures: list[Figure]
    growing: list[CourseMove] = field(default_factory=list)
    declining: list[CourseMove] = field(default_factory=list)
    kind: str = "weekly_growth"  # ReportKind.WEEKLY_GROWTH

    @property
    def period(self) -> datetime.date:
        return self.week_start

    @property
    def week_end(self) -> datetime.date:
        return self.week_start + 6 * DAY

    @property
    def has_activity(self) -> bool:
        return any(f.value or f.previous for f in self.figures)

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


Report = DailySummary | WeeklyGrowth
