"""Rewards a learner holds (streak freezes, discount codes, early access): every grant and use."""

from django.db import models
from django.utils import timezone


class RewardKind(models.TextChoices):
    STREAK_FREEZE = "streak_freeze", "Streak freeze"
    DISCOUNT_CODE = "discount_code", "Discount code"
    EARLY_ACCESS = "early_access", "Early access"


class Reward(models.Model):
    """A reward in the catalogue: what it is and what it gives."""

    code = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=RewardKind.choices)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    value = models.CharField(
        max_length=255, blank=True, help_text="A discount code, or what early access opens."
    )
    max_held = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most units a learner holds at once (2 for streak freezes); empty for no limit.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name


class RewardGrant(models.Model):
    """Units of a reward given to a learner, once per idempotency key."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="reward_grants"
    )
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="grants")
    quantity = models.PositiveIntegerField(
        default=1, help_text="Units given: the request, capped by the reward's max held."
    )
    requested_quantity = models.PositiveIntegerField(default=1)
    source = models.CharField(max_length=64, help_text="milestone, achievement, staff, ...")
    reason = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    granted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "reward"], name="reward_grant_user")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.reward_id} to {self.user_id}"


class RewardUse(models.Model):
    """One unit of a reward spent (a freeze covering a day, a code redeemed), once per key."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="reward_uses")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="uses")
    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=255, blank=True, help_text="e.g. the frozen day")
    idempotency_key = models.CharField(max_length=255, unique=True)
    refunded_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the use is undone (a late event repaired the day).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "reward"], name="reward_use_user")]

    def __str__(self) -> str:
        return f"{self.user_id} used {self.reward_id}"
