"""The no-show alert rule: its code, and its row (data; staff tune it in the admin)."""

from django.db import migrations, models

# Frozen copy of the default at the time of writing, as in 0002_seed_alert_rules.
RULE = (
    "no_show_risk",
    "Likely no-show at a live session",
    "A registration for a live session in the next 48 hours whose predicted no-show "
    "probability is 50% or more.",
    65,
    24,
    {"min_probability": 0.5},
)


def create_rule(apps, schema_editor):
    AlertRule = apps.get_model("engagement", "AlertRule")
    code, name, description, priority, cooldown_hours, params = RULE
    AlertRule.objects.get_or_create(
        code=code,
        defaults={
            "name": name,
            "description": description,
            "priority": priority,
            "cooldown_hours": cooldown_hours,
            "params": params,
            "is_active": True,
        },
    )


def delete_rule(apps, schema_editor):
    AlertRule = apps.get_model("engagement", "AlertRule")
    AlertRule.objects.filter(code=RULE[0]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("engagement", "0009_event_received_brin"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alertrule",
            name="code",
            field=models.CharField(
                choices=[
                    ("critical_risk", "Critical drop-off risk"),
                    ("inactive_14_days", "No activity for 14 days"),
                    ("no_login_7_days", "No login for 7 days"),
                    ("low_quiz_scores", "Low quiz scores"),
                    ("weak_first_week", "Weak first week"),
                    ("risk_rising", "Risk up 20+ points in a week"),
                    ("streak_at_risk", "Streak about to break"),
                    ("abandoned_videos", "Abandoned videos"),
                    ("missed_live_sessions", "Missed live sessions"),
                    ("no_show_risk", "Likely no-show at a live session"),
                ],
                max_length=32,
                unique=True,
            ),
        ),
        migrations.RunPython(create_rule, delete_rule),
    ]
