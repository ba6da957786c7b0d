"""The first-week analysis: learners whose first week in a course was weak, against the rest.

Definitions (the page, the API and the saved segments follow them):

* A *first week* is the first 7 learner-local days of an enrolment: the day of enrolling in
  the learner's timezone and the six after it. Its activity is the learner's activity events
  (every type but engagement's NON_ACTIVITY_TYPES) in that course and those naming no course.
* A first week is *weak* when the learner was active on fewer than 2 of its days: the
  definition and thresholds of engagement's `weak_first_week` alert rule (`first_days`,
  `min_active_days`, as staff set them on the rule; defaults 7 and 2), so the page explains
  the learners the rule flags.
* *Analysed*: the students' enrolments whose first week ended at least the risk horizon H
  (STRIDE_RISK_HORIZON_DAYS, 10 days: engagement's drop-off horizon) ago, i.e. enrolled
  7 + H days or more before the run: each had H days after the first week to stay or go.
* *Dropped off*: withdrawn, or not completed and without activity in the course in the H
  days before the run (engagement's drop-off label: silent for the horizon or withdrawn).
  *Completed*: the enrolment's status is completed.
* Outcomes are proportions with 95% Wilson intervals, and the difference (weak minus rest)
  with Newcombe's interval. The first week's signals (`first_week_stats.COMPARED`) are
  compared with Welch's t-test, Cohen's d and Holm's correction
  (`analytics.services.significance`); only significant differences of at least a small
  effect are presented.
* Computed for the platform (every analysed enrolment) and per course; each run replaces the
  scope's snapshot (one row per scope, a unique constraint), so a rerun never duplicates.

Three queries read everything: the analysed enrolments, the activity events of their first
weeks (joined to them; a UTC window one day wider on each side, cut to the local days in
Python) and the enrolments active in the last H days.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from analytics.models import FirstWeekSnapshot
from analytics.services.first_week_stats import (
    COMPARED,
    FirstWeekEvent,
    first_week_signals,
    is_weak,
    recommendation,
)
from analytics.services.significance import Comparison, compare_groups, significant
from campaigns.filters import MAX_NODES, MAX_VALUES
from campaigns.models import Segment
from campaigns.services.segments import segment_save_once
from core.errors import DomainValidationError
from core.localtime import local_date
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import AlertRule, Event
from engagement.services.alerts import alert_rule_params_for
from learning.models import Course, Enrollment

DAY = datetime.timedelta(days=1)
PLATFORM = 0  # the course id standing for "the platform" inside the computation
Pair = tuple[int, int]  # (user id, course id): an enrolment


@dataclass(frozen=True)
class Definition:
    """What a weak first week is and when an enrolment is analysed (module docstring)."""

    first_days: int
    min_active_days: int
    horizon_days: int

    @property
    def text(self) -> str:
        return (
            f"A first week is the first {self.first_days} days of an enrolment, in the "
            "learner's own timezone, from the day of enrolling. It is weak when the learner "
            f"was active (any learning activity in the course, or naming no course) on fewer "
            f"than {self.min_active_days} of those days, as the weak first week alert rule "
            f"counts. Analysed: enrolments whose first week ended at least "
            f"{self.horizon_days} days ago. Dropped off: withdrawn, or not completed and no "
            f"activity in the course in the last {self.horizon_days} days."
        )


def first_week_definition() -> Definition:
    """The definition in force: the weak_first_week rule's thresholds as staff set them (its
    defaults without the rule) and engagement's drop-off horizon. One query."""
    params = alert_rule_params_for(code=AlertRule.Code.WEAK_FIRST_WEEK)
    return Definition(
        first_days=int(params["first_days"]),
        min_active_days=int(params["min_active_days"]),
        horizon_days=int(settings.STRIDE_RISK_HORIZON_DAYS),
    )


@dataclass
class _Enrolment:
    user_id: int
    course_id: int
    start: datetime.date  # the learner-local day of enrolling
    status: str
    events: list[FirstWeekEvent]


@dataclass(frozen=True)
class FirstWeekComputed:
    """What `first_week_compute` stored."""

    stored: int  # snapshots written (the platform's and one per course)
    analysed: int  # enrolments analysed over the platform
    weak: int


def _enrolments(cutoff: datetime.datetime, course: Course | None) -> dict[Pair, _Enrolment]:
    rows = Enrollment.objects.filter(user__role=User.Role.STUDENT, enrolled_at__lte=cutoff)
    if course is not None:
        rows = rows.filter(course=course)
    return {
        (user_id, course_id): _Enrolment(user_id, course_id, local_date(at, tz), status, [])
        for user_id, course_id, at, status, tz in rows.values_list(
            "user_id", "course_id", "enrolled_at", "status", "user__timezone"
        ).order_by()
    }


def _first_week_events(
    enrolments: Mapping[Pair, _Enrolment],
    cutoff: datetime.datetime,
    first_days: int,
    course: Course | None,
) -> None:
    """Attach to each enrolment the activity events of its first week: one query, joining
    each analysed enrolment to its learner's events in the course or naming none, from a day
    before enrolling to a day after the week (the local days are cut in Python, in each
    learner's timezone). On PostgreSQL a hash join over one scan of the events."""
    if not enrolments:
        return
    enrolled = "user__enrollments"
    conditions = Q(
        Q(course_id=F(f"{enrolled}__course_id")) | Q(course__isnull=True),
        user__role=User.Role.STUDENT,
        occurred_at__gte=F(f"{enrolled}__enrolled_at") - DAY,
        occurred_at__lt=F(f"{enrolled}__enrolled_at") + (first_days + 1) * DAY,
        **{f"{enrolled}__enrolled_at__lte": cutoff},
    )
    if course is not None:
        conditions &= Q(**{f"{enrolled}__course": course})
    events = (
        # One filter() call: every condition on the enrolment is about the same joined row.
        Event.objects.filter(conditions)
        .exclude(type__in=NON_ACTIVITY_TYPES)
        .order_by()
        .values_list("user_id", f"{enrolled}__course_id", "type", "occurred_at", "user__timezone")
    )
    for user_id, course_id, type_, at, tz in events.iterator(chunk_size=5000):
        enrolment = enrolments.get((user_id, course_id))
        if enrolment is not None:
            enrolment.events.append(FirstWeekEvent(local_date(at, tz), type_))


def _recently_active(
    since: datetime.datetime, course: Course | None = None
) -> set[tuple[int, int]]:
    """(learner, course) pairs with activity since `since` (in `course` only, if given)."""
    events = Event.objects.filter(occurred_at__gte=since, course__isnull=False)
    if course is not None:
        events = events.filter(course=course)
    return set(
        events.exclude(type__in=NON_ACTIVITY_TYPES)
        .order_by()
        .values_list("user_id", "course_id")
        .distinct()
    )


def _json_number(value: float) -> float | str:
    """JSON has no infinity (two constant, different groups give d = inf): "inf", "-inf"."""
    return value if math.isfinite(value) else str(value)


def _comparison_dict(c: Comparison) -> dict[str, Any]:
    return {
        "signal": c.signal,
        "n_weak": c.n_a,
        "n_rest": c.n_b,
        "weak_mean": c.mean_a,
        "rest_mean": c.mean_b,
        "cohen_d": _json_number(c.cohen_d),
        "d_low": _json_number(c.d_low),
        "d_high": _json_number(c.d_high),
        "p_value": c.p_value,
        "p_value_holm": c.p_value_holm,
    }


def _scope_snapshot(
    rows: Sequence[tuple[_Enrolment, dict[str, float], bool, bool]],
) -> dict[str, Any]:
    weak_values: dict[str, list[float]] = {name: [] for name in COMPARED}
    rest_values: dict[str, list[float]] = {name: [] for name in COMPARED}
    counts = dict.fromkeys(
        ("weak", "weak_dropped", "rest_dropped", "weak_completed", "rest_completed"), 0
    )
    weak_learners: set[int] = set()
    for enrolment, signals, weak, dropped in rows:
        group = "weak" if weak else "rest"
        values = weak_values if weak else rest_values
        for name in COMPARED:
            values[name].append(signals[name])
        if weak:
            counts["weak"] += 1
            weak_learners.add(enrolment.user_id)
        counts[f"{group}_dropped"] += int(dropped)
        counts[f"{group}_completed"] += int(enrolment.status == Enrollment.Status.COMPLETED)
    comparisons = compare_groups(weak_values, rest_values)
    return {
        "analysed": len(rows),
        **counts,
        "comparisons": [_comparison_dict(c) for c in comparisons],
        "recommendation": recommendation(significant(comparisons)),
        "weak_learners": sorted(weak_learners),
    }


def first_week_compute(
    *, now: datetime.datetime | None = None, course: Course | None = None
) -> FirstWeekComputed:
    """Recompute the first-week analysis (module docstring) as of `now` (default: now) for
    the platform and every course, or only for `course`, and upsert the snapshots."""
    now = now or timezone.now()
    definition = first_week_definition()
    cutoff = now - (definition.first_days + definition.horizon_days) * DAY
    enrolments = _enrolments(cutoff, course)
    _first_week_events(enrolments, cutoff, definition.first_days, course)
    recent = _recently_active(now - definition.horizon_days * DAY, course)
    scopes: dict[int, list[tuple[_Enrolment, dict[str, float], bool, bool]]] = defaultdict(list)
    if course is None:
        scopes[PLATFORM] = []
    else:
        scopes[course.pk] = []
    for enrolment in enrolments.values():
        signals = first_week_signals(
            start=enrolment.start, events=enrolment.events, first_days=definition.first_days
        )
        enrolment.events = []  # done with: the memory goes back at once
        weak = is_weak(signals, min_active_days=definition.min_active_days)
        dropped = enrolment.status == Enrollment.Status.WITHDRAWN or (
            enrolment.status != Enrollment.Status.COMPLETED
            and (enrolment.user_id, enrolment.course_id) not in recent
        )
        row = (enrolment, signals, weak, dropped)
        scopes[enrolment.course_id].append(row)
        if course is None:
            scopes[PLATFORM].append(row)
    snapshots = {key: _scope_snapshot(rows) for key, rows in scopes.items()}
    with transaction.atomic():
        if course is None:  # a course with no enrolment analysed any more has no snapshot
            FirstWeekSnapshot.objects.filter(course__isnull=False).exclude(
                course_id__in=list(snapshots)
            ).delete()
        for key, values in snapshots.items():
            FirstWeekSnapshot.objects.update_or_create(
                course_id=key or None,
                defaults={
                    **values,
                    "computed_at": now,
                    "first_days": definition.first_days,
                    "min_active_days": definition.min_active_days,
                    "horizon_days": definition.horizon_days,
                },
            )
    overall = snapshots[course.pk if course is not None else PLATFORM]
    return FirstWeekComputed(
        stored=len(snapshots), analysed=overall["analysed"], weak=overall["weak"]
    )


# --- the weak cohort saved as a campaigns segment ------------------------------------------


def first_week_filter(*, user_ids: Sequence[int]) -> dict[str, Any]:
    """The campaigns filter that selects exactly these learners (the `learner` field, in
    lists of at most MAX_VALUES ids)."""
    chunks = [list(user_ids[i : i + MAX_VALUES]) for i in range(0, len(user_ids), MAX_VALUES)]
    leaves = [{"field": "learner", "op": "in", "value": chunk} for chunk in chunks]
    return leaves[0] if len(leaves) == 1 else {"any": leaves}


def first_week_segment_save(*, course: Course | None, actor: User | None) -> Segment:
    """A campaigns segment of the learners with a weak first week in `course` (None: in any
    course), as of the stored snapshot; saving the same cohort again returns the segment saved
    before. Raises DomainValidationError naming `course` when there is no weak cohort."""
    snapshot = FirstWeekSnapshot.objects.filter(course=course).first()
    if snapshot is None or not snapshot.weak_learners:
        raise DomainValidationError(
            {"course": "No learner with a weak first week to save: run analyse_first_week."}
        )
    ids = list(snapshot.weak_learners)
    if len(ids) > MAX_VALUES * (MAX_NODES - 1):
        raise DomainValidationError({"course": "The cohort is too large for one segment."})
    filter_ = first_week_filter(user_ids=ids)
    where = f"in {course.title}" if course is not None else "(all courses)"
    name = f"Weak first week {where}, {snapshot.computed_at:%d %b %Y}"[:120]
    return segment_save_once(
        name=name,
        filter_=filter_,
        description=(
            f"{len(ids)} learners whose first week was weak (active on fewer than "
            f"{snapshot.min_active_days} of its {snapshot.first_days} days); "
            "saved from the analytics first-week page."
        )[:300],
        actor=actor,
        default_slug="weak-first-week",
        error_field="course",
    )
