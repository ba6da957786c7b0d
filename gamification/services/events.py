"""Gamification's effects of newly stored behaviour events: XP, streaks and achievements.

Engagement's ingestion calls `events_apply` directly (gamification sits below it) inside the
transaction that stores a batch, with the batch's newly stored events only, so that events
and their effects are stored together or not at all. Everything here is bulk: a fixed number
of queries per batch, whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings

from core.records import EventRecord
from gamification.models import XpAction
from gamification.selectors.xp import xp_action_catalogue
from gamification.services.achievements import achievements_evaluate, is_perfect_quiz
from gamification.services.streaks import streaks_record_events
from gamification.services.xp import REFERENCE_MAX, Claim, xp_award_claims, xp_claims_pooled

Condition = XpAction.Condition

# An event's own object, first found wins: what "the same object" means for the minimum
# interval and for actions paid once per object. Then the lesson, then the course.
_OBJECT_PROPERTIES = ("quiz", "assignment", "thread", "live_session", "resource", "video")

VIDEO_FINISHED_PERCENT = 90
LONG_SESSION_SECONDS = 600


def _quiz_passed(event_type: str, properties: Mapping[str, Any]) -> bool:
    return event_type == "quiz_passed" or properties.get("passed") is True


def _video_finished(event_type: str, properties: Mapping[str, Any]) -> bool:
    percent = properties.get("percent")
    return isinstance(percent, int | float) and percent >= VIDEO_FINISHED_PERCENT


def _long_session(event_type: str, properties: Mapping[str, Any]) -> bool:
    seconds = properties.get("duration_seconds")
    return isinstance(seconds, int | float) and seconds >= LONG_SESSION_SECONDS


CONDITIONS: dict[str, Callable[[str, Mapping[str, Any]], bool]] = {
    Condition.QUIZ_PASSED: _quiz_passed,
    Condition.QUIZ_PERFECT: is_perfect_quiz,
    Condition.VIDEO_FINISHED: _video_finished,
    Condition.LONG_SESSION: _long_session,
}


def event_reference(event: EventRecord) -> str:
    """What an event acted on, as the ledger's `reference`: "quiz:q7", "lesson:12", ... or ""."""
    properties = event.properties
    for name in _OBJECT_PROPERTIES:
        value = properties.get(name)
        if isinstance(value, str) and value:
            return f"{name}:{value}"[:REFERENCE_MAX]
    if event.lesson_id is not None:
        return f"lesson:{event.lesson_id}"
    if event.course_id is not None:
        return f"course:{event.course_id}"
    return ""


def events_apply(events: list[EventRecord]) -> None:
    """Apply gamification to newly stored events, inside the caller's transaction: XP first,
    then streaks (whose days pay XP too), then achievements (which read both). Nothing when
    ``STRIDE_GAMIFICATION_ENABLED`` is off."""
    if not events or not settings.STRIDE_GAMIFICATION_ENABLED:
        return
    # The events' XP and the streak days' XP are written together (neither reads totals);
    # achievements then read the totals, levels included.
    with xp_claims_pooled():
        xp_award_events(events=events)
        streaks_record_events(events=events)
    achievements_evaluate(user_ids={event.user_id for event in events}, events=events)


def xp_award_events(*, events: Sequence[EventRecord]) -> int:
    """Award the XP that newly stored events earn, in bulk; return the XP paid in all (0 inside
    `xp_claims_pooled`, which pays it when its block ends).

    Each event earns every active action tied to its type whose condition it meets, keyed
    ``event:{source}:{client_id}:{action}`` so that it can never pay twice. Queries: the
    catalogue, the learners' profiles (locked), the levels, the recent ledger, then one insert
    each for the ledger rows and the refusals and one update of the profiles (and the moments
    of level-ups, if any), whatever the number of events.
    """
    catalogue = xp_action_catalogue()
    by_type = catalogue.by_event_type
    claims: list[Claim] = []
    for event in events:
        actions = by_type.get(event.type)
        if not actions:
            continue
        reference: str | None = None
        for action in actions:
            if action.condition:
                check = CONDITIONS.get(action.condition)
                if check is None or not check(event.type, event.properties):
                    continue
            if reference is None:
                reference = event_reference(event)
            claims.append(
                Claim(
                    user_id=event.user_id,
                    action=action,
                    amount=action.amount,
                    reference=reference,
                    occurred_at=event.occurred_at,
                    course_id=event.course_id,
                    # The key names the event (source and id): no reason needed beside it.
                    key=f"event:{event.source}:{event.client_id}:{action.code}",
                )
            )
    return xp_award_claims(claims, catalogue=catalogue)
