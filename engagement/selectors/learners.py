"""Reads behind the learner page, and the one definition of a learner's risk across courses.

Scores are per enrolment (learner x course). Where one figure per learner is needed (the
learner page's headline, the dashboard's "learners at risk", ``export_scores --per-learner``)
it is the learner-level risk of ``learner_risks``:

    a learner's risk in a run = the HIGHEST drop-off risk among their enrolments in that run,
    and the course of that enrolment is the one that drives it (ties: the lower course id).

The highest, not an average: staff act on a learner (one call, one message), and what needs
acting on is the course they are about to leave; an average would hide a course being
abandoned behind one going well. The level is that enrolment's level.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from accounts.models import User
from engagement.models import Alert, EngagementScore, PersonalizationProfile, ScoringRun
from engagement.scoring.signals import SIGNALS, Signal

HISTORY_LIMIT = 180  # score history points on the learner page (about half a year of nights)


@dataclass(frozen=True)
class LearnerRisk:
    """A learner's risk in one run, derived from their enrolments' scores (module docstring)."""

    user_id: int
    risk: int  # the highest drop_off_risk of their enrolments
    level: str  # the level of that enrolment
    course_id: int | None  # the course that drives the risk (None: a score from before courses)
    enrolments: int  # enrolments scored in the run
    never_started: int  # of which never started


def learner_risk_of(rows: Iterable[Any]) -> LearnerRisk | None:
    """The learner-level risk of one learner's scores in a run (no query), or None if none.

    ``rows`` have user_id, course_id, drop_off_risk, level and never_started (score objects).
    """
    rows = list(rows)
    if not rows:
        return None
    top = min(rows, key=lambda r: (-r.drop_off_risk, r.course_id is None, r.course_id or 0))
    return LearnerRisk(
        user_id=top.user_id,
        risk=top.drop_off_risk,
        level=top.level,
        course_id=top.course_id,
        enrolments=len(rows),
        never_started=sum(1 for r in rows if r.never_started),
    )


def learner_risks(
    *, run: ScoringRun, user_ids: Iterable[int] | None = None
) -> dict[int, LearnerRisk]:
    """Each learner's risk in `run` (all learners, or `user_ids`), keyed by user id; one query.

    The definition is the module docstring's: the highest risk among the learner's enrolments,
    with the course that drives it.
    """
    scores = EngagementScore.objects.filter(run=run)
    if user_ids is not None:
        scores = scores.filter(user_id__in=list(user_ids))
    by_user: dict[int, list[EngagementScore]] = {}
    for row in (
        scores.only("user_id", "course_id", "drop_off_risk", "level", "never_started")
        .order_by("user_id", "course_id")
        .iterator(chunk_size=5000)
    ):
        by_user.setdefault(row.user_id, []).append(row)
    risks = {user_id: learner_risk_of(rows) for user_id, rows in by_user.items()}
    return {user_id: risk for user_id, risk in risks.items() if risk is not None}


@dataclass(frozen=True)
class SignalRow:
    """One signal of a score with its catalogue entry."""

    name: str
    description: str
    unit: str
    window_days: int | None
    value: Any


@dataclass
class SignalGroup:
    """Signals that belong together on the learner page."""

    title: str
    signals: list[SignalRow] = field(default_factory=list)


@dataclass(frozen=True)
class LearnerDetail:
    """Everything the learner page shows about one learner.

    ``scores`` are the learner's enrolments in the latest finished run that scored them,
    riskiest first; ``risk`` is derived from them (``learner_risk_of``); ``score`` is the
    enrolment on show (the one asked for, else the one driving the risk) and ``history`` that
    enrolment's scores over time, with any scores from before scores per enrolment (course
    empty) among them.
    """

    user: User
    scores: list[EngagementScore]
    risk: LearnerRisk | None
    score: EngagementScore | None
    history: list[EngagementScore]
    signals: dict[str, Any]  # the score's signal values by name
    signal_groups: list[SignalGroup]
    open_alerts: list[Alert]
    profile: PersonalizationProfile | None

    @property
    def as_of(self) -> datetime.date | None:
        """The as-of date of the scores on show."""
        return self.score.as_of if self.score else None


def learner_user_get(*, user_id: int) -> User | None:
    """The learner with this primary key, or None."""
    return User.objects.filter(pk=user_id).first()


def learner_detail(*, user: User, course: str | None = None) -> LearnerDetail:
    """The learner page's data in five queries: latest run, its scores, history, alerts, profile.

    Only scores of finished (done) runs count. `course` (an external id) picks the enrolment
    on show; unknown or absent, it is the one driving the learner's risk.
    """
    done = EngagementScore.objects.filter(user=user, run__status=ScoringRun.Status.DONE)
    newest_first = ("-as_of", "-run__finished_at", "-id")
    latest = done.order_by(*newest_first).values_list("run_id", flat=True).first()
    scores: list[EngagementScore] = []
    if latest is not None:
        scores = list(
            done.filter(run_id=latest)
            .select_related("course", "run")
            .order_by("-drop_off_risk", "course_id")
        )
    risk = learner_risk_of(scores)
    score = next(
        (s for s in scores if course and s.course and s.course.external_id == course), None
    )
    if score is None and risk is not None:
        score = next(s for s in scores if s.course_id == risk.course_id)
    history: list[EngagementScore] = []
    if score is not None:
        same = Q(course_id=score.course_id) if score.course_id else Q(course__isnull=True)
        history = list(
            done.filter(same | Q(course__isnull=True))
            .order_by(*newest_first)
            .only(
                "id", "as_of", "course_id", "drop_off_risk", "weekly_risk", "monthly_risk", "level"
            )[:HISTORY_LIMIT]
        )
        history.reverse()
    open_alerts = list(
        Alert.objects.filter(
            user=user, status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]
        ).select_related("rule", "course")
    )
    profile = PersonalizationProfile.objects.filter(user=user).first()
    signals = score.signal_values() if score else {}
    return LearnerDetail(
        user=user,
        scores=scores,
        risk=risk,
        score=score,
        history=history,
        signals=signals,
        signal_groups=signal_groups(signals),
        open_alerts=open_alerts,
        profile=profile,
    )


# Signal groups for the learner page, matched in order on the signal's name; first match wins.
_SIGNAL_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Cohort comparison", ("cohort_",)),
    (
        "Recency and gaps",
        ("recency", "gap_days", "streak", "days_since_first", "first_week"),
    ),
    ("Trend", ("trend", "decline", "decayed_")),
    ("Sessions", ("session",)),
    ("Lessons and progress", ("lesson", "progress")),
    ("Quizzes and assignments", ("quiz", "assignment")),
    ("Video and live sessions", ("video", "live_")),
    ("Study rhythm", ("entropy", "weekday", "weekend", "hour", "density", "per_active_day")),
    ("Course and enrolment", ("course", "enrolment", "self_paced", "withdrawn", "purchase")),
    ("Activity volume", ("active_", "events", "page_views", "social", "downloads", "custom")),
)
_OTHER_GROUP = "Other"


def signal_group_title(name: str) -> str:
    """The learner-page group a signal belongs to, from its name."""
    for title, needles in _SIGNAL_GROUPS:
        if any(needle in name for needle in needles):
            return title
    return _OTHER_GROUP


def signal_groups(
    values: dict[str, Any], catalogue: tuple[Signal, ...] | list[Signal] = SIGNALS
) -> list[SignalGroup]:
    """A learner's signal values joined to the catalogue and grouped; catalogue order kept.

    Values the catalogue does not know (an older model's signals) are shown under "Other".
    """
    order = [title for title, _ in _SIGNAL_GROUPS] + [_OTHER_GROUP]
    groups = {title: SignalGroup(title=title) for title in order}
    known = set()
    for sig in catalogue:
        if sig.name not in values:
            continue
        known.add(sig.name)
        groups[signal_group_title(sig.name)].signals.append(
            SignalRow(sig.name, sig.description, sig.unit, sig.window_days, values[sig.name])
        )
    for name in sorted(set(values) - known):
        groups[_OTHER_GROUP].signals.append(SignalRow(name, "", "", None, values[name]))
    return [groups[title] for title in order if groups[title].signals]
