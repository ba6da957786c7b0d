"""Close all but one unfinished scoring run per as-of date (data only).

The next migration lets the database hold at most one pending or running run per date; runs
started twice before it (a double "Recalculate all", a redelivered nightly task) would stop it.
The run kept is the one running (it has progress), else the newest; the others are marked
failed, saying why.
"""

from django.db import migrations
from django.utils import timezone


def fail_duplicates(apps, schema_editor):
    ScoringRun = apps.get_model("engagement", "ScoringRun")
    kept: dict = {}
    unfinished = ScoringRun.objects.filter(status__in=["pending", "running"])
    for run in sorted(unfinished, key=lambda r: (r.status != "running", -r.pk)):
        if run.as_of not in kept:
            kept[run.as_of] = run.pk
            continue
        run.status = "failed"
        run.finished_at = timezone.now()
        run.error = (
            f"Superseded by run {kept[run.as_of]} of the same as-of date "
            "(one unfinished run per date)."
        )
        run.save(update_fields=["status", "finished_at", "error"])


class Migration(migrations.Migration):
    dependencies = [
        ("engagement", "0004_lean_event_indexes"),
    ]

    operations = [
        migrations.RunPython(fail_duplicates, migrations.RunPython.noop),
    ]
