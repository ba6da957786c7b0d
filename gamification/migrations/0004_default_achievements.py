"""Data: the twelve default achievements (First Steps ... Grandmaster)."""

from django.db import migrations

from gamification.defaults_achievements import ACHIEVEMENTS


def create(apps, schema_editor):
    Achievement = apps.get_model("gamification", "Achievement")
    for achievement in ACHIEVEMENTS:
        Achievement.objects.update_or_create(
            code=achievement["code"],
            defaults={k: v for k, v in achievement.items() if k != "code"},
        )


def remove(apps, schema_editor):
    apps.get_model("gamification", "Achievement").objects.filter(
        code__in=[a["code"] for a in ACHIEVEMENTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("gamification", "0003_default_rewards_and_milestones")]

    operations = [migrations.RunPython(create, remove)]
