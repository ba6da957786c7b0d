"""Campaigns: saved audiences (segments), campaigns with their schedules or drip steps, the
runs that sent them and who each run targeted, drip progress per learner, and the log of who
did what when."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Now
from django.utils.timezone import now

from interventions.models import Channel


class Segment(models.Model):
    """A saved audience: a filter in the campaigns filter language (campaigns.filters),
    evaluated afresh whenever it is used."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=300, blank=True)
    filter = models.JSONField(help_text="A filter in the campaigns filter language.")
    is_predefined = models.BooleanField(
        default=False, help_text="One of Stride's own segments: not editable."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_predefined", "name"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    """Messages to an audience on a schedule: once, on a recurrence rule, or as a drip of
    steps after each learner's anchor. Moves draft -> scheduled/active -> paused ->
    completed or cancelled (campaigns.services.campaigns)."""

    class Kind(models.TextChoices):
        ONE_TIME = "one_time", "One-time"
        RECURRING = "recurring", "Recurring"
        DRIP = "drip", "Drip sequence"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Anchor(models.TextChoices):
        SIGNUP = "signup", "Signing up"
        ENROLLMENT = "enrollment", "Enrolling in a course"
        AUDIENCE = "audience", "Joining the audience"
        FIRST_ACTIVITY = "first_activity", "First activity"

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    template = models.ForeignKey(
        "interventions.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="One-time and recurring campaigns: the message.",
    )
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    filter = models.JSONField(
        null=True, blank=True, help_text="A custom audience, when no segment is chosen."
    )
    # Schedule. One-time: starts_at. Recurring: rrule from starts_at's date at send_time in
    # timezone (until/count inside the rule). Drip: anchor (+ anchor_course).
    starts_at = models.DateTimeField(null=True, blank=True)
    rrule = models.CharField(
        "recurrence rule",
        max_length=300,
        blank=True,
        help_text="RFC 5545, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR (UNTIL or COUNT may end it).",
    )
    send_time = models.TimeField(null=True, blank=True, help_text="Recurring: the time of day.")
    timezone = models.CharField(max_length=64, default="UTC")
    learner_local_time = models.BooleanField(
        default=False,
        help_text="Send to each learner at the schedule's time in their own timezone.",
    )
    anchor = models.CharField(max_length=16, choices=Anchor.choices, blank=True)
    anchor_course = models.ForeignKey(
        "learning.Course",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Drip anchored on enrolment: this course (empty: any).",
    )
    exit_conditions = models.JSONField(
        default=list,
        blank=True,
        help_text='Drip: any of "completed", "converted", "unsubscribed", "left_audience".',
    )
    rate_per_minute = models.PositiveIntegerField(
        default=0, help_text="At most this many messages a minute (0: as fast as they go)."
    )
    holdout_percent = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(50)],
        help_text="Share of the eligible learners deliberately not contacted (the same ones "
        "every run), to measure whether the campaign works.",
    )
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_run_at"], name="campaign_status_next")]

    def __str__(self) -> str:
        return self.name

    @property
    def source_prefix(self) -> str:
        """What starts the `source` of every delivery this campaign made."""
        return f"campaign:{self.pk}:"

    @property
    def holdout_scope(self) -> str:
        """What the campaign's holdout is drawn for: the same learners are held out of every
        run and step."""
        return f"campaign:{self.pk}"


class DripStep(models.Model):
    """One message of a drip: `template` `delay_days` (+ hours) after the anchor, or after the
    previous step when `after_previous`."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    template = models.ForeignKey(
        "interventions.MessageTemplate", on_delete=models.PROTECT, related_name="+"
    )
    delay_days = models.PositiveIntegerField(default=0)
    delay_hours = models.PositiveSmallIntegerField(default=0)
    after_previous = models.BooleanField(
        default=False, help_text="Count the delay from the previous step, not from the anchor."
    )

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="step_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · step {self.position}"

    @property
    def source(self) -> str:
        return f"campaign:{self.campaign_id}:step:{self.pk}"


class CampaignRun(models.Model):
    """One occurrence of a campaign (a drip: one dispatch that sent steps): who was targeted,
    and what became of them, counted by its chunks."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    occurrence = models.DateTimeField(help_text="The scheduled time this run is for.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    targeted = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    deferred = models.PositiveIntegerField(default=0, help_text="Of queued: held by quiet hours.")
    skipped = models.JSONField(default=dict, blank=True, help_text="Skip reason -> learners.")
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurrence", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "occurrence"], name="run_unique_campaign_occurrence"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} at {self.occurrence:%Y-%m-%d %H:%M}"

    @property
    def source(self) -> str:
        return f"campaign:{self.campaign_id}:run:{self.pk}"

    @property
    def progress(self) -> int:
        """0-100: the share of chunks done."""
        if not self.chunks_total:
            return 100 if self.status == self.Status.DONE else 0
        return round(100 * self.chunks_done / self.chunks_total)


class CampaignRecipient(models.Model):
    """A learner a run targeted (its audience as evaluated when the run started), with the
    time their message is due."""

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    due_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "user"], name="recipient_unique_run_user"),
            models.UniqueConstraint(fields=["run", "position"], name="recipient_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.run_id}"


class RunChunk(models.Model):
    """A slice of a run's recipients (positions [first, last]), queued by one task; claimed
    so that two workers never do the same slice, reclaimed when its worker died."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first = models.PositiveIntegerField()
    last = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    deferred = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="chunk_unique_index"),
        ]
        indexes = [models.Index(fields=["status", "claimed_at"], name="chunk_status_claim")]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.index} ({self.status})"


class DripProgress(models.Model):
    """Where a learner is in a drip: when they entered, the last step sent, when the next is
    due, and whether (and why) they left."""

    class Exit(models.TextChoices):
        FINISHED = "finished", "Received every step"
        COMPLETED = "completed", "Completed the course"
        CONVERTED = "converted", "Converted"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        LEFT_AUDIENCE = "left_audience", "Left the audience"
        CANCELLED = "cancelled", "Campaign cancelled"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="progress")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(default=now)
    anchor_at = models.DateTimeField(
        help_text="The anchor the delays count from (a late entrant's is moved up so that "
        "they start at the first step)."
    )
    step = models.PositiveSmallIntegerField(default=0, help_text="The last step sent (0: none).")
    last_sent_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    exited_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=16, choices=Exit.choices, blank=True)

    class Meta:
        ordering = ["campaign", "entered_at"]
        verbose_name_plural = "drip progress"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="progress_unique_user"),
        ]
        indexes = [
            models.Index(fields=["campaign", "next_due_at"], name="progress_due"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.campaign_id} at step {self.step}"


class CampaignLog(models.Model):
    """Who did what to a campaign, when (created, edited, activated, paused, ...)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="log")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=32)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.campaign} {self.action} at {self.at:%Y-%m-%d %H:%M}"


class Experiment(models.Model):
    """An A/B/n test: variants with weights (the first is the control), a primary metric,
    secondary and guardrail metrics, a status and a decision (campaigns.services.experiments).

    What it varies: a message template's variants (the learner's variant is interventions'
    own sticky choice, and a delivery sent with it is the exposure), a campaign's or an
    automated rule's arms (each arm a template; the campaign's runs, or the rule, send each
    learner their arm's, and the send is the exposure), or something in the integrator's own
    platform (Stride assigns through the API and logs the exposure)."""

    class Kind(models.TextChoices):
        TEMPLATE = "template", "A template's variants"
        CAMPAIGN = "campaign", "A campaign's arms"
        RULE = "rule", "An automated rule's arms"
        PLATFORM = "platform", "Something in your own platform"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    hypothesis = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PLATFORM)
    template = models.ForeignKey(
        "interventions.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A template experiment: the template whose variants are compared.",
    )
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="experiments",
        help_text="A campaign experiment: the campaign whose arms are compared.",
    )
    rule = models.ForeignKey(
        "interventions.Rule",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A rule experiment: the automated rule whose arms are compared.",
    )
    variants = models.JSONField(
        help_text='[{"key": "control", "weight": 50}, {"key": "b", "weight": 50}]; the first '
        'is the control. A template experiment names each one\'s "variant" (its name), a '
        'campaign experiment each arm\'s "template" (a slug).'
    )
    primary_metric = models.JSONField()
    secondary_metrics = models.JSONField(default=list, blank=True)
    guardrail_metrics = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    auto_winner = models.BooleanField(
        default=False, help_text="Give the winner all traffic once the decision rule is met."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    winner = models.CharField(max_length=40, blank=True, help_text="The chosen variant's key.")
    decision = models.TextField(blank=True, help_text="Why the winner was chosen.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.key

    @property
    def variant_keys(self) -> list[str]:
        return [variant["key"] for variant in self.variants]

    @property
    def metrics(self) -> list[dict]:
        """Every metric, in the order the results compute them: primary, guardrails, secondary."""
        return [self.primary_metric, *self.guardrail_metrics, *self.secondary_metrics]

    @property
    def arm_source_prefix(self) -> str:
        """What starts the `source` of every delivery of a campaign or rule experiment's arms
        (a rule's deliveries are `rule:<id>:...`, a campaign's `campaign:<id>:...`)."""
        if self.kind == self.Kind.RULE:
            return f"rule:{self.rule_id}:"
        return f"campaign:{self.campaign_id}:"


class Exposure(models.Model):
    """A learner received or saw a variant: the row the analysis counts from. A learner with
    exposures to two variants is flagged and left out of the results."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="exposures")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=40)
    exposed_at = models.DateTimeField(default=now)
    source = models.CharField(
        max_length=64, help_text='"assignment" (the API) or "delivery:<id>" (a message).'
    )
    # When the row was written (a delivery's exposure is dated by its send, perhaps days
    # before): the stored outcomes look again at the learners exposed since their watermark.
    recorded_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "user", "variant"], name="exposure_unique_variant"
            ),
        ]
        indexes = [
            models.Index(fields=["experiment", "variant"], name="exposure_variant"),
            models.Index(fields=["experiment", "recorded_at"], name="exposure_recorded"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.variant} of {self.experiment_id}"


class ExposureOutcome(models.Model):
    """One exposed learner's figures in an experiment, stored so that results over a million
    exposures read a row per learner instead of probing their events: the covariate (activity
    in the 14 days before exposure) and each event metric's value, in the order of
    `Experiment.metrics` (0 where a metric is a delivery's, which results read live).

    Computed from the events received, and the exposures recorded, before the experiment's
    `ExperimentOutcomes.through`; results recompute live the learners with anything newer
    (campaigns.selectors.experiments), so the stored rows only ever save work."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=40, help_text="The first variant, by key.")
    exposed_at = models.DateTimeField(help_text="The first exposure.")
    multiple = models.BooleanField(
        default=False, help_text="Exposed to two variants: left out of the results."
    )
    covariate = models.IntegerField(default=0)
    metric_values = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "user"], name="exposure_outcome_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.experiment_id}"


class ExperimentOutcomes(models.Model):
    """How far an experiment's stored outcomes go: the metrics they were computed for (a
    change of metrics recomputes them all) and the watermark they are complete up to."""

    experiment = models.OneToOneField(
        Experiment, on_delete=models.CASCADE, primary_key=True, related_name="outcomes"
    )
    signature = models.CharField(max_length=64, blank=True)
    through = models.DateTimeField(
        null=True, blank=True, help_text="Events received and exposures recorded before it."
    )
    learners = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0, help_text="How long the last refresh took.")

    class Meta:
        verbose_name_plural = "experiment outcomes"

    def __str__(self) -> str:
        return f"outcomes of {self.experiment_id} through {self.through}"


class ExperimentLog(models.Model):
    """Who did what to an experiment, when: created, edited, started, stopped, decided (by a
    person or the auto-winner rule, with its figures)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="log")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=32)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.experiment} {self.action} at {self.at:%Y-%m-%d %H:%M}"
