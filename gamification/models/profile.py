"""Per-learner gamification state derived from the ledger (rebuildable), plus preferences."""

from django.db import models


class LearnerGameProfile(models.Model):
    """A learner's derived totals and choices: XP, level, streak, league tier, visibility."""

    user = models.OneToOneField(
        "accounts.User", primary_key=True, on_delete=models.CASCADE, related_name="game_profile"
    )
    total_xp = models.BigIntegerField(default=0)
    level = models.PositiveSmallIntegerField(default=1)
    current_streak = models.PositiveIntegerField(default=0)
    longest_streak = models.PositiveIntegerField(default=0)
    last_active_date = models.DateField(null=True, blank=True)
    league_tier = models.CharField(max_length=16, default="bronze")
    show_on_leaderboards = models.BooleanField(
        default=True, help_text="Off: shown to others as 'a learner', still ranked for themselves."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["-total_xp", "user"], name="game_profile_xp")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.total_xp} XP, level {self.level}"
