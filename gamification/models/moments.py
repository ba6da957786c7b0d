"""Moments: things worth telling a learner (level-up, unlock, milestone, streak at risk, league)."""

from django.db import models
from django.utils import timezone


class Moment(models.Model):
    """One moment, recorded once per dedupe key; pages show it and handlers may message it."""

    class Kind(models.TextChoices):
        LEVEL_UP = "level_up", "Level up"
        ACHIEVEMENT_UNLOCKED = "achievement_unlocked", "Achievement unlocked"
        STREAK_MILESTONE = "streak_milestone", "Streak milestone"
        STREAK_FREEZE_USED = "streak_freeze_used", "Streak freeze used"
        STREAK_AT_RISK = "streak_at_risk", "Streak at risk"
        LEAGUE_RESULT = "league_result", "League result"
        REWARD_GRANTED = "reward_granted", "Reward granted"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="moments")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=255, unique=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["user", "-occurred_at"], name="moment_user_time")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"
