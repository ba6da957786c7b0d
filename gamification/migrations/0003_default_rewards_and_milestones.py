"""Data: the rewards catalogue (streak freeze, a discount code, early access) and milestones."""

from django.db import migrations

from gamification.defaults_rewards import MILESTONES, REWARDS


def create(apps, schema_editor):
    Reward = apps.get_model("gamification", "Reward")
    StreakMilestone = apps.get_model("gamification", "StreakMilestone")
    for reward in REWARDS:
        Reward.objects.update_or_create(
            code=reward["code"], defaults={k: v for k, v in reward.items() if k != "code"}
        )
    for milestone in MILESTONES:
        StreakMilestone.objects.update_or_create(
            days=milestone["days"],
            defaults={k: v for k, v in milestone.items() if k != "days"},
        )


def remove(apps, schema_editor):
    apps.get_model("gamification", "StreakMilestone").objects.filter(
        days__in=[m["days"] for m in MILESTONES]
    ).delete()
    apps.get_model("gamification", "Reward").objects.filter(
        code__in=[r["code"] for r in REWARDS], grants__isnull=True, uses__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("gamification", "0002_streak_runs_reward_caps_counters")]

    operations = [migrations.RunPython(create, remove)]
