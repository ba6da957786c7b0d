"""Daily streaks in the learner's own calendar, the days that make them, and milestones."""

from django.db import models
from django.utils import timezone


class StreakDay(models.Model):
    """A learner-local day that keeps the streak alive: active, or covered by a freeze.

    Each row also carries the streak it belongs to (`run_started_on`, its first day) and how
    many active days that streak has counted up to and including this day (`run_length`;
    a frozen day bridges a gap but adds nothing), so that the latest row of a learner tells
    their current streak without reading their history.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        FROZEN = "frozen", "Covered by a freeze"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="streak_days")
    date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    activity_count = models.PositiveIntegerField(default=0)
    run_started_on = models.DateField(
        null=True, blank=True, help_text="First day of the streak this day belongs to."
    )
    run_length = models.PositiveIntegerField(
        default=0, help_text="Active days of that streak up to and including this day."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["user", "date"], name="streak_day_unique_user_date")
        ]
        # "Who was on a streak yesterday" reads a few days of every learner at once.
        indexes = [models.Index(fields=["date", "user"], name="streak_day_date")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.date} {self.status}"


class StreakMilestone(models.Model):
    """A streak length (7, 14, 30, 60, 100, 365 days) that pays a reward when reached."""

    days = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=64)
    xp_reward = models.PositiveIntegerField(default=0)
    freezes_reward = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["days"]

    def __str__(self) -> str:
        return f"{self.days}-day streak"


class StreakMilestoneReached(models.Model):
    """A learner reached a milestone within one streak (the streak's first day identifies it)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    milestone = models.ForeignKey(StreakMilestone, on_delete=models.CASCADE, related_name="+")
    streak_started_on = models.DateField()
    reached_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "streak milestone reached"
        verbose_name_plural = "streak milestones reached"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "milestone", "streak_started_on"],
                name="milestone_once_per_streak",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} reached {self.milestone_id} on {self.reached_on}"
