"""Weekly leagues: groups of about 30 similar learners, promoted and demoted each week.

A league week is the learner-local Monday to Sunday (the ledger's ``local_date``), the same
week as the weekly leaderboard; gamification.services.leagues says why and when it closes.
"""

from django.db import models
from django.utils import timezone


class LeagueTier(models.TextChoices):
    BRONZE = "bronze", "Bronze"
    SILVER = "silver", "Silver"
    GOLD = "gold", "Gold"
    SAPPHIRE = "sapphire", "Sapphire"
    RUBY = "ruby", "Ruby"
    DIAMOND = "diamond", "Diamond"


class LeagueWeek(models.Model):
    """One league week, starting on a Monday; closed exactly once at its end."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSING = "closing", "Closing"
        CLOSED = "closed", "Closed"

    starts_on = models.DateField(unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    closing_started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a worker claimed the week to close it; a claim this old is retaken.",
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return f"week of {self.starts_on}"


class League(models.Model):
    """One group of learners of a tier in a week."""

    week = models.ForeignKey(LeagueWeek, on_delete=models.CASCADE, related_name="leagues")
    tier = models.CharField(max_length=16, choices=LeagueTier.choices)
    number = models.PositiveIntegerField()
    pace_xp = models.BigIntegerField(
        default=0,
        help_text="Last week's XP of the learners it was formed around; later joiners of the "
        "tier go to the league of the closest pace that has room.",
    )

    class Meta:
        ordering = ["week", "tier", "number"]
        constraints = [
            models.UniqueConstraint(fields=["week", "tier", "number"], name="league_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} league {self.number} ({self.week})"


class LeagueMembership(models.Model):
    """A learner's place in one week's league, and the outcome when the week closes."""

    class Outcome(models.TextChoices):
        PROMOTED = "promoted", "Promoted"
        STAYED = "stayed", "Stayed"
        DEMOTED = "demoted", "Demoted"

    week = models.ForeignKey(LeagueWeek, on_delete=models.CASCADE, related_name="memberships")
    league = models.ForeignKey(League, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    xp = models.BigIntegerField(
        default=0, help_text="League points (XP earned in the week), final once it closes."
    )
    final_rank = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["league", "-xp", "user"]
        constraints = [
            models.UniqueConstraint(fields=["week", "user"], name="league_member_once_a_week")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.league_id}"
