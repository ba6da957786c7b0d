"""The audience filter language: its catalogue of fields, its validation and a plain-Python
reference evaluation. `campaigns.selectors.audience` compiles the same filters to one SQL query.

A filter is JSON:

    {"all": [<filter>, ...]}    every one of them (at least one)
    {"any": [<filter>, ...]}    at least one of them (at least one)
    {"not": <filter>}           the opposite
    {"field": "risk", "op": ">=", "value": 60}                       a condition
    {"field": "signal", "name": "recency_days", "op": ">", "value": 7} a field with a parameter
    {"field": "received", "campaign": 12}                            booleans: op "=" and true
    {} (or null)                                                    every learner

Operators, each defined only for the field types where it makes sense:

    =, !=            number, days, choice, text, week, boolean (= only)
    >, >=, <, <=     number, days
    in, not_in       number, choice, text, week (value: a non-empty list)
    contains         text (case-insensitive substring)
    is_set           every type; value true (the default) or false

A learner with no value for a field (never scored, never messaged, no enrolment) matches no
comparison, `=`, `in`, `contains` or `is_set: true`; `!=` and `not_in` are exactly
`not =` and `not in`, so such a learner matches them. Fields that hold several values per
learner (`course`, `enrollment_status` without a course) match `=` / `in` when any of their
values does.

The fields and what they mean precisely are in `FIELDS` (each entry's `help`). Mistakes are
answered all at once, each with its path: `all[2].op`, `not.any[0].value[1]`; the filter
itself (not an object, too big) is `filter`.

`filter_evaluate(filter, facts)` evaluates a valid filter over one learner's facts, a dict:

    risk: int | None, risk_level: str | None, signals: {name: float},
    days_inactive: int, days_since_signup: int, days_since_last_message: int | None,
    courses: {course external id: {"status": str, "progress": float | None}},
    xp: int, level: int, streak: int, streak_at_risk: bool, league: str,
    timezone: str, role: str, learner: int (the user's id),
    signup_week: "YYYY-MM-DD" (the Monday of the learner-local week of signing up),
    first_enrollment_weeks: {course external id: "YYYY-MM-DD" (Monday of the enrolment's
                             learner-local week)},
    streak_days: {"YYYY-MM-DD": run_length} (gamification's StreakDay rows),
    deliveries: [{"campaign": int | None, "template": str, "sent": bool, "opened": bool,
                  "clicked": bool}, ...]
"""

from __future__ import annotations

import datetime
import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from accounts.models import User
from campaigns.models import Campaign
from core.errors import DomainValidationError, invalid_choice_message
from engagement.models import EngagementScore
from engagement.scoring.signals import SIGNAL_NAMES
from gamification.models import LeagueTier
from interventions.models import MessageTemplate
from learning.models import Course, Enrollment

MAX_DEPTH = 8  # groups nested in groups
MAX_NODES = 200  # groups and conditions in one filter
MAX_VALUES = 1000  # items of an in / not_in list
MAX_TEXT = 200  # characters of a text value

ROOT = "filter"
GROUPS = ("all", "any", "not")

NUMBER, DAYS, CHOICE, TEXT, BOOLEAN, WEEK = "number", "days", "choice", "text", "boolean", "week"
OPS: dict[str, tuple[str, ...]] = {
    NUMBER: ("=", "!=", ">", ">=", "<", "<=", "in", "not_in", "is_set"),
    DAYS: ("=", "!=", ">", ">=", "<", "<=", "is_set"),
    CHOICE: ("=", "!=", "in", "not_in", "is_set"),
    TEXT: ("=", "!=", "in", "not_in", "contains", "is_set"),
    BOOLEAN: ("=", "is_set"),
    WEEK: ("=", "!=", "in", "not_in", "is_set"),
}
ALL_OPS: tuple[str, ...] = ("=", "!=", ">", ">=", "<", "<=", "in", "not_in", "contains", "is_set")
LIST_OPS = ("in", "not_in")

# Parameters a field takes besides field/op/value: name -> required.
_PARAMETERS: dict[str, dict[str, bool]] = {
    "signal": {"name": True},
    "progress": {"course": False},
    "enrollment_status": {"course": False},
    "first_enrollment_week": {"course": False},
    "streak_in_two_weeks": {"week": True},
    "received": {"campaign": False, "template": False},
    "opened": {"campaign": False, "template": False},
    "clicked": {"campaign": False, "template": False},
}


def _field(
    type_: str,
    label: str,
    help_: str,
    *,
    value: str | None = None,
    choices: list[str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": type_,
        "label": label,
        "help": help_,
        "ops": list(OPS[type_]),
        "value": value or {DAYS: "integer"}.get(type_, type_),
    }
    if choices is not None:
        spec["choices"] = choices
    return spec


FIELDS: dict[str, dict[str, Any]] = {
    "risk": _field(
        NUMBER,
        "Risk",
        "0-100: the learner's current drop-off risk, the highest among their enrolments in the "
        "current scoring run (engagement's learner-level risk). Not set: not scored.",
    ),
    "risk_level": _field(
        CHOICE,
        "Risk level",
        "The level of the enrolment that drives the learner's risk (the riskiest; ties: the "
        "lower course id). Not set: not scored.",
        choices=list(EngagementScore.Level.values),
    ),
    "signal": _field(
        NUMBER,
        "Risk signal",
        'A signal of the risk model by name ("name"), as scored in the current run for the '
        "enrolment that drives the learner's risk. Not set: not scored.",
    ),
    "days_inactive": _field(
        DAYS,
        "Days inactive",
        "Whole days (24 hours) since the learner's last behaviour event; a learner with no "
        "event at all counts from signing up. Always set.",
    ),
    "days_since_signup": _field(
        DAYS, "Days since signing up", "Whole days (24 hours) since the account was created."
    ),
    "course": _field(
        CHOICE,
        "Course",
        "A course the learner is enrolled in (any status), by its external id. Several "
        "values: = and in match when any enrolment does. Not set: no enrolment.",
        value="course",
    ),
    "enrollment_status": _field(
        CHOICE,
        "Enrollment status",
        'The status of the learner\'s enrolments (in "course" if given, an external id). '
        "Several values: = and in match when any enrolment does. Not set: no enrolment.",
        choices=list(Enrollment.Status.values),
    ),
    "progress": _field(
        NUMBER,
        "Progress",
        '0-100: the share of a course\'s lessons the learner completed, in "course" (an '
        "external id) or the highest over their enrolments. Not set: no enrolment in a course "
        "with lessons.",
    ),
    "xp": _field(NUMBER, "XP", "The learner's XP total (0 before any XP)."),
    "level": _field(NUMBER, "Level", "The learner's level (1 to begin with)."),
    "streak": _field(
        NUMBER,
        "Streak",
        "Active days of the learner's live streak now, in their timezone (0 when it lapsed; "
        "gamification's definition, freezes included).",
    ),
    "streak_at_risk": _field(
        BOOLEAN,
        "Streak at risk today",
        "A live streak and nothing yet today in the learner's timezone (gamification's "
        '"streak at risk today").',
    ),
    "league": _field(
        CHOICE,
        "League",
        "The learner's league tier (bronze to begin with).",
        choices=list(LeagueTier.values),
    ),
    "timezone": _field(
        TEXT, "Timezone", 'The learner\'s IANA timezone, e.g. "Europe/Berlin" (exact case).'
    ),
    "signup_week": _field(
        WEEK,
        "Signup week",
        "The week (Monday to Sunday in the learner's timezone) the account was created, as "
        'its Monday: "2026-11-02". Always set.',
    ),
    "first_enrollment_week": _field(
        WEEK,
        "First enrolment week",
        "The week (Monday to Sunday in the learner's timezone) of the learner's first "
        'enrolment (in "course" if given, an external id), as its Monday. Not set: no '
        "enrolment.",
    ),
    "streak_in_two_weeks": _field(
        NUMBER,
        "Longest streak in two weeks",
        "The longest streak (active days, gamification's definition, freezes included) the "
        'learner had on a day of the 14 from the Monday "week" (YYYY-MM-DD), in their '
        "timezone; 0 without one.",
    ),
    "learner": _field(
        NUMBER,
        "Learner",
        "Stride's own id of the learner (the admin's user id): `in` with a list selects "
        "exactly those learners (a cohort saved from the analytics pages). Always set.",
    ),
    "role": _field(
        CHOICE,
        "Role",
        "The account's role (audiences hold students only).",
        choices=list(User.Role.values),
    ),
    "days_since_last_message": _field(
        DAYS,
        "Days since the last message",
        "Whole days (24 hours) since the last message sent to the learner, any channel or "
        "source. Not set: never sent one.",
    ),
    "received": _field(
        BOOLEAN,
        "Received",
        'Was sent a message of "campaign" (an id) and/or "template" (a slug).',
    ),
    "opened": _field(
        BOOLEAN,
        "Opened",
        'Opened a message of "campaign" (an id) and/or "template" (a slug).',
    ),
    "clicked": _field(
        BOOLEAN,
        "Clicked",
        'Clicked a link in a message of "campaign" (an id) and/or "template" (a slug).',
    ),
}
for _name, _params in _PARAMETERS.items():
    FIELDS[_name]["parameters"] = list(_params)
DELIVERY_FIELDS = {"received": "sent", "opened": "opened", "clicked": "clicked"}


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _shown(value: Any) -> str:
    """A value as a person reads it in a message, cut short."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


class _Checker:
    """Collects every mistake of a filter, each under its path."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}
        self.nodes = 0
        self.refs: dict[str, dict[Any, list[str]]] = {"course": {}, "campaign": {}, "template": {}}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path or ROOT, message)

    def node(self, node: Any, path: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            return
        if not isinstance(node, Mapping):
            self.add(
                path,
                'Give an object: {"all": [...]}, {"any": [...]}, {"not": {...}} or a condition '
                '{"field": ..., "op": ..., "value": ...}.',
            )
            return
        groups = [key for key in GROUPS if key in node]
        if len(groups) > 1 or (groups and "field" in node):
            self.add(path, 'Give one of "all", "any", "not" or "field" per object.')
            return
        if groups:
            self.group(node, path, depth, groups[0])
        elif "field" in node:
            self.leaf(node, path)
        elif node or path:
            self.add(path, 'Give "all", "any", "not" or a condition with "field".')
            for key in node:
                self.add(_at(path, str(key)), f'Unknown key "{key}".')

    def group(self, node: Mapping[str, Any], path: str, depth: int, key: str) -> None:
        for other in node:
            if other != key:
                self.add(_at(path, str(other)), f'Unknown key "{other}": a group has only "{key}".')
        inner = _at(path, key)
        if depth >= MAX_DEPTH:
            self.add(inner, f"Nest at most {MAX_DEPTH} levels deep.")
            return
        if key == "not":
            self.node(node[key], inner, depth + 1)
            return
        items = node[key]
        if not isinstance(items, list):
            self.add(inner, "Give a list of conditions.")
        elif not items:
            self.add(inner, "Give at least one condition.")
        else:
            for i, item in enumerate(items):
                self.node(item, f"{inner}[{i}]", depth + 1)

    def leaf(self, node: Mapping[str, Any], path: str) -> None:
        name = node["field"]
        if not isinstance(name, str) or name not in FIELDS:
            close = difflib.get_close_matches(name, FIELDS, n=1) if isinstance(name, str) else []
            hint = f' Did you mean "{close[0]}"?' if close else ""
            self.add(
                _at(path, "field"),
                f'No field "{_shown(name)}".{hint} Fields: {", ".join(FIELDS)}.',
            )
            return
        spec = FIELDS[name]
        params = _PARAMETERS.get(name, {})
        for key in node:
            if key not in ("field", "op", "value") and key not in params:
                allowed = ", ".join(("field", "op", "value", *params))
                self.add(
                    _at(path, str(key)),
                    f'Unknown key "{key}" for the field "{name}". Keys: {allowed}.',
                )
        self.parameters(node, path, name, params)
        type_ = spec["type"]
        if "op" not in node:
            if type_ != BOOLEAN:
                self.add(_at(path, "op"), f"Give an operator: {', '.join(spec['ops'])}.")
                return
            op = "="
        else:
            op = node["op"]
        if not isinstance(op, str) or op not in ALL_OPS:
            self.add(
                _at(path, "op"), f'No operator "{_shown(op)}". Operators: {", ".join(ALL_OPS)}.'
            )
            return
        if op not in spec["ops"]:
            self.add(_at(path, "op"), f'"{op}" is not defined for {type_} fields.')
            return
        self.value(node, path, spec, op)

    def parameters(
        self, node: Mapping[str, Any], path: str, name: str, params: Mapping[str, bool]
    ) -> None:
        for key, required in params.items():
            if key not in node:
                if required:
                    self.add(_at(path, key), f'Give "{key}" for the field "{name}".')
                continue
            value, at = node[key], _at(path, key)
            if key == "name":
                if not isinstance(value, str) or value not in SIGNAL_NAMES:
                    close = (
                        difflib.get_close_matches(value, SIGNAL_NAMES, n=1)
                        if isinstance(value, str)
                        else []
                    )
                    hint = f' Did you mean "{close[0]}"?' if close else ""
                    self.add(
                        at,
                        f'No signal "{_shown(value)}".{hint} Signals: {", ".join(SIGNAL_NAMES)}.',
                    )
            elif key == "campaign":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    self.add(at, "Give a campaign's id.")
                else:
                    self.refs["campaign"].setdefault(value, []).append(at)
            elif key == "week":
                problem = _week(value, None)
                if problem:
                    self.add(at, problem)
            elif key in ("template", "course"):
                if not isinstance(value, str) or not value or len(value) > 128:
                    what = "template's slug" if key == "template" else "course's external id"
                    self.add(at, f"Give a {what}.")
                else:
                    self.refs[key].setdefault(value, []).append(at)
        if name in DELIVERY_FIELDS and "campaign" not in node and "template" not in node:
            self.add(path, 'Give "campaign": <id> or "template": "<slug>" (or both).')

    def value(self, node: Mapping[str, Any], path: str, spec: Mapping[str, Any], op: str) -> None:
        at = _at(path, "value")
        if op == "is_set" or spec["type"] == BOOLEAN:
            if "value" in node and not isinstance(node["value"], bool):
                self.add(at, "Give true or false (or leave it out: true).")
            return
        if "value" not in node:
            self.add(at, "Give a list of values." if op in LIST_OPS else "Give a value.")
            return
        value = node["value"]
        check = _SCALAR_CHECKS[spec["value"]]
        if op in LIST_OPS:
            if not isinstance(value, list) or not value:
                self.add(at, "Give a list of values.")
                return
            if len(value) > MAX_VALUES:
                self.add(at, f"Give at most {MAX_VALUES} values.")
                return
            for i, item in enumerate(value):
                self.scalar(check, item, f"{at}[{i}]", spec)
            return
        if op == "contains" and value == "":
            self.add(at, "Give the text to look for.")
            return
        self.scalar(check, value, at, spec)

    def scalar(
        self, check: Callable[[Any, Mapping[str, Any]], str | None], value: Any, at: str, spec: Any
    ) -> None:
        problem = check(value, spec)
        if problem:
            self.add(at, problem)
        elif spec["value"] == "course":
            self.refs["course"].setdefault(value, []).append(at)


def _number(value: Any, _spec: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "Give a number."
    if isinstance(value, float) and not math.isfinite(value):
        return "Give a finite number."
    if isinstance(value, int) and abs(value) > 2**53:
        return "Give a number between -2^53 and 2^53."
    return None


def _integer(value: Any, _spec: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
        return "Give a whole number of days, 0 or more."
    return None


def _choice(value: Any, spec: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str) or value not in spec["choices"]:
        return invalid_choice_message(value, spec["choices"])
    return None


def _text(value: Any, _spec: Any) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return f"Give text of at most {MAX_TEXT} characters."
    return None


def _week(value: Any, _spec: Any) -> str | None:
    try:
        day = datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None or day.isoformat() != value or day.weekday() != 0:
        return "Give a Monday as YYYY-MM-DD (weeks start on Mondays)."
    return None


def _course(value: Any, _spec: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 128:
        return "Give a course's external id."
    return None


_SCALAR_CHECKS: dict[str, Callable[[Any, Mapping[str, Any]], str | None]] = {
    "number": _number,
    "integer": _integer,
    "choice": _choice,
    "text": _text,
    "course": _course,
    "week": _week,
}


def filter_errors(filter: Any, *, check_references: bool = True) -> dict[str, str]:
    """Every mistake of `filter`, path -> message (empty: valid). With `check_references`,
    the courses, campaigns and templates it names must exist (one query per kind named)."""
    if filter is None:
        return {}
    checker = _Checker()
    checker.node(filter, "", 1)
    if checker.nodes > MAX_NODES:
        return {ROOT: f"Use at most {MAX_NODES} groups and conditions."}
    if check_references:
        _check_references(checker)
    return checker.errors


def _check_references(checker: _Checker) -> None:
    lookups = {
        "course": (Course.objects, "external_id", "No course"),
        "campaign": (Campaign.objects, "pk", "No campaign"),
        "template": (MessageTemplate.objects, "slug", "No template"),
    }
    for kind, wanted in checker.refs.items():
        if not wanted:
            continue
        manager, column, text = lookups[kind]
        found = set(
            manager.filter(**{f"{column}__in": list(wanted)}).values_list(column, flat=True)
        )
        for value, paths in wanted.items():
            if value not in found:
                for at in paths:
                    checker.add(at, f"{text} {value!r}.")


def filter_validate(filter: Any) -> None:
    """Raise DomainValidationError naming every mistake of `filter` with its path (module
    docstring); None and {} (every learner) are valid."""
    errors = filter_errors(filter)
    if errors:
        raise DomainValidationError(errors)


# --- the reference evaluation ---------------------------------------------------------------


def _multi_values(node: Mapping[str, Any], facts: Mapping[str, Any]) -> set[Any]:
    courses: Mapping[str, Mapping[str, Any]] = facts.get("courses") or {}
    if node["field"] == "course":
        return set(courses)
    if "course" in node:
        entry = courses.get(node["course"])
        return {entry["status"]} if entry else set()
    return {entry["status"] for entry in courses.values()}


def _scalar_value(node: Mapping[str, Any], facts: Mapping[str, Any]) -> Any:
    field = node["field"]
    if field == "signal":
        return (facts.get("signals") or {}).get(node["name"])
    if field == "progress":
        courses: Mapping[str, Mapping[str, Any]] = facts.get("courses") or {}
        if "course" in node:
            entry = courses.get(node["course"])
            return entry.get("progress") if entry else None
        known = [e["progress"] for e in courses.values() if e.get("progress") is not None]
        return max(known) if known else None
    if field == "first_enrollment_week":
        weeks: Mapping[str, str] = facts.get("first_enrollment_weeks") or {}
        if "course" in node:
            return weeks.get(node["course"])
        return min(weeks.values()) if weeks else None
    if field == "streak_in_two_weeks":
        first = datetime.date.fromisoformat(node["week"])
        last = (first + datetime.timedelta(days=13)).isoformat()
        days: Mapping[str, int] = facts.get("streak_days") or {}
        return max((n for day, n in days.items() if node["week"] <= day <= last), default=0)
    if field in DELIVERY_FIELDS:
        flag = DELIVERY_FIELDS[field]
        return any(
            d.get(flag)
            and ("campaign" not in node or d.get("campaign") == node["campaign"])
            and ("template" not in node or d.get("template") == node["template"])
            for d in facts.get("deliveries") or ()
        )
    return facts.get(field)


def _leaf_evaluate(node: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    spec = FIELDS[node["field"]]
    op = node.get("op", "=")
    if op == "!=":
        return not _leaf_evaluate({**node, "op": "="}, facts)
    if op == "not_in":
        return not _leaf_evaluate({**node, "op": "in"}, facts)
    wanted = node.get("value", True)
    if node["field"] in ("course", "enrollment_status"):
        values = _multi_values(node, facts)
        if op == "is_set":
            return bool(values) == wanted
        return bool(values & (set(wanted) if op == "in" else {wanted}))
    value = _scalar_value(node, facts)
    if op == "is_set":
        return (value is not None) == wanted
    if value is None:
        return False
    if spec["type"] == BOOLEAN:
        return value == wanted
    if op == "=":
        return value == wanted
    if op == "in":
        return value in wanted
    if op == "contains":
        return wanted.lower() in value.lower()
    return {
        ">": value > wanted,
        ">=": value >= wanted,
        "<": value < wanted,
        "<=": value <= wanted,
    }[op]


def filter_evaluate(filter: Any, learner_facts: Mapping[str, Any]) -> bool:
    """Whether one learner, described by `learner_facts` (module docstring), matches the valid
    filter `filter`: the plain-Python meaning of the language that the SQL must agree with."""
    if not filter:
        return True
    if "all" in filter:
        return all(filter_evaluate(item, learner_facts) for item in filter["all"])
    if "any" in filter:
        return any(filter_evaluate(item, learner_facts) for item in filter["any"])
    if "not" in filter:
        return not filter_evaluate(filter["not"], learner_facts)
    return _leaf_evaluate(filter, learner_facts)
