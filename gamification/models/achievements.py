"""Achievements: definitions with a criterion, tier and rarity, and who unlocked them."""

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

    class Meta:
        ordering = ["-unlocked_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "achievement"], name="achievement_unlocked_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} unlocked {self.achievement_id}"
