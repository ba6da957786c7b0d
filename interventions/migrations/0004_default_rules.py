"""Two default rules, switched off: automatic messages start when a provider turns them on."""

from django.db import migrations

RULES = (
    {
        "name": "Critical risk: a person calls",
        "levels": ["critical"],
        "intervention_type": "human_outreach",
        "creates_outreach_task": True,
        "cooldown_days": 14,
    },
    {
        "name": "Slipping: a gentle reminder",
        "levels": ["medium", "high"],
        "intervention_type": "gentle_reminder",
        "template_slug": "gentle-reminder",
        "cooldown_days": 7,
    },
)


def install(apps, schema_editor):
    Rule = apps.get_model("interventions", "Rule")
    MessageTemplate = apps.get_model("interventions", "MessageTemplate")
    for spec in RULES:
        spec = dict(spec)
        slug = spec.pop("template_slug", None)
        template = MessageTemplate.objects.filter(slug=slug).first() if slug else None
        Rule.objects.get_or_create(
            name=spec["name"], defaults={**spec, "template": template, "is_active": False}
        )


def remove(apps, schema_editor):
    Rule = apps.get_model("interventions", "Rule")
    Rule.objects.filter(name__in=[spec["name"] for spec in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("interventions", "0003_rules_and_outreach_tasks")]

    operations = [migrations.RunPython(install, remove)]
