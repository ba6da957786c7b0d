"""Stride's own segments (predefined, not editable): the audiences the brief names."""

from django.db import migrations

from campaigns.defaults import PREDEFINED_SEGMENTS


def install(apps, schema_editor):
    Segment = apps.get_model("campaigns", "Segment")
    for slug, name, description, filter_ in PREDEFINED_SEGMENTS:
        Segment.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "filter": filter_,
                "is_predefined": True,
            },
        )


def remove(apps, schema_editor):
    Segment = apps.get_model("campaigns", "Segment")
    Segment.objects.filter(
        slug__in=[slug for slug, *_ in PREDEFINED_SEGMENTS], is_predefined=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
