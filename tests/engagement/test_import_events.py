"""`manage.py import_events`: JSON Lines (gzipped or not) through the ingestion service."""

import gzip
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from engagement.models import Event
from learning.models import LessonProgress

pytestmark = pytest.mark.django_db


def line(i: int, **fields: object) -> str:
    event = {
        "id": f"e{i}",
        "type": "lesson_started" if i % 2 else "login",
        "user": f"u{i % 3}",
        "course": "c1",
        "lesson": "l1" if i % 2 else None,
        "occurred_at": f"2026-05-01T10:{i % 60:02d}:00+00:00",
        **fields,
    }
    return json.dumps(event)


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_events", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def gz_file(tmp_path: Path) -> Path:
    lines = [line(i) for i in range(1, 40)]
    lines.insert(9, line(99, occurred_at="2026-05-01T10:00:00"))  # line 10: no offset
    lines.insert(19, "{not json")  # line 20
    lines.insert(4, "")  # blank lines are skipped, but still counted as lines
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_import_twice_stores_everything_once_and_reports_bad_lines(gz_file: Path) -> None:
    first = run(str(gz_file), "--source", "backfill", "--batch-size", "7")

    assert "39 accepted, 0 duplicates, 2 rejected" in first
    assert "line 11: occurred_at: The date-time must include a UTC offset" in first
    assert "line 21: line: Not valid JSON" in first
    assert Event.objects.filter(source="backfill").count() == 39
    assert LessonProgress.objects.count() == 3  # three learners started lesson l1

    second = run(str(gz_file), "--source", "backfill")

    assert "0 accepted, 39 duplicates, 2 rejected" in second
    assert Event.objects.count() == 39


def test_plain_jsonl_and_default_source(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(line(i) for i in range(1, 6)) + "\n")

    assert "5 accepted" in run(str(path))
    assert set(Event.objects.values_list("source", flat=True)) == {"import"}


def test_missing_file_is_a_command_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot open"):
        run(str(tmp_path / "nope.jsonl"))


@pytest.mark.django_db(transaction=True)
def test_parallel_workers_store_every_batch_once(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(line(i) for i in range(1, 501)) + "\n")

    out = run(str(path), "--batch-size", "40", "--workers", "3")
    again = run(str(path), "--batch-size", "40", "--workers", "3")

    assert "500 accepted, 0 duplicates, 0 rejected" in out
    assert "0 accepted, 500 duplicates" in again
    assert Event.objects.count() == 500
    assert LessonProgress.objects.count() == 3
