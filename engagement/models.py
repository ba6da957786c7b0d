"""Behaviour events, risk models and scores, alerts and personalization profiles."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from engagement.indexes import TimeOrderedIndex


class Event(models.Model):
    """One learner action; append-only, identified by (source, client_id).

    This is the biggest table by far and ingestion must write tens of thousands of rows a
    second, so it carries only the indexes its readers need and no database-level foreign
    keys: every insert would otherwise pay three constraint triggers and three more indexes
    (measured: 2.2 s instead of 8.7 s per 300,000 rows). Ingestion only writes ids it has just
    resolved in the same transaction, and deletes still cascade through Django's collector.
    """

    class Device(models.TextChoices):
        DESKTOP = "desktop", "Desktop"
        MOBILE = "mobile", "Mobile"
        TABLET = "tablet", "Tablet"

    source = models.CharField(max_length=64, help_text="Idempotency namespace (the API key's).")
    client_id = models.CharField(max_length=128, help_text="The sender's unique id of the event.")
    type = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # covered by event_user_time
    )
    course = models.ForeignKey(
        "learning.Course",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    lesson = models.ForeignKey(
        "learning.Lesson",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    session_id = models.CharField(max_length=128, blank=True)
    device = models.CharField(max_length=16, choices=Device.choices, blank=True)
    platform = models.CharField(max_length=64, blank=True)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "client_id"], name="event_unique_source_id")
        ]
        indexes = [
            models.Index(fields=["user", "occurred_at"], name="event_user_time"),
            # Events arrive roughly in time order, so a BRIN index serves every time-window
            # scan (scoring, alerts, analytics) for a fraction of a B-tree's insert cost.
            TimeOrderedIndex(fields=["occurred_at"], name="event_time_brin", autosummarize=True),
            # Arrivals are in time order too: analytics' incremental refresh reads the events
            # received since its last run.
            TimeOrderedIndex(
                fields=["received_at"], name="event_received_brin", autosummarize=True
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} by {self.user_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class RiskModelVersion(models.Model):
    """A trained, calibrated drop-off model with the metrics it was chosen by."""

    version = models.PositiveIntegerField(unique=True)
    trained_at = models.DateTimeField(default=timezone.now)
    as_of = models.DateField(help_text="Training date; every label window ends on or before it.")
    horizon_days = models.PositiveSmallIntegerField()
    algorithm = models.CharField(max_length=64)
    signal_names = models.JSONField(default=list)
    metrics = models.JSONField(default=dict)
    examples = models.PositiveIntegerField(default=0)
    artifact = models.BinaryField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version} {self.algorithm} (as of {self.as_of})"


class ScoringRun(models.Model):
    """One pass that scores every learner as of a date; its scores form one snapshot."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    as_of = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    model_version = models.ForeignKey(
        RiskModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    signal_names = models.JSONField(
        default=list, blank=True, help_text="The order of the signal values its scores store."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-finished_at"], name="run_status_finished")]
        constraints = [
            # One unfinished run per as-of date: a second "Recalculate all" or a redelivered
            # nightly task joins the run under way instead of scoring every learner again.
            models.UniqueConstraint(
                fields=["as_of"],
                condition=Q(status__in=["pending", "running"]),
                name="scoring_run_one_unfinished_per_day",
            )
        ]

    def __str__(self) -> str:
        return f"Scoring run {self.pk} as of {self.as_of} ({self.status})"

    @property
    def percent(self) -> int:
        return round(100 * self.processed / self.total) if self.total else 0


class EngagementScore(models.Model):
    """The risk of one active enrolment (learner x course) as of a date, with its drivers and
    recommended interventions.

    Scores are per enrolment: a learner in two courses has two rows per run. The learner-level
    figure is derived from them (engagement.selectors.learners.learner_risks: the highest risk
    over the learner's enrolments). Rows with no course date from before scores were per
    enrolment (one mixed score per learner); runs since always set the course.
    """

    class Level(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    # No single-column indexes on run and user: the composite indexes below start with them
    # and serve every lookup and cascade; each index more is paid on every nightly insert.
    run = models.ForeignKey(
        ScoringRun, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="engagement_scores",
        db_index=False,
    )
    course = models.ForeignKey(
        "learning.Course",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The enrolment's course; empty on scores from before scores per enrolment.",
    )
    never_started = models.BooleanField(
        default=False, help_text="No activity in the course (or without one) by the as-of date."
    )
    as_of = models.DateField()
    scored_at = models.DateTimeField(default=timezone.now)
    drop_off_risk = models.PositiveSmallIntegerField(help_text="0-100, over the model's horizon.")
    weekly_risk = models.PositiveSmallIntegerField(help_text="0-100, within 7 days.")
    monthly_risk = models.PositiveSmallIntegerField(help_text="0-100, within 30 days.")
    confidence = models.PositiveSmallIntegerField(help_text="0-100.")
    level = models.CharField(max_length=16, choices=Level.choices)
    drivers = models.JSONField(default=list)
    recommendations = models.JSONField(default=list)
    # A list in the order of the run's signal_names: a third of the bytes of an object with the
    # names repeated in every score, which the nightly insert of every enrolment pays for
    # (measured 14 s -> 10 s for 70,000 scores). Scores written before hold an object.
    signals = models.JSONField(default=dict, help_text="Signal values (see signal_values).")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "user", "course"], name="score_unique_run_user_course"
            ),
        ]
        indexes = [
            # Riskiest first; covering the learner too, so that campaigns' "risk >= N"
            # audiences read the index alone, not the wide rows with their signal JSON.
            models.Index(fields=["run", "-drop_off_risk"], include=["user"], name="score_run_risk"),
            # The course filter of the dashboard and the APIs: one course's rows, riskiest first.
            models.Index(fields=["run", "course", "-drop_off_risk"], name="score_run_course_risk"),
            # Small and covering: the dashboard's stats and histogram read it alone (index-only
            # scans) instead of the wide rows with their JSON; also the level-filtered list.
            models.Index(fields=["run", "level", "drop_off_risk"], name="score_run_level_risk"),
            models.Index(fields=["user", "-as_of"], name="score_user_asof"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.user_id} in {self.course_id} {self.drop_off_risk} ({self.level}) "
            f"as of {self.as_of}"
        )

    def signal_values(self) -> dict[str, Any]:
        """The score's signals by name (reads ``run.signal_names`` for the stored list)."""
        if isinstance(self.signals, dict):
            return self.signals
        return dict(zip(self.run.signal_names or [], self.signals or [], strict=False))

    @property
    def raising_drivers(self) -> list[dict]:
        """Drivers that raise the risk (positive points), strongest first."""
        return [d for d in self.drivers or [] if (d.get("contribution") or 0) > 0]

    @property
    def lowering_drivers(self) -> list[dict]:
        """Drivers that lower the risk (negative points), strongest first."""
        return [d for d in self.drivers or [] if (d.get("contribution") or 0) < 0]


class AlertRule(models.Model):
    """A condition that raises alerts about learners; staff tune priority and cooldown."""

    class Code(models.TextChoices):
        CRITICAL_RISK = "critical_risk", "Critical drop-off risk"
        INACTIVE_14_DAYS = "inactive_14_days", "No activity for 14 days"
        NO_LOGIN_7_DAYS = "no_login_7_days", "No login for 7 days"
        LOW_QUIZ_SCORES = "low_quiz_scores", "Low quiz scores"
        WEAK_FIRST_WEEK = "weak_first_week", "Weak first week"
        RISK_RISING = "risk_rising", "Risk up 20+ points in a week"
        STREAK_AT_RISK = "streak_at_risk", "Streak about to break"
        ABANDONED_VIDEOS = "abandoned_videos", "Abandoned videos"
        MISSED_LIVE_SESSIONS = "missed_live_sessions", "Missed live sessions"
        NO_SHOW_RISK = "no_show_risk", "Likely no-show at a live session"

    code = models.CharField(max_length=32, choices=Code.choices, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(default=50, help_text="0-100; higher first.")
    cooldown_hours = models.PositiveIntegerField(
        default=72, help_text="No new alert of this rule for the same learner within this time."
    )
    params = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-priority", "code"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """A rule firing for one enrolment (course set) or one learner (course empty: rules that are
    about the learner, not a course, such as a streak); open until acknowledged or resolved."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    priority = models.PositiveSmallIntegerField()
    message = models.CharField(max_length=255)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-priority", "-created_at"]
        constraints = [
            # At most one unresolved alert per rule and enrolment (or, for rules about the
            # learner, per rule and learner): re-firing is de-duplicated. Two constraints, as
            # NULL courses are distinct in a unique index on every database we support.
            models.UniqueConstraint(
                fields=["rule", "user", "course"],
                condition=Q(status__in=["open", "acknowledged"], course__isnull=False),
                name="alert_one_unresolved_per_rule_enrolment",
            ),
            models.UniqueConstraint(
                fields=["rule", "user"],
                condition=Q(status__in=["open", "acknowledged"], course__isnull=True),
                name="alert_one_unresolved_per_rule_learner",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-priority"], name="alert_status_priority"),
            models.Index(fields=["rule", "user", "-created_at"], name="alert_rule_user_time"),
        ]

    def __str__(self) -> str:
        return f"{self.rule.code} for {self.user_id} ({self.status})"


class PersonalizationProfile(models.Model):
    """How a learner studies: when, on which days, how fast, in which format."""

    class Pace(models.TextChoices):
        UNKNOWN = "unknown", "Not enough data yet"
        SLOW = "slow", "Slow"
        STEADY = "steady", "Steady"
        FAST = "fast", "Fast"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personalization"
    )
    study_hours = models.JSONField(default=list, help_text="Usual local hours, most used first.")
    preferred_days = models.JSONField(default=list, help_text="ISO weekdays 1-7, most used first.")
    best_send_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    pace = models.CharField(max_length=16, choices=Pace.choices, default=Pace.UNKNOWN)
    lessons_per_week = models.FloatField(default=0)
    lessons_completed = models.PositiveIntegerField(
        default=0, help_text="Lessons completed in the days observed (the pace's evidence)."
    )
    observed_days = models.PositiveSmallIntegerField(
        default=0, help_text="Days from the first activity in the window to the as-of date."
    )
    preferred_format = models.CharField(
        max_length=32, blank=True, help_text="Empty: not enough evidence of a format yet."
    )
    format_uses = models.JSONField(
        default=dict, blank=True, help_text="Uses of each content format (the evidence)."
    )
    events_considered = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Profile of {self.user_id}"

    @property
    def format_uses_ranked(self) -> list[tuple[str, int]]:
        """The uses of each format, most used first (JSON objects keep no order)."""
        uses = self.format_uses or {}
        return sorted(((str(k), int(v)) for k, v in uses.items()), key=lambda kv: (-kv[1], kv[0]))
