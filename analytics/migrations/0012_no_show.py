import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0011_first_week"),
        ("learning", "0002_live_sessions"),
    ]

    operations = [
        migrations.CreateModel(
            name="NoShowModel",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("trained_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "n_outcomes",
                    models.PositiveIntegerField(help_text="Past registrations with an outcome."),
                ),
                ("n_no_shows", models.PositiveIntegerField()),
                ("n_train", models.PositiveIntegerField(default=0)),
                (
                    "n_holdout",
                    models.PositiveIntegerField(default=0, help_text="In the latest sessions."),
                ),
                ("model_auc", models.FloatField(blank=True, null=True)),
                ("model_log_loss", models.FloatField(blank=True, null=True)),
                ("baseline_auc", models.FloatField(blank=True, null=True)),
                ("baseline_log_loss", models.FloatField(blank=True, null=True)),
                (
                    "in_use",
                    models.BooleanField(default=False, help_text="It beat the baseline on both."),
                ),
                ("note", models.CharField(blank=True, max_length=255)),
                (
                    "coefficients",
                    models.JSONField(blank=True, default=dict, help_text="Per raw input unit."),
                ),
                ("feature_means", models.JSONField(blank=True, default=dict)),
                ("fitted", models.BinaryField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "no-show model",
                "ordering": ["-trained_at", "-id"],
                "get_latest_by": ["trained_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="NoShowPrediction",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("probability", models.FloatField()),
                (
                    "source",
                    models.CharField(
                        choices=[("baseline", "Weighted baseline"), ("model", "Trained model")],
                        max_length=16,
                    ),
                ),
                ("components", models.JSONField(default=dict, help_text="The inputs, by name.")),
                (
                    "reasons",
                    models.JSONField(default=list, help_text="The top reasons in plain words."),
                ),
                ("predicted_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "model",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="analytics.noshowmodel",
                    ),
                ),
                (
                    "registration",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="learning.livesessionregistration",
                    ),
                ),
            ],
            options={
                "verbose_name": "no-show prediction",
                "ordering": ["-probability", "id"],
                "indexes": [models.Index(fields=["-probability"], name="no_show_probability")],
            },
        ),
    ]
