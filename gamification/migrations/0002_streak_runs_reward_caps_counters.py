import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gamification", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AchievementCounter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=64)),
                ("course_key", models.PositiveBigIntegerField(default=0)),
                ("count", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.AddField(
            model_name="achievementunlock",
            name="reason",
            field=models.CharField(blank=True, help_text="Why staff unlocked it.", max_length=255),
        ),
        migrations.AddField(
            model_name="reward",
            name="max_held",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Most units a learner holds at once (2 for streak freezes); empty for no limit.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="rewardgrant",
            name="requested_quantity",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="streakday",
            name="run_length",
            field=models.PositiveIntegerField(
                default=0, help_text="Active days of that streak up to and including this day."
            ),
        ),
        migrations.AddField(
            model_name="streakday",
            name="run_started_on",
            field=models.DateField(
                blank=True, help_text="First day of the streak this day belongs to.", null=True
            ),
        ),
        migrations.AlterField(
            model_name="rewardgrant",
            name="quantity",
            field=models.PositiveIntegerField(
                default=1, help_text="Units given: the request, capped by the reward's max held."
            ),
        ),
        migrations.AddIndex(
            model_name="streakday",
            index=models.Index(fields=["date", "user"], name="streak_day_date"),
        ),
        migrations.AddField(
            model_name="achievementcounter",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="achievementcounter",
            constraint=models.UniqueConstraint(
                fields=("user", "name", "course_key"), name="achievement_counter_unique"
            ),
        ),
    ]
