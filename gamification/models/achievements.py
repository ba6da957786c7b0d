"""Achievements: definitions with a criterion, tier and rarity, and who unlocked them."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class Achievement(models.Model):
    """A badge unlocked when its criterion reaches ``threshold`` (optionally within one course)."""

    class Criterion(models.TextChoices):
        LESSONS_COMPLETED = "lessons_completed", "Lessons completed"
        COURSES_COMPLETED = "courses_completed", "Courses completed"
        STREAK_DAYS = "streak_days", "Streak days"
        LEVEL_REACHED = "level_reached", "Level reached"
        PERFECT_QUIZZES = "perfect_quizzes", "Perfect quizzes"
        TOTAL_XP = "total_xp", "Total XP"
        EVENT_COUNT = "event_count", "Count of an event type"

    class Tier(models.TextChoices):
        BRONZE = "bronze", "Bronze"
        SILVER = "silver", "Silver"
        GOLD = "gold", "Gold"
        PLATINUM = "platinum", "Platinum"

    class Rarity(models.TextChoices):
        COMMON = "common", "Common"
        RARE = "rare", "Rare"
        EPIC = "epic", "Epic"
        LEGENDARY = "legendary", "Legendary"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    criterion = models.CharField(max_length=32, choices=Criterion.choices)
    threshold = models.PositiveIntegerField()
    event_type = models.CharField(
        max_length=64, blank=True, help_text="For 'count of an event type' only."
    )
    course = models.ForeignKey(
        "learning.Course",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Count only activity within this course.",
    )
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.BRONZE)
    icon = models.CharField(max_length=64, default="star", help_text="Icon name or emoji.")
    xp_reward = models.PositiveIntegerField(default=200)
    rarity = models.CharField(max_length=16, choices=Rarity.choices, default=Rarity.COMMON)
    holders_share = models.FloatField(
        default=0.0, help_text="Share of learners holding it, recomputed nightly."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["criterion", "threshold", "code"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """An event type for (and only for) event counts; a course only where it counts."""
        errors = {}
        if self.criterion == self.Criterion.EVENT_COUNT and not self.event_type:
            errors["event_type"] = "Name the event type to count (e.g. discussion_post)."
        if self.criterion != self.Criterion.EVENT_COUNT and self.event_type:
            errors["event_type"] = "Only 'count of an event type' achievements count one type."
        if self.course_id and self.criterion in (
            self.Criterion.STREAK_DAYS,
            self.Criterion.LEVEL_REACHED,
        ):
            errors["course"] = "Streaks and levels span all courses: leave the course empty."
        if self.threshold is not None and self.threshold < 1:
            errors["threshold"] = "At least 1."
        if errors:
            raise ValidationError(errors)


class AchievementUnlock(models.Model):
    """A learner holds an achievement; unique, so it is unlocked exactly once."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="achievements")
    achievement = models.ForeignKey(Achievement, on_delete=models.CASCADE, related_name="unlocks")
    unlocked_at = models.DateTimeField(default=timezone.now)
    granted_by = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Staff member who unlocked it by hand; empty when earned.",
    )
    reason = models.CharField(max_length=255, blank=True, help_text="Why staff unlocked it.")

    class Meta:
        ordering = ["-unlocked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "achievement"], name="achievement_unlocked_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} unlocked {self.achievement_id}"


class AchievementCounter(models.Model):
    """How many events of one kind a learner sent (overall, or within one course).

    Gamification sits below engagement and cannot read its events, so the counts that
    "count of an event type" and "perfect quizzes" achievements need are kept here, updated
    from the events ingestion hands over. `name` is an event type, or ``perfect_quiz`` for a
    quiz submitted with full marks; `course_key` is a course's id, or 0 for all courses (a
    plain number rather than a foreign key, so that "all courses" can take part in the
    unique key on every database).
    """

    PERFECT_QUIZ = "perfect_quiz"
    ALL_COURSES = 0

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)
    course_key = models.PositiveBigIntegerField(default=ALL_COURSES)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name", "course_key"], name="achievement_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.name}@{self.course_key}: {self.count}"
