"""The catalogue of behaviour event types: what each means and which properties it carries.

Pure Python (no Django) so that ingestion can check tens of thousands of events a second and
the scoring code can map types to activity kinds without touching the database.

Known properties are type-checked; unknown extra keys are kept as sent. Custom types start
with ``x-`` and carry free-form properties; they count as generic learner activity.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import invalid_choice_message  # pure Python, like this module

CUSTOM_TYPE_RE = re.compile(r"x-[a-z0-9][a-z0-9-]{0,61}")
CURRENCY_RE = re.compile(r"[A-Z]{3}")
# Every number must fit in a double: the scoring code reads properties as float8 (PostgreSQL)
# and float (Python), and a larger integer, fine for jsonb, would fail the whole scoring run.
MAX_NUMBER = sys.float_info.max
# Durations are summed per learner and day by the scoring code, where sums near MAX_NUMBER
# overflow; no session, video or live session lasts more than a year.
MAX_SECONDS = 366 * 24 * 3600


@dataclass(frozen=True)
class Property:
    """One known property of an event type and the checks its value must pass."""

    name: str
    kind: str  # "number", "integer", "string" or "boolean"
    description: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    pattern: re.Pattern[str] | None = None
    max_length: int = 255

    def check(self, value: Any) -> str | None:
        """Return why `value` is not acceptable for this property, or None when it is."""
        kind = self.kind
        if kind == "number" or kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{self.name} must be a {kind}."
            if kind == "integer" and not isinstance(value, int):
                return f"{self.name} must be an integer."
            if isinstance(value, float):
                if not math.isfinite(value):
                    return f"{self.name} must be a finite number."
            # An int may lie beyond a double (where math.isfinite would raise OverflowError).
            elif not -MAX_NUMBER <= value <= MAX_NUMBER:
                return f"{self.name} is too large: {NUMBER_RANGE}"
            if self.minimum is not None and value < self.minimum:
                return f"{self.name} must be at least {_num(self.minimum)}."
            if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
                return f"{self.name} must be greater than {_num(self.exclusive_minimum)}."
            if self.maximum is not None and value > self.maximum:
                return f"{self.name} must be at most {_num(self.maximum)}."
            return None
        if kind == "boolean":
            return None if isinstance(value, bool) else f"{self.name} must be true or false."
        if not isinstance(value, str):
            return f"{self.name} must be a string."
        if len(value) > self.max_length:
            return f"{self.name} must be at most {self.max_length} characters."
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            return f"{self.name} '{shown(value, 20)}' is not valid: {self.description}"
        return None

    def as_dict(self) -> dict[str, Any]:
        """The property as plain data (for the event-type listing of the API)."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.kind,
            "required": self.required,
            "description": self.description,
        }
        for key in ("minimum", "maximum", "exclusive_minimum"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.pattern is not None:
            data["pattern"] = self.pattern.pattern
        return data


@dataclass(frozen=True)
class EventType:
    """A known event type: its meaning, its properties and which references it needs."""

    description: str
    properties: tuple[Property, ...] = ()
    requires_course: bool = False
    requires_lesson: bool = False
    by_name: dict[str, Property] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.properties})

    def as_dict(self) -> dict[str, Any]:
        """The type as plain data (for the event-type listing of the API)."""
        return {
            "description": self.description,
            "requires_course": self.requires_course,
            "requires_lesson": self.requires_lesson,
            "properties": [p.as_dict() for p in self.properties],
        }


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _seconds(name: str, description: str) -> Property:
    return Property(name, "number", description, minimum=0, maximum=MAX_SECONDS)


def _ref(name: str, description: str) -> Property:
    return Property(name, "string", description, max_length=128)


EVENT_TYPES: dict[str, EventType] = {
    "login": EventType(
        "The learner signed in.", (_ref("method", "How: password, sso, magic-link."),)
    ),
    "session_start": EventType("A study session began."),
    "session_end": EventType(
        "A study session ended.",
        (_seconds("duration_seconds", "Length of the session in seconds, if known."),),
    ),
    "page_view": EventType(
        "The learner opened a page.",
        (
            Property("path", "string", "The page's path or URL.", max_length=2048),
            Property("title", "string", "The page's title."),
        ),
    ),
    "lesson_started": EventType("The learner opened a lesson.", requires_lesson=True),
    "lesson_completed": EventType(
        "The learner finished a lesson.",
        (_seconds("duration_seconds", "Time spent on the lesson in seconds, if known."),),
        requires_lesson=True,
    ),
    "video_progress": EventType(
        "Progress through a lesson video (send it every few percent or on pause).",
        (
            Property(
                "percent", "number", "How much of the video was watched.", True, 0, maximum=100
            ),
            _seconds("position_seconds", "Playback position in seconds."),
            _seconds("duration_seconds", "Length of the video in seconds."),
            _ref("video", "The video's id."),
        ),
    ),
    "quiz_submitted": EventType(
        "The learner submitted a quiz.",
        (
            Property("score", "number", "Points scored (at most max_score).", True, minimum=0),
            Property(
                "max_score", "number", "Points available.", required=True, exclusive_minimum=0
            ),
            _ref("quiz", "The quiz's id."),
            Property("passed", "boolean", "Whether the attempt passed."),
        ),
    ),
    "quiz_passed": EventType("The learner passed a quiz.", (_ref("quiz", "The quiz's id."),)),
    "course_completed": EventType("The learner completed a course.", requires_course=True),
    "assignment_submitted": EventType(
        "The learner handed in an assignment.", (_ref("assignment", "The assignment's id."),)
    ),
    "discussion_post": EventType(
        "The learner started a discussion thread.", (_ref("thread", "The thread's id."),)
    ),
    "discussion_reply": EventType(
        "The learner replied in a discussion.", (_ref("thread", "The thread's id."),)
    ),
    "review_posted": EventType(
        "The learner reviewed a course.",
        (Property("rating", "number", "Stars from 1 to 5.", minimum=1, maximum=5),),
    ),
    "resource_download": EventType(
        "The learner downloaded a resource.", (_ref("resource", "The resource's id."),)
    ),
    "live_session_attended": EventType(
        "The learner attended a live session.",
        (
            _ref("live_session", "The live session's id."),
            _seconds("duration_seconds", "Time attended in seconds."),
        ),
    ),
    "live_session_missed": EventType(
        "The learner missed a live session they had registered for.",
        (_ref("live_session", "The live session's id."),),
    ),
    "purchase": EventType(
        "The learner paid for something.",
        (
            Property("amount", "number", "Amount paid.", required=True, minimum=0),
            Property(
                "currency",
                "string",
                "ISO 4217 code: three uppercase letters, e.g. EUR.",
                required=True,
                pattern=CURRENCY_RE,
            ),
            _ref("item", "What was bought."),
        ),
    ),
    "enrollment_withdrawn": EventType(
        "The learner withdrew from a course.",
        (Property("reason", "string", "Why, in the learner's words.", max_length=1000),),
        requires_course=True,
    ),
}

# Activity kinds of the scoring code (engagement.scoring.activity.KINDS) fed by each type.
KIND_OF_TYPE: dict[str, str] = {
    "login": "sessions",
    "session_start": "sessions",
    "page_view": "page_views",
    "lesson_started": "lessons_started",
    "lesson_completed": "lessons_completed",
    "video_progress": "video",
    "quiz_submitted": "quizzes",
    "quiz_passed": "quizzes_passed",
    "assignment_submitted": "assignments",
    "discussion_post": "social",
    "discussion_reply": "social",
    "review_posted": "social",
    "resource_download": "downloads",
    "live_session_attended": "live_attended",
    "live_session_missed": "live_missed",
    "purchase": "purchases",
}

# Recorded, but not something the learner did: they count neither as events nor active days.
NON_ACTIVITY_TYPES: frozenset[str] = frozenset({"live_session_missed", "enrollment_withdrawn"})

# Largest accepted `properties` object, measured as compact JSON.
MAX_PROPERTIES_BYTES = 4096
# Deepest accepted nesting of `properties` (the object itself is level 1): deeper data is
# no event's business, and readers that recurse (JSON encoders among them) must not fail.
MAX_PROPERTIES_DEPTH = 32
NUMBER_RANGE = "numbers must lie within ±1.7976931348623157e308 (a double)."
LONE_SURROGATE = "valid Unicode: a lone surrogate (\\ud800 to \\udfff) cannot be stored."

CUSTOM_TYPE_RULE = "a custom type 'x-<name>' (lowercase letters, digits, dashes)"


def is_custom_type(event_type: str) -> bool:
    """True for a well-formed custom type such as ``x-certificate-shared``."""
    return CUSTOM_TYPE_RE.fullmatch(event_type) is not None


def unknown_type_message(event_type: Any) -> str:
    """The error for a type that is neither in the catalogue nor a custom ``x-`` type."""
    return invalid_choice_message(event_type, EVENT_TYPES, alternative=CUSTOM_TYPE_RULE)


def shown(value: str, length: int) -> str:
    """The start of `value` as it may be quoted in a message: lone surrogates (which no
    answer or terminal can encode) and NULs written as escapes."""
    value = value[:length]
    if value.isascii():
        return value.replace("\x00", "\\x00")
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def properties_errors(event_type: EventType, properties: Mapping[str, Any]) -> list[str]:
    """Check the known properties of one event; return the problems (empty when valid)."""
    errors: list[str] = []
    by_name = event_type.by_name
    for prop in event_type.properties:
        if prop.required and prop.name not in properties:
            errors.append(f"{prop.name} is required.")
    for key, value in properties.items():
        prop = by_name.get(key)
        if prop is None:
            continue
        if value is None and not prop.required:
            continue
        problem = prop.check(value)
        if problem is not None:
            errors.append(problem)
    if not errors and "max_score" in by_name:
        score, max_score = properties.get("score"), properties.get("max_score")
        if score is not None and max_score is not None and score > max_score:
            errors.append(f"score ({_num(score)}) must not exceed max_score ({_num(max_score)}).")
    return errors


def properties_content_errors(properties: Mapping[str, Any]) -> list[str]:
    """Check what `properties` holds at any depth; return the problems (empty when valid).

    Storage and readers need: nesting at most MAX_PROPERTIES_DEPTH levels, JSON values only,
    text without NUL characters (PostgreSQL refuses them) or lone surrogates (which UTF-8
    cannot encode), and numbers that fit in a double. Iterative, so that depth costs no stack.
    Ingestion calls it only when the encoded JSON hints at one of these (it is rarely needed).
    """
    problems: dict[str, None] = {}  # ordered and de-duplicated
    stack: list[tuple[Any, int]] = [(properties, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_PROPERTIES_DEPTH:
            return [f"May be nested at most {MAX_PROPERTIES_DEPTH} levels deep."]
        if isinstance(container, dict):
            for key in container:
                if isinstance(key, str):
                    _text_problem(key, "Property names", problems)
                elif key is not None and not isinstance(key, int | float):
                    problems["Must hold only JSON values."] = None
            values = container.values()
        else:
            values = container
        for value in values:
            if isinstance(value, str):
                _text_problem(value, "Property values", problems)
            elif isinstance(value, dict | list | tuple):
                stack.append((value, depth + 1))
            elif value is None or isinstance(value, bool):
                continue
            elif isinstance(value, int):
                if not -MAX_NUMBER <= value <= MAX_NUMBER:
                    problems[f"Holds a number too large: {NUMBER_RANGE}"] = None
            elif isinstance(value, float):
                if not math.isfinite(value):
                    problems["Numbers must be finite (no NaN or Infinity)."] = None
            else:
                problems["Must hold only JSON values."] = None
    return list(problems)


def _text_problem(text: str, what: str, problems: dict[str, None]) -> None:
    if "\x00" in text:
        problems[f"{what} may not contain NUL characters."] = None
    if not text.isascii() and not is_utf8_encodable(text):
        problems[f"{what} must be {LONE_SURROGATE}"] = None


def is_utf8_encodable(text: str) -> bool:
    """False when `text` holds a lone surrogate (from a JSON escape such as \\ud800), which
    UTF-8, and so the database, cannot store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
