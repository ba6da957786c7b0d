"""When a campaign runs: one-time and recurring schedules as wall-clock times in a timezone,
read with dateutil's RFC 5545 rules. No Django models here: plain values in, plain values out.

A recurring schedule is a rule (``FREQ=WEEKLY;BYDAY=MO,WE,FR``, optionally with ``UNTIL`` or
``COUNT``) applied from a start date at a time of day in a timezone. The rule is expanded in
*wall-clock* time and each occurrence is then placed in the zone, so "09:00 every Monday in
Europe/London" stays at 09:00 across the clock changes (08:00 UTC in summer, 09:00 UTC in
winter). A time that does not exist on the day the clocks go forward (02:30 in a gap) is read
with the offset before the change, i.e. one hour later on the new clock; a time that happens
twice when they go back takes the first.

Learner-local schedules ("09:00 in each learner's own timezone") keep the wall-clock
occurrence and place it in every learner's zone instead. Such a run starts when the first
zone on Earth (UTC+14) reaches the time, and each learner's message is due when their own
clock does (`local_due`).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

UTC = datetime.UTC
# The earliest zone there is (Kiribati, UTC+14) and the latest (UTC-12): a learner-local
# occurrence begins and ends this far either side of the same wall time in UTC.
EARLIEST_OFFSET = datetime.timedelta(hours=14)
LATEST_OFFSET = datetime.timedelta(hours=12)
ALLOWED_FREQUENCIES = {DAILY: "daily", WEEKLY: "weekly", MONTHLY: "monthly", YEARLY: "yearly"}
# Far enough for "the next five runs" of any sane rule, bounded so a rule that never matches
# (BYMONTHDAY=31;BYMONTH=2) cannot spin.
_SEARCH_YEARS = 30


class ScheduleError(ValueError):
    """A schedule that cannot be read; `field` names the part, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def zone_get(name: str) -> ZoneInfo:
    """The IANA zone `name`, or ScheduleError naming the timezone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(
            "timezone", f"Unknown timezone {name!r}; use an IANA name like Europe/London."
        ) from error


def rrule_parse(text: str, *, start: datetime.datetime) -> rrule:
    """The RFC 5545 rule `text` (without the "RRULE:" prefix) from the naive wall-clock
    `start`; ScheduleError("rrule", ...) if it does not parse, repeats more often than daily,
    or sets its own start."""
    text = (text or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise ScheduleError("rrule", "Give a recurrence rule, e.g. FREQ=WEEKLY;BYDAY=MO.")
    if "DTSTART" in text.upper():
        raise ScheduleError("rrule", "Set the start with the schedule's start, not DTSTART.")
    try:
        rule = rrulestr(text, dtstart=start, ignoretz=True)
    except (ValueError, TypeError, KeyError) as error:
        raise ScheduleError(
            "rrule", f"Not a recurrence rule RFC 5545 can read: {error}."
        ) from error
    if not isinstance(rule, rrule):
        raise ScheduleError("rrule", "Give one rule, not a set of rules.")
    if rule._freq not in ALLOWED_FREQUENCIES:
        raise ScheduleError(
            "rrule", "Campaigns repeat at most daily: use FREQ=DAILY, WEEKLY, MONTHLY or YEARLY."
        )
    if rule._until is not None and rule._until.tzinfo is not None:
        # UNTIL given in UTC (…Z): compare as the wall clock, as the rule is expanded.
        rule = rule.replace(until=rule._until.replace(tzinfo=None))
    return rule


def place(wall: datetime.datetime, tz: ZoneInfo) -> datetime.datetime:
    """The aware UTC instant of the naive wall-clock time `wall` in `tz` (gap: the offset
    before the change; repeated hour: the first)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    """A campaign's schedule as plain values. One-time: `at` (aware). Recurring: `rule` from
    `start_date` at `time` in `timezone`. `learner_local` places each wall-clock occurrence
    in every learner's zone."""

    kind: str  # "one_time" | "recurring"
    timezone: str = "UTC"
    at: datetime.datetime | None = None
    rule: str = ""
    start_date: datetime.date | None = None
    time: datetime.time | None = None
    learner_local: bool = False

    def walls(self) -> Iterator[datetime.datetime]:
        """The occurrences as naive wall-clock times, in order."""
        tz = zone_get(self.timezone)
        if self.kind == "one_time":
            if self.at is None:
                raise ScheduleError("at", "Give the date and time to send at.")
            yield self.at.astimezone(tz).replace(tzinfo=None)
            return
        if self.time is None or self.start_date is None:
            raise ScheduleError("time", "Give the time of day and the start date.")
        start = datetime.datetime.combine(self.start_date, self.time)
        horizon = start.replace(year=start.year + _SEARCH_YEARS)
        for wall in rrule_parse(self.rule, start=start):
            if wall > horizon:
                return
            yield wall

    def instant(self, wall: datetime.datetime) -> datetime.datetime:
        """When the run of the occurrence `wall` starts (UTC): the wall time in the campaign's
        zone, or, learner-local, in the earliest zone on Earth."""
        if self.learner_local:
            return wall.replace(tzinfo=UTC) - EARLIEST_OFFSET
        return place(wall, zone_get(self.timezone))

    def last_instant(self, wall: datetime.datetime) -> datetime.datetime:
        """When the last learner's message of occurrence `wall` is due (UTC)."""
        if self.learner_local:
            return wall.replace(tzinfo=UTC) + LATEST_OFFSET
        return self.instant(wall)

    def next_after(
        self, moment: datetime.datetime
    ) -> tuple[datetime.datetime, datetime.datetime] | None:
        """The first occurrence whose run starts after `moment`: (wall, start instant)."""
        for wall in self.walls():
            instant = self.instant(wall)
            if instant > moment:
                return wall, instant
        return None

    def upcoming(self, moment: datetime.datetime, count: int = 5) -> list[datetime.datetime]:
        """The next `count` occurrences after `moment` as aware times in the campaign's zone
        (learner-local: the wall time in the campaign's zone, as a reader sees it)."""
        tz = zone_get(self.timezone)
        out: list[datetime.datetime] = []
        for wall in self.walls():
            if self.last_instant(wall) <= moment:
                continue
            out.append(place(wall, tz).astimezone(tz))
            if len(out) == count:
                break
        return out


def local_due(wall: datetime.datetime, tz_name: str) -> datetime.datetime:
    """When the wall-clock occurrence `wall` happens for a learner in `tz_name` (UTC); an
    unknown zone counts as UTC."""
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return place(wall, tz)


def describe(rule_text: str) -> str:
    """A short reading of a rule for people ("weekly on MO, WE, FR"); the rule itself if it is
    not one the builder makes."""
    parts = dict(part.split("=", 1) for part in rule_text.upper().split(";") if "=" in part)
    freq = parts.get("FREQ", "").lower()
    interval = parts.get("INTERVAL", "1")
    every = freq if interval == "1" else f"every {interval} {freq.removesuffix('ly')}s"
    if freq == "daily" and interval != "1":
        every = f"every {interval} days"
    bits = [every]
    if "BYDAY" in parts:
        bits.append("on " + ", ".join(day.title() for day in parts["BYDAY"].split(",")))
    if "BYMONTHDAY" in parts:
        bits.append(f"on day {parts['BYMONTHDAY']}")
    if "COUNT" in parts:
        bits.append(f"{parts['COUNT']} times")
    if "UNTIL" in parts:
        bits.append(f"until {parts['UNTIL'][:8]}")
    return " ".join(bits) if freq else rule_text
