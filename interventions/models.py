"""Interventions: message templates and their variants, deliveries with their status timeline,
tracked links, the opt-outs and suppressions every send checks, and the holdouts (learners
deliberately not contacted, to measure whether contacting works)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone


class InterventionType(models.TextChoices):
    """The eight types engagement recommends (engagement.services.recommendations)."""

    HUMAN_OUTREACH = "human_outreach", "Human outreach"
    DISCOUNT_OFFER = "discount_offer", "Discount offer"
    GENTLE_REMINDER = "gentle_reminder", "Gentle reminder"
    STREAK_WARNING = "streak_warning", "Streak warning"
    PERSONALIZED_CONTENT = "personalized_content", "Personalized content"
    PEER_COMPARISON = "peer_comparison", "Peer comparison"
    MILESTONE_CELEBRATION = "milestone_celebration", "Milestone celebration"
    ACHIEVEMENT_NOTIFICATION = "achievement_notification", "Achievement notification"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    IN_APP = "in_app", "In-app"
    PUSH = "push", "Web Push"
    SMS = "sms", "SMS"


class MessageTemplate(models.Model):
    """A message in Django template syntax over the plain-data context of
    `interventions.selectors.context` (first name, course, lesson to resume, streak, XP, level,
    next achievement, drivers, CTA and unsubscribe links)."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    intervention_type = models.CharField(max_length=32, choices=InterventionType.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    subject = models.CharField(max_length=200, help_text="Email subject or notification title.")
    body = models.TextField(
        help_text="Plain text with Django template tags; blank lines split paragraphs."
    )
    cta_label = models.CharField("call to action", max_length=80, blank=True)
    cta_path = models.CharField(
        "call-to-action link",
        max_length=500,
        blank=True,
        help_text="A template too, e.g. {{ resume_path }}; a path on Stride or an https URL.",
    )
    goal_event = models.CharField(
        max_length=64,
        blank=True,
        help_text="The event type that counts as a conversion, e.g. lesson_completed.",
    )
    attribution_hours = models.PositiveIntegerField(
        default=72, validators=[MinValueValidator(1)], help_text="Conversion window after a send."
    )
    ai_personalise = models.BooleanField(
        "personalise with AI",
        default=False,
        help_text="Rewrite the body for each learner from their behaviour (Claude when "
        "ANTHROPIC_API_KEY is set, else the built-in writer); the CTA link is never touched.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "template"

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    """An alternative subject, body and CTA label of a template, chosen by weight; a learner
    always gets the same variant of a template."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=80)
    subject = models.CharField(max_length=200, blank=True, help_text="Blank: the template's.")
    body = models.TextField(blank=True, help_text="Blank: the template's.")
    cta_label = models.CharField(max_length=80, blank=True, help_text="Blank: the template's.")
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["template", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "name"], name="variant_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.template.slug} / {self.name}"


class Delivery(models.Model):
    """One message to one learner on one channel for one source; unique, so no retry sends it
    twice. The status moves forward; each step keeps its time."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DEFERRED = "deferred", "Deferred"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"
        CONVERTED = "converted", "Converted"
        FAILED = "failed", "Failed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        SUPPRESSED = "suppressed", "Suppressed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries"
    )
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="deliveries"
    )
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    source = models.CharField(
        max_length=200,
        help_text="What asked for the message (e.g. api:<key>, manual:<staff id>:<time>).",
    )
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True)
    error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True, help_text="In-app: when it was read.")
    personalised_by = models.CharField(
        max_length=16, blank=True, help_text='"ai", "builtin", or empty (the template as is).'
    )
    ai_cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    ai_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ai_error = models.CharField(max_length=300, blank=True)
    conversion_event_id = models.BigIntegerField(
        null=True, blank=True, help_text="The stored event that counted as the conversion."
    )
    opens = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "source", "channel"], name="delivery_unique_user_source_channel"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="delivery_status_due"),
            models.Index(fields=["user", "-created_at"], name="delivery_user_time"),
            # Campaign figures group deliveries by source prefix ("campaign:<id>:"); the
            # pattern operator class lets PostgreSQL answer LIKE 'prefix%' from the index.
            models.Index(
                fields=["source"], name="delivery_source", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.slug} to {self.user} ({self.channel}, {self.status})"


class DeliveryLink(models.Model):
    """A link of a sent message: the click redirect goes only to the URL stored here."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="links")
    position = models.PositiveIntegerField()
    url = models.URLField(max_length=1000)

    class Meta:
        ordering = ["delivery", "position"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "position"], name="link_unique_position"),
        ]

    def __str__(self) -> str:
        return self.url


class ChannelOptOut(models.Model):
    """A learner who does not want messages on a channel (the unsubscribe page writes these)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_opt_outs"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    created_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "channel opt-out"
        constraints = [
            models.UniqueConstraint(fields=["user", "channel"], name="opt_out_unique_user_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.channel}"


class Suppression(models.Model):
    """An address never to send to again (a hard bounce, a complaint, or by hand)."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        MANUAL = "manual", "Added by staff"

    address = models.CharField(max_length=254, unique=True, help_text="Lower-case email address.")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"


HOLDOUT_PERCENT_MAX = 50


class Rule(models.Model):
    """When to send what by itself. After each scoring run (`trigger` "scoring"): learners
    whose enrolment is at one of `levels` and for whom engagement recommends
    `intervention_type` get `template`. On a gamification moment (`trigger` "moment"):
    learners who just had one of `moment_kinds` (e.g. a streak at risk) get it, if at one of
    `levels` (empty: any). Either way only where one of `drivers` raises their risk (empty:
    any), at most once per `cooldown_days` per learner from this rule. "Human outreach" at
    critical risk becomes an outreach task for staff instead (`creates_outreach_task`)."""

    class Trigger(models.TextChoices):
        SCORING = "scoring", "After each scoring run"
        MOMENT = "moment", "On a gamification moment"

    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCORING)
    levels = models.JSONField(
        default=list,
        blank=True,
        help_text='Risk levels, e.g. ["high", "critical"] (moment rules: empty means any).',
    )
    moment_kinds = models.JSONField(
        default=list, blank=True, help_text='Moment rules: e.g. ["streak_at_risk"].'
    )
    drivers = models.JSONField(
        default=list,
        blank=True,
        help_text="Only learners for whom one of these signals raises the risk (empty: any).",
    )
    intervention_type = models.CharField(max_length=32, choices=InterventionType.choices)
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )
    channel = models.CharField(
        max_length=16, choices=Channel.choices, blank=True, help_text="Blank: the template's."
    )
    cooldown_days = models.PositiveIntegerField(default=7)
    creates_outreach_task = models.BooleanField(
        default=False, help_text="Create a task for staff instead of sending a message."
    )
    urgent_channels = models.JSONField(
        default=list,
        blank=True,
        help_text='At critical risk, also send on these channels, e.g. ["push", "sms"] '
        "(each where the learner can be reached there).",
    )
    holdout_percent = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(0), MaxValueValidator(HOLDOUT_PERCENT_MAX)],
        help_text="share of eligible learners deliberately not contacted, to measure whether "
        f"the rule works (percent, 0 to {HOLDOUT_PERCENT_MAX}; 0: nobody held out)",
    )
    # Set by campaigns while an experiment runs on the rule's arms (see core.assignment):
    # each learner it reaches is sent their arm's template instead of `template`.
    arms_key = models.CharField(
        max_length=80, blank=True, editable=False, help_text="The running experiment's key."
    )
    arms = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text='[{"key": "control", "weight": 50, "template_id": 3}, ...] while an '
        "experiment runs on the rule's arms.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(holdout_percent__lte=HOLDOUT_PERCENT_MAX),
                name="rule_holdout_percent_max",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OutreachTask(models.Model):
    """A person should contact this learner: the critical-risk "human outreach"."""

    class Outcome(models.TextChoices):
        OPEN = "open", "Open"
        REACHED = "reached", "Reached the learner"
        NO_ANSWER = "no_answer", "No answer"
        CLOSED = "closed", "Closed without contact"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outreach_tasks"
    )
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=200)
    risk = models.PositiveSmallIntegerField(default=0)
    reason = models.CharField(max_length=300, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_outreach",
        limit_choices_to={"is_staff": True},
    )
    due_on = models.DateField()
    notes = models.TextField(blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OPEN)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["outcome", "due_on", "-risk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "source"], name="outreach_unique_user_source"),
        ]

    def __str__(self) -> str:
        return f"Contact {self.user} by {self.due_on}"


class PushSubscription(models.Model):
    """A browser's Web Push subscription (one per device): where the push service takes our
    messages for this learner, and the keys that encrypt them (RFC 8291)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField("public key", max_length=120)
    auth = models.CharField("auth secret", max_length=40)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "push subscription"

    def __str__(self) -> str:
        return f"{self.user} · {self.endpoint[:60]}"


class SmsContact(models.Model):
    """A learner's mobile number for SMS, kept only with their consent (``consented_at``)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sms_contact"
    )
    number = models.CharField(
        max_length=16,
        validators=[
            RegexValidator(
                r"^\+[1-9]\d{6,14}$",
                "Enter the number in international form: + then 7 to 15 digits, e.g. "
                "+447700900123.",
            )
        ],
        help_text="E.164, e.g. +447700900123.",
    )
    consented_at = models.DateTimeField(
        null=True, blank=True, help_text="When the learner agreed to texts; empty: no texts."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "SMS contact"

    def __str__(self) -> str:
        return f"{self.user} · {self.number}"


class Holdout(models.Model):
    """A learner deliberately not contacted: eligible for a message (or an outreach task) from
    `source` and past every opt-out, suppression and cap, but drawn into the holdout of
    `scope` (a hash of scope and learner, so always the same learners of a scope), and so
    left alone to measure whether contacting works. One per learner and source: a retried task
    never records twice. `channel` and `template` are the message's that was not sent
    (`channel` empty: an outreach task)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="holdouts"
    )
    source = models.CharField(
        max_length=200,
        help_text="What the delivery's source would have been (e.g. rule:3:run:40).",
    )
    scope = models.CharField(
        max_length=100,
        help_text="What the share is drawn for (e.g. rule:3 or campaign:12).",
    )
    channel = models.CharField(
        max_length=16, choices=Channel.choices, blank=True, help_text="Empty: an outreach task."
    )
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="holdouts"
    )
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "source"], name="holdout_unique_user_source"),
        ]
        indexes = [
            models.Index(fields=["scope", "created_at"], name="holdout_scope_time"),
        ]

    def __str__(self) -> str:
        return f"{self.user} held out of {self.source}"
