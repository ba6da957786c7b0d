"""The XP actions catalogue and the append-only ledger of every XP change."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class XpAction(models.Model):
    """Something a learner does that earns XP, with its default amount and anti-cheat limits."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    amount = models.PositiveIntegerField(help_text="XP awarded by default.")
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text="Behaviour event types that earn this action when ingested.",
    )
    daily_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most times per learner-local day this action pays; empty for no cap.",
    )
    min_interval_seconds = models.PositiveIntegerField(
        default=180,
        help_text="Seconds before the same action on the same object pays again.",
    )
    burst_limit = models.PositiveIntegerField(
        default=10, help_text="Most XP-earning actions of any kind within the burst window."
    )
    burst_window_seconds = models.PositiveIntegerField(default=60)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.amount} XP)"


class XpTransaction(models.Model):
    """One change of a learner's XP: never edited, never deleted; totals derive from these."""

    class Kind(models.TextChoices):
        AWARD = "award", "Award"
        GRANT = "grant", "Staff grant"
        REVOKE = "revoke", "Staff revocation"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="xp_ledger")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.AWARD)
    action = models.ForeignKey(
        XpAction, null=True, blank=True, on_delete=models.PROTECT, related_name="transactions"
    )
    amount = models.IntegerField(help_text="Negative for a revocation.")
    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(
        max_length=255, blank=True, help_text="What was acted on: an event, lesson or quiz id."
    )
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=255, unique=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    local_date = models.DateField(help_text="occurred_at's date in the learner's own timezone.")
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-occurred_at"], name="xp_user_time"),
            models.Index(fields=["user", "action", "local_date"], name="xp_user_action_day"),
            models.Index(fields=["occurred_at"], name="xp_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="xp_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} XP to {self.user_id} ({self.kind})"


class XpRefusal(models.Model):
    """An award that anti-cheat refused, kept with its reason so staff can see it."""

    class Reason(models.TextChoices):
        DAILY_CAP = "daily_cap", "Daily cap reached"
        MIN_INTERVAL = "min_interval", "Same action on the same object too soon"
        BURST = "burst", "Too many actions in a short time"
        INACTIVE = "inactive", "Action switched off"

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    action = models.ForeignKey(XpAction, on_delete=models.CASCADE, related_name="refusals")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    reference = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["user", "-occurred_at"], name="xp_refusal_user_time")]

    def __str__(self) -> str:
        return f"refused {self.action_id} for {self.user_id}: {self.reason}"
