"""The XP actions catalogue and the append-only ledger of every XP change."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class XpAction(models.Model):
    """Something a learner does that earns XP, with its default amount and anti-cheat limits."""

    class Repeat(models.TextChoices):
        EACH = "each", "Every time (within the limits below)"
        ONCE_PER_REFERENCE = "once_per_reference", "Once per object (lesson, quiz, course, ...)"
        ONCE = "once", "Once per learner, ever"

    class Condition(models.TextChoices):
        ANY = "", "Any event of these types"
        QUIZ_PASSED = "quiz_passed", "A passed quiz (quiz_passed, or quiz_submitted with passed)"
        QUIZ_PERFECT = "quiz_perfect", "A quiz submitted with full marks"
        VIDEO_FINISHED = "video_finished", "A video watched to at least 90%"
        LONG_SESSION = "long_session", "A study session of at least 10 minutes"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    amount = models.PositiveIntegerField(help_text="XP awarded by default.")
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Behaviour event types that earn this action when ingested, e.g. "
            '["lesson_completed"]; empty for actions paid by services (streaks, achievements).'
        ),
    )
    condition = models.CharField(
        max_length=32,
        choices=Condition.choices,
        default=Condition.ANY,
        blank=True,
        help_text="Which of those events count.",
    )
    repeat = models.CharField(
        max_length=24,
        choices=Repeat.choices,
        default=Repeat.EACH,
        help_text="Once per object: completing the same lesson again earns nothing more.",
    )
    daily_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most times per learner-local day this action pays; empty for no cap.",
    )
    min_interval_seconds = models.PositiveIntegerField(
        default=180,
        help_text="Seconds before the same action on the same object pays again (0: no wait).",
    )
    burst_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=10,
        help_text=(
            "Most awards of burst-limited actions a learner may earn within the burst window; "
            "empty for none (actions paid by services), which then count toward no burst."
        ),
    )
    burst_window_seconds = models.PositiveIntegerField(default=60)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "XP action"

    def __str__(self) -> str:
        return f"{self.name} ({self.amount} XP)"


class XpTransaction(models.Model):
    """One change of a learner's XP: never edited, never deleted; totals derive from these."""

    class Kind(models.TextChoices):
        AWARD = "award", "Award"
        GRANT = "grant", "Staff grant"
        REVOKE = "revoke", "Staff revocation"

    # The ledger is the busiest table of the app (an import writes a row per award): every
    # index and every foreign-key check costs each row. The learner's index is the composite
    # xp_user_time; no query looks rows up by action or staff member. The action, course and
    # staff member are not checked by the database either (each check locks the referenced row,
    # and together they cost as much as the insert): Django applies their on_delete (PROTECT,
    # SET_NULL), and the writers take their ids from the catalogue, the stored events and the
    # signed-in staff member. The learner's key stays checked.
    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="xp_ledger", db_index=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.AWARD)
    action = models.ForeignKey(
        XpAction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
        db_constraint=False,
    )
    amount = models.IntegerField(help_text="Negative for a revocation.")
    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(
        max_length=255, blank=True, help_text="What was acted on: an event, lesson or quiz id."
    )
    course = models.ForeignKey(
        "learning.Course",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    idempotency_key = models.CharField(max_length=255)  # unique: see Meta
    once_key = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="Set for actions paid once (per learner, or per object): the database "
        "refuses a second row with the same key.",
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    local_date = models.DateField(help_text="occurred_at's date in the learner's own timezone.")
    balance_after = models.BigIntegerField(
        default=0, help_text="The learner's total right after this row was recorded."
    )
    level_after = models.PositiveSmallIntegerField(default=1)
    levelled_up = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = "XP transaction"
        indexes = [
            # A learner's rows by time: their history, and anti-cheat's look at recent awards
            # (daily caps too, through the UTC bounds of the local days).
            models.Index(fields=["user", "-occurred_at"], name="xp_user_time"),
            models.Index(fields=["occurred_at"], name="xp_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="xp_amount_not_zero"),
            # Constraints rather than unique=True: PostgreSQL then gets no second, LIKE-only
            # index per key, which nothing uses.
            models.UniqueConstraint(fields=["idempotency_key"], name="xp_idempotency_key_unique"),
            models.UniqueConstraint(
                fields=["once_key"],
                condition=Q(once_key__isnull=False),
                name="xp_once_key_unique",
            ),
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
        ALREADY_EARNED = "already_earned", "Already earned (paid once only)"

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    action = models.ForeignKey(XpAction, on_delete=models.CASCADE, related_name="refusals")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    reference = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255)  # unique: see Meta
    occurred_at = models.DateTimeField(default=timezone.now)
    balance = models.BigIntegerField(
        default=0, help_text="The learner's total when the award was refused."
    )
    level = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = "XP refusal"
        indexes = [models.Index(fields=["user", "-occurred_at"], name="xp_refusal_user_time")]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="xp_refusal_key_unique")
        ]

    def __str__(self) -> str:
        return f"refused {self.action_id} for {self.user_id}: {self.reason}"
