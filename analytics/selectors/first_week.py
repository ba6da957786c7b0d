"""Reads of the stored first-week analysis (analytics.services.first_week)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from analytics.models import FirstWeekSnapshot
from analytics.services.first_week import Definition, first_week_definition
from analytics.services.first_week_stats import LABELS, Difference, factor_text, rate_difference
from analytics.services.significance import Comparison, Proportion, proportion
from learning.models import Course


@dataclass(frozen=True)
class Outcome:
    """One outcome (dropped off, completed) of both groups and their difference."""

    name: str
    label: str
    weak: Proportion
    rest: Proportion
    difference: Difference  # weak minus rest

    @property
    def text(self) -> dict[str, str]:
        """The figures as the page shows them, in percent and percentage points."""

        def share(p: Proportion) -> str:
            interval = f"{100 * p.low:.0f} to {100 * p.high:.0f}%"
            return f"{100 * p.rate:.0f}% ({p.successes} of {p.total}; 95% CI {interval})"

        d = self.difference
        interval = f"{100 * d.low:+.0f} to {100 * d.high:+.0f}"
        return {
            "weak": share(self.weak),
            "rest": share(self.rest),
            "difference": f"{100 * d.value:+.0f} points (95% CI {interval})",
        }


@dataclass(frozen=True)
class Factor:
    """A signal compared between the weak first weeks (A) and the rest (B)."""

    comparison: Comparison
    label: str
    text: str

    @property
    def significant(self) -> bool:
        return self.comparison.significant


@dataclass(frozen=True)
class FirstWeekReport:
    """The stored analysis of one scope, ready for a page or the API."""

    course: Course | None
    computed_at: datetime.datetime | None  # None: not computed yet
    definition: Definition
    analysed: int
    weak: int
    rest: int
    outcomes: list[Outcome]
    factors: list[Factor]  # every signal compared, largest |d| first
    recommendation: str
    cohort: int = 0  # distinct learners with a weak first week (the segment's size)

    @property
    def separating(self) -> list[Factor]:
        """The factors worth presenting: significant after Holm and at least small."""
        return [f for f in self.factors if f.significant]

    @property
    def has_groups(self) -> bool:
        return self.weak > 0 and self.rest > 0


def _comparison(row: dict) -> Comparison:
    return Comparison(
        signal=row["signal"],
        n_a=row["n_weak"],
        n_b=row["n_rest"],
        mean_a=row["weak_mean"],
        mean_b=row["rest_mean"],
        cohen_d=float(row["cohen_d"]),  # "inf" / "-inf" stored as text
        d_low=float(row["d_low"]),
        d_high=float(row["d_high"]),
        p_value=row["p_value"],
        p_value_holm=row["p_value_holm"],
    )


def first_week_report(*, course: Course | None) -> FirstWeekReport:
    """The stored first-week analysis of `course` (None: the platform); empty groups and no
    `computed_at` when it has not been computed. One query."""
    snapshot = FirstWeekSnapshot.objects.filter(course=course).first()
    if snapshot is None:
        return FirstWeekReport(course, None, first_week_definition(), 0, 0, 0, [], [], "")
    rest = snapshot.rest
    outcomes = []
    for name, label, weak_n, rest_n in (
        ("dropped_off", "Dropped off", snapshot.weak_dropped, snapshot.rest_dropped),
        ("completed", "Completed", snapshot.weak_completed, snapshot.rest_completed),
    ):
        weak_p, rest_p = proportion(weak_n, snapshot.weak), proportion(rest_n, rest)
        outcomes.append(Outcome(name, label, weak_p, rest_p, rate_difference(weak_p, rest_p)))
    factors = [
        Factor(c, LABELS.get(c.signal, c.signal), factor_text(c))
        for c in map(_comparison, snapshot.comparisons)
    ]
    return FirstWeekReport(
        course=course,
        computed_at=snapshot.computed_at,
        definition=Definition(snapshot.first_days, snapshot.min_active_days, snapshot.horizon_days),
        analysed=snapshot.analysed,
        weak=snapshot.weak,
        rest=rest,
        outcomes=outcomes,
        factors=factors,
        recommendation=snapshot.recommendation,
        cohort=len(snapshot.weak_learners),
    )
