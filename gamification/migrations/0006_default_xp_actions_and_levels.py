"""Install the default XP actions, the ten levels and the level curve (gamification.defaults).

Data only, separate from the schema. Rows that exist already (by action code, by level number,
any scheme) are left as staff set them; reversing removes nothing, since awards may point at
the actions by then.
"""

from decimal import Decimal

from django.db import migrations

from gamification import defaults


def install(apps, schema_editor):
    XpAction = apps.get_model("gamification", "XpAction")
    Level = apps.get_model("gamification", "Level")
    LevelScheme = apps.get_model("gamification", "LevelScheme")
    have = set(XpAction.objects.values_list("code", flat=True))
    XpAction.objects.bulk_create(
        [XpAction(**action) for action in defaults.XP_ACTIONS if action["code"] not in have]
    )
    scheme = LevelScheme.objects.order_by("pk").first()
    if scheme is None:
        values = defaults.LEVEL_SCHEME
        scheme = LevelScheme.objects.create(
            curve=values["curve"], base=values["base"], factor=Decimal(values["factor"])
        )
    numbers = set(Level.objects.values_list("number", flat=True))
    Level.objects.bulk_create(
        [
            Level(scheme=scheme, number=number, name=name, threshold_xp=threshold)
            for number, (name, threshold) in enumerate(
                zip(defaults.LEVEL_NAMES, defaults.LEVEL_THRESHOLDS, strict=True), start=1
            )
            if number not in numbers
        ]
    )
    Level.objects.filter(scheme=None).update(scheme=scheme)


class Migration(migrations.Migration):
    dependencies = [("gamification", "0005_xp_once_keys_balances_limits")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
