"""Reads for achievements: each learner's value of each criterion, progress, rarity bands.

Where each criterion's value comes from (gamification sits below engagement and never reads
its events):

=================  ==============================================================
lessons_completed  lessons with a completion in `learning.LessonProgress` (a lesson
                   completed twice counts once); within the achievement's course if set
courses_completed  enrollments with status completed (`learning.Enrollment`)
streak_days        the learner's longest streak (`LearnerGameProfile`); no course
level_reached      the learner's level (`LearnerGameProfile`); no course
total_xp           the learner's total XP, or the XP of ledger rows of the course
perfect_quizzes    quiz submissions with full marks, counted by gamification from the
                   events ingestion hands over (`AchievementCounter` "perfect_quiz")
event_count        events of `event_type`, counted likewise (`AchievementCounter`)
=================  ==============================================================

Counters are kept only for what an active achievement counts: an event-count or perfect-quiz
achievement created later counts from then on (the admin says so).

Rarity is the share of learners (those with a gamification profile, i.e. with any recorded
activity) holding the achievement: at least 35 % common, at least 10 % rare, at least 2 % epic,
below that legendary. It is recomputed nightly (`achievements_rarity_recompute`).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum

from core.lookups import any_of
from gamification.models import (
    Achievement,
    AchievementCounter,
    AchievementUnlock,
    LearnerGameProfile,
    XpTransaction,
)
from learning.models import Enrollment, LessonProgress

Criterion = Achievement.Criterion
Rarity = Achievement.Rarity

# (least share of learners holding it, rarity), most common first.
RARITY_BANDS: tuple[tuple[float, str], ...] = (
    (0.35, Rarity.COMMON),
    (0.10, Rarity.RARE),
    (0.02, Rarity.EPIC),
)

# The criteria read from the learner's profile (cheap: one row per learner).
PROFILE_CRITERIA = frozenset({Criterion.STREAK_DAYS, Criterion.LEVEL_REACHED, Criterion.TOTAL_XP})
# The event types that can move each other criterion (for evaluating only what a batch of
# events may have changed); event_count achievements name their own.
CRITERION_EVENT_TYPES: dict[str, frozenset[str]] = {
    Criterion.LESSONS_COMPLETED: frozenset({"lesson_completed"}),
    Criterion.COURSES_COMPLETED: frozenset({"course_completed"}),
    Criterion.PERFECT_QUIZZES: frozenset({"quiz_submitted"}),
}


def rarity_for(share: float) -> str:
    """The rarity band of an achievement held by `share` (0 to 1) of learners."""
    for least, rarity in RARITY_BANDS:
        if share >= least:
            return rarity
    return Rarity.LEGENDARY


def counter_name(achievement: Achievement) -> str | None:
    """The counter an achievement reads (None for criteria read from elsewhere)."""
    if achievement.criterion == Criterion.PERFECT_QUIZZES:
        return AchievementCounter.PERFECT_QUIZ
    if achievement.criterion == Criterion.EVENT_COUNT:
        return achievement.event_type or None
    return None


def active_achievements() -> list[Achievement]:
    """The active achievements, in display order (one query)."""
    return list(
        Achievement.objects.filter(is_active=True).order_by("criterion", "threshold", "code")
    )


def achievement_values(
    *, user_ids: Iterable[int], achievements: Sequence[Achievement]
) -> dict[int, dict[int, int]]:
    """Each learner's current value of each achievement's criterion: user -> achievement -> n.

    At most one grouped query per source the achievements need (profiles, lesson progress,
    enrollments, counters, course XP), whatever the number of learners.
    """
    ids = list(set(user_ids))
    values: dict[int, dict[int, int]] = {user_id: {} for user_id in ids}
    if not ids or not achievements:
        return values
    by_criterion: dict[str, list[Achievement]] = defaultdict(list)
    for achievement in achievements:
        by_criterion[achievement.criterion].append(achievement)

    if by_criterion.keys() & PROFILE_CRITERIA:
        profile = {
            user_id: (total, level, longest)
            for user_id, total, level, longest in LearnerGameProfile.objects.filter(
                any_of("user_id", ids)
            ).values_list("user_id", "total_xp", "level", "longest_streak")
        }
        for user_id in ids:
            total, level, longest = profile.get(user_id, (0, 1, 0))
            for achievement in by_criterion.get(Criterion.STREAK_DAYS, ()):
                values[user_id][achievement.pk] = longest
            for achievement in by_criterion.get(Criterion.LEVEL_REACHED, ()):
                values[user_id][achievement.pk] = level
            for achievement in by_criterion.get(Criterion.TOTAL_XP, ()):
                if achievement.course_id is None:
                    values[user_id][achievement.pk] = total

    course_xp = [a for a in by_criterion.get(Criterion.TOTAL_XP, ()) if a.course_id is not None]
    if course_xp:
        sums = _grouped(
            XpTransaction.objects.filter(
                any_of("user_id", ids), course_id__in={a.course_id for a in course_xp}
            ),
            "course_id",
            Sum("amount"),
        )
        _fill(values, ids, course_xp, sums)

    lessons = by_criterion.get(Criterion.LESSONS_COMPLETED, ())
    if lessons:
        counts = _grouped(
            LessonProgress.objects.filter(any_of("user_id", ids), completed_at__isnull=False),
            "lesson__course_id",
            Count("id"),
            per_course=any(a.course_id is not None for a in lessons),
        )
        _fill(values, ids, lessons, counts)

    courses = by_criterion.get(Criterion.COURSES_COMPLETED, ())
    if courses:
        counts = _grouped(
            Enrollment.objects.filter(any_of("user_id", ids), status=Enrollment.Status.COMPLETED),
            "course_id",
            Count("id"),
            per_course=any(a.course_id is not None for a in courses),
        )
        _fill(values, ids, courses, counts)

    counted = [
        a
        for criterion in (Criterion.PERFECT_QUIZZES, Criterion.EVENT_COUNT)
        for a in by_criterion.get(criterion, ())
        if counter_name(a)
    ]
    if counted:
        wanted = Q()
        for achievement in counted:
            wanted |= Q(name=counter_name(achievement), course_key=achievement.course_id or 0)
        stored = {
            (user_id, name, course_key): count
            for user_id, name, course_key, count in AchievementCounter.objects.filter(
                wanted, any_of("user_id", ids)
            ).values_list("user_id", "name", "course_key", "count")
        }
        for user_id in ids:
            for achievement in counted:
                key = (user_id, counter_name(achievement), achievement.course_id or 0)
                values[user_id][achievement.pk] = stored.get(key, 0)
    return values


def _grouped(
    queryset: QuerySet, course_field: str, aggregate, *, per_course: bool = True
) -> dict[tuple[int, int | None], int]:
    """(user, course) -> aggregate, plus (user, None) -> the sum over courses."""
    fields = ["user_id", course_field] if per_course else ["user_id"]
    rows = queryset.values(*fields).annotate(n=aggregate).order_by().values_list(*fields, "n")
    found: dict[tuple[int, int | None], int] = defaultdict(int)
    for row in rows:
        n = int(row[-1] or 0)
        found[row[0], None] += n
        if per_course:
            found[row[0], row[1]] += n
    return found


def _fill(
    values: dict[int, dict[int, int]],
    ids: Sequence[int],
    achievements: Sequence[Achievement],
    found: dict[tuple[int, int | None], int],
) -> None:
    for user_id in ids:
        for achievement in achievements:
            values[user_id][achievement.pk] = found.get((user_id, achievement.course_id), 0)


@dataclass(frozen=True, slots=True)
class AchievementProgress:
    """One achievement as a learner sees it: unlocked (when), or how far from unlocking."""

    code: str
    name: str
    description: str
    icon: str
    tier: str
    criterion: str
    threshold: int
    current: int  # the learner's value now (may exceed the threshold)
    course_id: int | None
    event_type: str
    xp_reward: int
    rarity: str
    holders_share: float
    unlocked_at: datetime.datetime | None

    @property
    def unlocked(self) -> bool:
        return self.unlocked_at is not None

    @property
    def percent(self) -> int:
        """0-100 of the way to the threshold; 100 once unlocked."""
        if self.unlocked or not self.threshold:
            return 100
        return min(99, int(100 * self.current / self.threshold))


def achievement_progress(user_id: int) -> list[AchievementProgress]:
    """Every active achievement with the learner's value, threshold, share and unlock date.

    Unlocked ones that are no longer active are listed too (a learner keeps what they won).
    Queries: the achievements, the learner's unlocks, and one per source of values.
    """
    unlocks = {
        achievement_id: unlocked_at
        for achievement_id, unlocked_at in AchievementUnlock.objects.filter(
            user_id=user_id
        ).values_list("achievement_id", "unlocked_at")
    }
    achievements = list(
        Achievement.objects.filter(Q(is_active=True) | Q(pk__in=list(unlocks))).order_by(
            "criterion", "threshold", "code"
        )
    )
    values = achievement_values(user_ids=[user_id], achievements=achievements)[user_id]
    return [
        AchievementProgress(
            code=a.code,
            name=a.name,
            description=a.description,
            icon=a.icon,
            tier=a.tier,
            criterion=a.criterion,
            threshold=a.threshold,
            current=values.get(a.pk, 0),
            course_id=a.course_id,
            event_type=a.event_type,
            xp_reward=a.xp_reward,
            rarity=a.rarity,
            holders_share=a.holders_share,
            unlocked_at=unlocks.get(a.pk),
        )
        for a in achievements
    ]


def achievement_unlock_list(*, user_id: int | None = None) -> QuerySet[AchievementUnlock]:
    """Unlocks, newest first, with learner, achievement and granting staff member."""
    unlocks = AchievementUnlock.objects.select_related("user", "achievement", "granted_by")
    return unlocks.filter(user_id=user_id) if user_id is not None else unlocks


def achievement_holder_counts() -> tuple[dict[int, int], int]:
    """Holders per achievement, and the number of learners (two queries)."""
    holders = dict(
        AchievementUnlock.objects.values("achievement_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("achievement_id", "n")
    )
    return holders, LearnerGameProfile.objects.count()
