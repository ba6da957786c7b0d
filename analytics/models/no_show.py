"""No-show prediction: each training attempt of the model (its card), and the prediction of
each upcoming live-session registration."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class NoShowModel(models.Model):
    """One training attempt: its held-out metrics against the baseline's and whether it is
    used. Predictions use the latest attempt's model if it beat the baseline, else the
    baseline (analytics.no_show_model explains both)."""

    trained_at = models.DateTimeField(default=timezone.now)
    n_outcomes = models.PositiveIntegerField(help_text="Past registrations with an outcome.")
    n_no_shows = models.PositiveIntegerField()
    n_train = models.PositiveIntegerField(default=0)
    n_holdout = models.PositiveIntegerField(default=0, help_text="In the latest sessions.")
    model_auc = models.FloatField(null=True, blank=True)
    model_log_loss = models.FloatField(null=True, blank=True)
    baseline_auc = models.FloatField(null=True, blank=True)
    baseline_log_loss = models.FloatField(null=True, blank=True)
    in_use = models.BooleanField(default=False, help_text="It beat the baseline on both.")
    note = models.CharField(max_length=255, blank=True)
    coefficients = models.JSONField(default=dict, blank=True, help_text="Per raw input unit.")
    feature_means = models.JSONField(default=dict, blank=True)
    fitted = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "no-show model"
        ordering = ["-trained_at", "-id"]
        get_latest_by = ["trained_at", "id"]

    def __str__(self) -> str:
        return f"No-show model v{self.pk} ({'in use' if self.in_use else 'not used'})"

    @property
    def version(self) -> int:
        return self.pk


class NoShowPrediction(models.Model):
    """The no-show probability of one registration, recomputed hourly until the session."""

    class Source(models.TextChoices):
        BASELINE = "baseline", "Weighted baseline"
        MODEL = "model", "Trained model"

    registration = models.OneToOneField(
        "learning.LiveSessionRegistration", on_delete=models.CASCADE, related_name="+"
    )
    probability = models.FloatField()
    source = models.CharField(max_length=16, choices=Source.choices)
    model = models.ForeignKey(
        NoShowModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    components = models.JSONField(default=dict, help_text="The inputs, by name.")
    reasons = models.JSONField(default=list, help_text="The top reasons in plain words.")
    predicted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "no-show prediction"
        ordering = ["-probability", "id"]
        indexes = [models.Index(fields=["-probability"], name="no_show_probability")]

    def __str__(self) -> str:
        return f"registration {self.registration_id}: {self.probability:.0%} ({self.source})"
