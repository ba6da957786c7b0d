"""The audience filter language: a JSON tree of conditions on learners, validated here and
compiled to one SQL query by `campaigns.selectors.audience`.

    filter  := {"all": [filter, ...]} | {"any": [filter, ...]} | {"not": filter} | leaf
    leaf    := {"field": <name>, "op": <operator>, "value": <value>}
               (+ "name": <signal> for the field "signal")

Every field has a type, and each operator is defined only for the types where it makes
sense (OPERATORS). A leaf whose field has no value for a learner (no score yet, never
active, never messaged) is false for that learner, whatever the operator; `is_set` asks for
exactly that, and `not` turns false into true. Every mistake is reported with its path, e.g.
``all[2].op: ">" is not defined for text fields``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NUMBER, TEXT, CHOICE, BOOLEAN, REFERENCE = "number", "text", "choice", "boolean", "reference"

OPERATORS: dict[str, tuple[str, ...]] = {
    NUMBER: ("=", "!=", ">", ">=", "<", "<=", "in", "not_in", "is_set"),
    TEXT: ("=", "!=", "in", "not_in", "contains", "is_set"),
    CHOICE: ("=", "!=", "in", "not_in", "is_set"),
    BOOLEAN: ("=", "!="),
    # "The learner has (is enrolled in, received, ...) this one": by slug or external id.
    REFERENCE: ("=", "!=", "in", "not_in"),
}
RISK_LEVELS = ("low", "medium", "high", "critical")
ENROLLMENT_STATUSES = ("active", "completed", "withdrawn")
LEAGUE_TIERS = ("bronze", "silver", "gold", "sapphire", "ruby", "emerald", "diamond")
ROLES = ("student", "instructor", "admin")
MAX_DEPTH = 6
MAX_LEAVES = 40
MAX_LIST = 500


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    description: str
    choices: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("risk", NUMBER, "Drop-off risk 0-100 (the learner's riskiest enrolment, current run)."),
        Field("risk_level", CHOICE, "Level of that risk.", RISK_LEVELS),
        Field("never_started", BOOLEAN, "Enrolled but no activity at all yet (current run)."),
        Field("signal", NUMBER, 'A behavioural signal by "name" (riskiest enrolment), e.g. active_days_28.'),
        Field("days_inactive", NUMBER, "Days since the learner was last active (none: never)."),
        Field("course", REFERENCE, "Enrolled (active) in the course with this external id."),
        Field("enrollment_status", CHOICE, "Has an enrolment with this status.", ENROLLMENT_STATUSES),
        Field("xp", NUMBER, "Total XP."),
        Field("level", NUMBER, "Level, 1-10."),
        Field("streak", NUMBER, "Current streak in days."),
        Field("streak_at_risk", BOOLEAN, "The streak breaks unless the learner is active today."),
        Field("league", CHOICE, "League tier.", LEAGUE_TIERS),
        Field("timezone", TEXT, "IANA timezone, e.g. Europe/Madrid."),
        Field("role", CHOICE, "Account role.", ROLES),
        Field("days_since_last_message", NUMBER, "Days since Stride last sent the learner a message."),
        Field("received_campaign", REFERENCE, "Was sent the campaign with this slug."),
        Field("opened_campaign", REFERENCE, "Opened a message of the campaign with this slug."),
        Field("clicked_campaign", REFERENCE, "Clicked in a message of the campaign with this slug."),
        Field("received_template", REFERENCE, "Was sent the template with this slug."),
        Field("opened_template", REFERENCE, "Opened a message of the template with this slug."),
        Field("clicked_template", REFERENCE, "Clicked in a message of the template with this slug."),
    )
}


class FilterError(Exception):
    """Every mistake of a filter, each as (path, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in errors))

    def as_fields(self, prefix: str = "filter") -> dict[str, list[str]]:
        """The errors keyed by their path under `prefix`, for the JSON error shape."""
        out: dict[str, list[str]] = {}
        for path, message in self.errors:
            key = f"{prefix}.{path}" if path else prefix
            out.setdefault(key.replace(".[", "["), []).append(message)
        return out


@dataclass(frozen=True)
class Leaf:
    field: str
    op: str
    value: Any
    name: str = ""  # the signal, for the field "signal"


@dataclass(frozen=True)
class Node:
    kind: str  # "all", "any" or "not"
    children: tuple[Any, ...]


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if value is None:
        return "null"
    return "object"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(field: Field, op: str, value: Any, path: str, errors: list) -> Any:
    """The leaf's value checked against its field and operator (errors appended)."""
    if op == "is_set":
        if not isinstance(value, bool):
            errors.append((f"{path}.value", '"is_set" takes true or false.'))
        return value
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            errors.append((f"{path}.value", f'"{op}" takes a non-empty list.'))
            return value
        if len(value) > MAX_LIST:
            errors.append((f"{path}.value", f"At most {MAX_LIST} values."))
        for i, item in enumerate(value):
            _check_scalar(field, item, f"{path}.value[{i}]", errors)
        return value
    if op == "contains" and not isinstance(value, str):
        errors.append((f"{path}.value", f'"contains" takes text, not {_type_name(value)}.'))
        return value
    _check_scalar(field, value, f"{path}.value", errors)
    return value


def _check_scalar(field: Field, value: Any, path: str, errors: list) -> None:
    if field.type == NUMBER and not _is_number(value):
        errors.append((path, f"{field.name} is a number field; got {_type_name(value)}."))
    elif field.type == BOOLEAN and not isinstance(value, bool):
        errors.append((path, f"{field.name} is true or false; got {_type_name(value)}."))
    elif field.type in (TEXT, REFERENCE) and not (isinstance(value, str) and value):
        errors.append((path, f"{field.name} takes non-empty text; got {_type_name(value)}."))
    elif field.type == CHOICE and value not in field.choices:
        errors.append(
            (path, f'"{value}" is not a {field.name}; choose one of: {", ".join(field.choices)}.')
        )


def parse(data: Any, *, signals: frozenset[str] | None = None) -> Any:
    """The filter `data` as a tree of Node and Leaf, or FilterError listing every mistake.
    `signals`: the signal names "signal" leaves may use (None: not checked)."""
    errors: list[tuple[str, str]] = []
    leaves = [0]
    tree = _parse(data, "", 0, errors, leaves, signals)
    if leaves[0] > MAX_LEAVES:
        errors.append(("", f"At most {MAX_LEAVES} conditions; this filter has {leaves[0]}."))
    if errors:
        raise FilterError(errors)
    return tree


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _parse(data, path, depth, errors, leaves, signals):  # noqa: C901 (one case per shape)
    if depth > MAX_DEPTH:
        errors.append((path, f"Nested deeper than {MAX_DEPTH} levels."))
        return None
    if not isinstance(data, Mapping):
        errors.append((path, f"Expected an object (all, any, not or a condition), got {_type_name(data)}."))
        return None
    groups = [k for k in ("all", "any", "not") if k in data]
    if groups:
        if len(data) != 1:
            extra = sorted(set(data) - {groups[0]})
            errors.append((path, f'"{groups[0]}" stands alone; remove {", ".join(extra)}.'))
            return None
        kind = groups[0]
        inner = data[kind]
        if kind == "not":
            return Node("not", (_parse(inner, _join(path, "not"), depth + 1, errors, leaves, signals),))
        if not isinstance(inner, list) or not inner:
            errors.append((_join(path, kind), f'"{kind}" takes a non-empty list of filters.'))
            return None
        return Node(
            kind,
            tuple(
                _parse(child, f"{_join(path, kind)}[{i}]", depth + 1, errors, leaves, signals)
                for i, child in enumerate(inner)
            ),
        )
    leaves[0] += 1
    unknown = sorted(set(data) - {"field", "op", "value", "name"})
    if unknown:
        errors.append((path, f"Unknown key{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}."))
    name = data.get("field")
    field = FIELDS.get(name) if isinstance(name, str) else None
    if field is None:
        errors.append(
            (_join(path, "field"), f'"{name}" is not a field; choose one of: {", ".join(FIELDS)}.')
        )
        return None
    op = data.get("op")
    if op not in OPERATORS[field.type]:
        shown = op if isinstance(op, str) else _type_name(op)
        errors.append(
            (
                _join(path, "op"),
                f'"{shown}" is not defined for {field.type} fields; use one of: '
                f"{', '.join(OPERATORS[field.type])}.",
            )
        )
        return None
    if "value" not in data:
        errors.append((_join(path, "value"), "A value is required."))
        return None
    signal = ""
    if field.name == "signal":
        signal = data.get("name")
        if not isinstance(signal, str) or not signal:
            errors.append((_join(path, "name"), "Name the signal, e.g. active_days_28."))
        elif signals is not None and signal not in signals:
            errors.append((_join(path, "name"), f'"{signal}" is not a signal.'))
    elif "name" in data:
        errors.append((_join(path, "name"), 'Only the field "signal" takes a name.'))
    value = _check_value(field, op, data["value"], path, errors)
    return Leaf(field.name, op, value, signal or "")


def catalogue() -> list[dict[str, Any]]:
    """The fields and their operators, as documented to staff and integrators."""
    return [
        {
            "field": f.name,
            "type": f.type,
            "operators": list(OPERATORS[f.type]),
            "choices": list(f.choices),
            "description": f.description,
        }
        for f in FIELDS.values()
    ]
