"""Create the nine default alert rules (data only; staff tune them in the admin)."""

from django.db import migrations

# Frozen copy of the defaults at the time of writing: a migration must not import app code.
RULES = [
    (
        "critical_risk",
        "Critical drop-off risk",
        "The learner's latest drop-off score is at the critical level.",
        95,
        72,
        {"levels": ["critical"]},
    ),
    (
        "risk_rising",
        "Risk up 20+ points in a week",
        "Drop-off risk rose by 20 points or more since the score about a week earlier.",
        80,
        168,
        {"min_increase": 20, "min_days_between": 6},
    ),
    (
        "inactive_14_days",
        "No activity for 14 days",
        "Enrolled, active in the last 60 days, but nothing for 14 days or more.",
        75,
        168,
        {"days": 14, "active_within_days": 60},
    ),
    (
        "weak_first_week",
        "Weak first week",
        "First enrollment 7-14 days ago and active on fewer than 2 of its first 7 days.",
        70,
        336,
        {
            "min_days_since_enrollment": 7,
            "max_days_since_enrollment": 14,
            "first_days": 7,
            "min_active_days": 2,
        },
    ),
    (
        "no_login_7_days",
        "No login for 7 days",
        "Has a running enrollment but has not logged in or started a session for 7 days.",
        60,
        168,
        {"days": 7, "lookback_days": 60},
    ),
    (
        "missed_live_sessions",
        "Missed live sessions",
        "Missed 2 or more live sessions in 14 days.",
        55,
        168,
        {"min_missed": 2, "days": 14},
    ),
    (
        "low_quiz_scores",
        "Low quiz scores",
        "The last 3 quizzes (within 30 days) averaged below 50%.",
        50,
        168,
        {"quizzes": 3, "max_mean": 0.5, "lookback_days": 30},
    ),
    (
        "abandoned_videos",
        "Abandoned videos",
        "2 or more videos stopped below 90% and untouched for 3 days (last 30 days).",
        40,
        168,
        {"min_videos": 2, "max_percent": 90, "idle_days": 3, "lookback_days": 30},
    ),
    (
        "streak_at_risk",
        "Streak about to break",
        "Active 3+ days in a row, nothing yet today, and it is 18:00 or later locally.",
        30,
        20,
        {"min_streak_days": 3, "local_hour": 18},
    ),
]


def create_rules(apps, schema_editor):
    AlertRule = apps.get_model("engagement", "AlertRule")
    for code, name, description, priority, cooldown_hours, params in RULES:
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


def delete_rules(apps, schema_editor):
    AlertRule = apps.get_model("engagement", "AlertRule")
    AlertRule.objects.filter(code__in=[rule[0] for rule in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("engagement", "0001_initial")]

    operations = [migrations.RunPython(create_rules, delete_rules)]
