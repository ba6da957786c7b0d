"""Ingestion hardening: one bad item never costs its batch, on either storage path.

Whatever the database cannot store (UTC offsets beyond ±15:59, lone surrogates, NULs, numbers
beyond a double, properties nested too deep) is that item's entry in `rejected`, and the
valid items of the same batch are stored. Run on PostgreSQL (COPY) and SQLite (bulk ORM).
"""

import gzip
import json
import sys
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from engagement.models import Event
from engagement.services.ingestion import IngestResult, events_ingest
from learning.models import Course, Lesson

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SURROGATE = "valid Unicode: a lone surrogate (\\ud800 to \\udfff) cannot be stored."
TOO_DEEP = "May be nested at most 32 levels deep."
OFFSET_RANGE = "The UTC offset must lie between -15:59 and +15:59."


def ev(client_id: str = "e1", **fields: Any) -> dict[str, Any]:
    """A valid page_view event in a lesson, changed by `fields` (None removes a field)."""
    event: dict[str, Any] = {
        "id": client_id,
        "type": "page_view",
        "user": "u1",
        "course": "c1",
        "lesson": "l1",
        "occurred_at": "2026-03-02T11:00:00+02:00",
        "device": "mobile",
        "session_id": "s-1",
        "platform": "ios",
        "properties": {"path": "/home"},
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def nested(depth: int) -> dict[str, Any]:
    """Properties `depth` levels deep (the object itself is level 1)."""
    properties: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        properties = {"n": properties}
    return properties


def between_good(bad: dict[str, Any]) -> IngestResult:
    """Send `bad` as item 1 of a batch whose other two items are valid."""
    return events_ingest(source="lms", items=[ev("ok-1"), bad, ev("ok-2")])


def stored() -> set[str]:
    return set(Event.objects.values_list("client_id", flat=True))


# --- occurred_at ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occurred_at", "message"),
    [
        ("2026-03-02T10:00:00+16:00", OFFSET_RANGE),
        ("2026-03-02T10:00:00-16:00", OFFSET_RANGE),
        ("2026-03-02T10:00:00+23:59", OFFSET_RANGE),
        ("2026-03-02T10:00:00+05:00:00.5", "The UTC offset must be whole seconds."),
        (datetime(2026, 3, 2, 10, tzinfo=timezone(timedelta(hours=20))), OFFSET_RANGE),
    ],
)
def test_offset_the_database_cannot_store_rejects_only_its_item(occurred_at, message) -> None:
    result = between_good(ev("bad", occurred_at=occurred_at))

    assert result.rejected == {1: {"occurred_at": [message]}}
    assert result.accepted == 2
    assert stored() == {"ok-1", "ok-2"}


@pytest.mark.parametrize(
    ("occurred_at", "utc"),
    [
        ("2026-03-02T23:59:00+15:59", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        ("2026-03-01T16:01:00-15:59", datetime(2026, 3, 2, 8, 0, tzinfo=UTC)),
        ("2026-03-02T14:30:15+05:30:15", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
    ],
)
def test_offsets_up_to_15_59_are_stored_at_their_instant(occurred_at, utc) -> None:
    result = events_ingest(source="lms", items=[ev(occurred_at=occurred_at)])

    assert (result.accepted, result.rejected) == (1, {})
    assert Event.objects.get().occurred_at == utc


@pytest.mark.parametrize(
    ("occurred_at", "message"),
    [
        ("0000-01-01T00:00:00Z", "Not an ISO-8601 date-time"),
        ("10000-01-01T00:00:00Z", "Not an ISO-8601 date-time"),
        ("9999-12-31T23:59:59-15:59", "more than 5 minutes in the future"),
        ("0001-01-01T00:00:00+15:59", "before 1970"),
        (datetime.max.replace(tzinfo=timezone(timedelta(hours=-15))), "in the future"),
        (datetime.min.replace(tzinfo=timezone(timedelta(hours=15))), "before 1970"),
    ],
)
def test_dates_beyond_what_the_database_stores_reject_only_their_item(occurred_at, message) -> None:
    result = between_good(ev("bad", occurred_at=occurred_at))

    assert list(result.rejected) == [1]
    assert message in result.rejected[1]["occurred_at"][0]
    assert stored() == {"ok-1", "ok-2"}


class NoOffset(tzinfo):
    """A time zone that knows no offset (so its datetimes are naive in effect)."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None


def test_datetime_whose_zone_knows_no_offset_is_rejected_like_a_naive_one() -> None:
    result = between_good(ev("bad", occurred_at=datetime(2026, 3, 2, 10, tzinfo=NoOffset())))

    assert result.rejected == {
        1: {"occurred_at": ["The date-time must include a UTC offset, e.g. +02:00 or Z."]}
    }
    assert stored() == {"ok-1", "ok-2"}


# --- text: lone surrogates and NULs ----------------------------------------------------------


@pytest.mark.parametrize("field", ["id", "user", "course", "lesson", "session_id", "platform"])
def test_lone_surrogate_in_an_envelope_field_rejects_only_its_item(field) -> None:
    result = between_good(ev("bad", **{field: "bad-\ud800"}))

    assert result.rejected == {1: {field: [f"Must be {SURROGATE}"]}}
    assert result.accepted == 2
    assert stored() == {"ok-1", "ok-2"}
    assert not User.objects.filter(external_id__startswith="bad").exists()
    assert not Course.objects.filter(external_id__startswith="bad").exists()
    assert not Lesson.objects.filter(external_id__startswith="bad").exists()


def test_unknown_type_with_a_lone_surrogate_is_quoted_in_a_message_that_can_be_sent() -> None:
    result = between_good(ev("bad", type="x-\udfffbad\x00"))

    message = result.rejected[1]["type"][0]
    assert "x-\\udfffbad\\x00" in message  # quoted with its escapes
    assert message.encode("utf-8")  # an answer or a terminal can carry it
    assert stored() == {"ok-1", "ok-2"}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"title": "bad-\ud800"}, f"Property values must be {SURROGATE}"),
        ({"bad-\udc00": 1}, f"Property names must be {SURROGATE}"),
        ({"n": {"deeper": ["fine", "\udfff"]}}, f"Property values must be {SURROGATE}"),
        ({"k\x00ey": 1}, "Property names may not contain NUL characters."),
        ({"n": [{"v": "a\x00b"}]}, "Property values may not contain NUL characters."),
    ],
)
def test_text_the_database_cannot_store_in_properties_rejects_only_its_item(
    properties, message
) -> None:
    result = between_good(ev("bad", properties=properties))

    assert result.rejected == {1: {"properties": [message]}}
    assert stored() == {"ok-1", "ok-2"}


def test_any_valid_unicode_is_stored_as_sent_in_every_field() -> None:
    event = ev(
        "évènement-😀",
        user="müller-ß",
        course="课程-1",
        lesson="leçon-①",
        session_id="séance\t🙂\n\\N",  # tab, newline and COPY's NULL marker, escaped
        platform="iOS 18 Ünïcode",
        properties={"title": "Grüße 😀", "ключ": ["значение", {"emoji": "🎓"}]},
    )

    result = events_ingest(source="lms", items=[event])

    assert (result.accepted, result.rejected) == (1, {})
    stored_event = Event.objects.select_related("user", "course", "lesson").get()
    assert stored_event.client_id == "évènement-😀"
    assert stored_event.user.external_id == "müller-ß"
    assert stored_event.course.external_id == "课程-1"
    assert stored_event.lesson.external_id == "leçon-①"
    assert (stored_event.session_id, stored_event.platform) == (
        event["session_id"],
        "iOS 18 Ünïcode",
    )
    assert stored_event.properties == event["properties"]


def test_text_that_merely_spells_an_escape_is_stored() -> None:
    properties = {"path": "/search?q=\\u0000", "note": "\\ud800 is a surrogate"}

    result = events_ingest(source="lms", items=[ev(properties=properties)])

    assert (result.accepted, result.rejected) == (1, {})
    assert Event.objects.get().properties == properties


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "properties", "message"),
    [
        ("x-anything", {"big": 10**400}, "Holds a number too large"),
        ("x-anything", {"n": [1, {"big": -(10**309)}]}, "Holds a number too large"),
        ("quiz_submitted", {"score": 10**400, "max_score": 10**401}, "score is too large"),
        ("video_progress", {"percent": 10**400}, "percent is too large"),
        ("session_end", {"duration_seconds": 1e308}, "duration_seconds must be at most"),
        ("video_progress", {"percent": 5, "position_seconds": 10**12}, "must be at most"),
    ],
)
def test_number_beyond_what_storage_and_scoring_take_rejects_only_its_item(
    event_type, properties, message
) -> None:
    result = between_good(ev("bad", type=event_type, properties=properties))

    assert list(result.rejected) == [1]
    assert any(message in text for text in result.rejected[1]["properties"])
    assert stored() == {"ok-1", "ok-2"}


def test_the_largest_double_and_a_year_long_session_are_stored() -> None:
    largest = int(sys.float_info.max)
    result = events_ingest(
        source="lms",
        items=[
            ev("big", type="x-anything", properties={"largest": largest, "smallest": -largest}),
            ev("year", type="session_end", properties={"duration_seconds": 366 * 24 * 3600}),
        ],
    )

    assert (result.accepted, result.rejected) == (2, {})
    assert Event.objects.get(client_id="big").properties["largest"] == largest


# --- nesting --------------------------------------------------------------------------------


def nested_lists(depth: int) -> dict[str, Any]:
    """Properties `depth` levels deep, all but the first in lists."""
    value: list[Any] = []
    for _ in range(depth - 2):
        value = [value]
    return {"list": value}


@pytest.mark.parametrize("properties", [nested(33), nested(1000), nested_lists(33)])
def test_properties_nested_too_deep_reject_only_their_item(properties) -> None:
    result = between_good(ev("bad", type="x-anything", properties=properties))

    assert result.rejected == {1: {"properties": [TOO_DEEP]}}
    assert stored() == {"ok-1", "ok-2"}


def test_properties_nested_32_levels_are_stored() -> None:
    result = events_ingest(
        source="lms",
        items=[
            ev("objects", type="x-anything", properties=nested(32)),
            ev("lists", type="x-anything", properties=nested_lists(32)),
        ],
    )

    assert (result.accepted, result.rejected) == (2, {})
    assert Event.objects.get(client_id="objects").properties == nested(32)
    assert Event.objects.get(client_id="lists").properties == nested_lists(32)


# --- everything at once, on both storage paths -----------------------------------------------


def every_kind_of_bad_item() -> list[dict[str, Any]]:
    return [
        ev("bad-offset", occurred_at="2026-03-02T10:00:00+16:00"),
        ev("bad-\ud800"),
        ev("bad-user", user="u-\ud800"),
        ev("bad-nul", session_id="s\x00"),
        ev("bad-long", user="u" * 129),
        ev("bad-course", course="c" * 129),
        ev("bad-prop", properties={"path": "/x", "title": "\udbff"}),
        ev("bad-deep", type="x-anything", properties=nested(1000)),
        ev("bad-number", type="x-anything", properties={"n": 10**400}),
        ev("bad-score", type="quiz_submitted", properties={"score": 10**400, "max_score": 1}),
        ev("bad-nan", type="x-anything", properties={"n": float("nan")}),
    ]


@pytest.mark.parametrize("size", [10, 2100])  # a request, and an import-sized batch
def test_a_batch_with_every_kind_of_bad_item_stores_all_its_valid_items(size) -> None:
    bad = every_kind_of_bad_item()
    good = [ev(f"ok-{i}", user=f"u{i % 7}") for i in range(size)]
    items = good[: size // 2] + bad + good[size // 2 :]

    result = events_ingest(source="lms", items=items)

    first_bad = size // 2
    assert sorted(result.rejected) == list(range(first_bad, first_bad + len(bad)))
    assert result.accepted == size
    assert stored() == {f"ok-{i}" for i in range(size)}
    assert not User.objects.filter(external_id__startswith="u-").exists()


# --- import_events ----------------------------------------------------------------------------


def run_import(*args: str) -> str:
    out = StringIO()
    call_command("import_events", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_import_reports_lines_the_database_cannot_store_and_stores_the_rest(
    tmp_path: Path,
) -> None:
    lines = [
        json.dumps(ev("ok-1")),
        json.dumps(ev("offset", occurred_at="2026-03-02T10:00:00+16:00")),  # line 2
        json.dumps(ev("bad-\ud800")),  # line 3: the file holds the escape \ud800
        json.dumps(ev("deep", type="x-anything", properties=nested(100))),  # line 4
        "[" * 2000 + "]" * 2000,  # line 5: deeper than any JSON decoder goes
        json.dumps(ev("nul", properties={"path": "/\x00"})),  # line 6
        json.dumps(ev("ok-2")),
    ]
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")

    out = run_import(str(path), "--source", "backfill", "--batch-size", "3")

    assert "2 accepted, 0 duplicates, 5 rejected" in out
    assert f"line 2: occurred_at: {OFFSET_RANGE}" in out
    assert f"line 3: id: Must be {SURROGATE}" in out
    assert f"line 4: properties: {TOO_DEEP}" in out
    assert "line 5: line: Not valid JSON" in out
    assert "line 6: properties: Property values may not contain NUL characters." in out
    assert stored() == {"ok-1", "ok-2"}


def test_import_source_that_is_not_valid_text_is_a_command_error(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(ev()) + "\n")

    # A non-UTF-8 byte in the command line reaches Python as a lone surrogate.
    with pytest.raises(CommandError, match="--source"):
        run_import(str(path), "--source", "bad-\udcff")
    assert not Event.objects.exists()
