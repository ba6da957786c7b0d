"""The eight default templates (interventions/defaults.py); existing slugs are left alone."""

from django.db import migrations

from interventions.defaults import DEFAULT_TEMPLATES


def install(apps, schema_editor):
    MessageTemplate = apps.get_model("interventions", "MessageTemplate")
    for spec in DEFAULT_TEMPLATES:
        slug = spec["intervention_type"].replace("_", "-")
        MessageTemplate.objects.get_or_create(slug=slug, defaults=spec)


def remove(apps, schema_editor):
    MessageTemplate = apps.get_model("interventions", "MessageTemplate")
    slugs = [spec["intervention_type"].replace("_", "-") for spec in DEFAULT_TEMPLATES]
    MessageTemplate.objects.filter(slug__in=slugs, deliveries__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("interventions", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
