"""Plain sentences for signal values: what a driver says to a person ("No activity for 12 days
(the course's typical gap is 3 days)"), built from the catalogue's templates.

Nothing here decides what matters; the model picks the drivers, this only words them.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from functools import cache, lru_cache

from engagement.scoring.signals.catalogue import (
    DAYS_LEFT_CAP,
    MISSING,
    SIGNAL_INDEX,
    SIGNALS,
    Signal,
)

COURSE_SCOPE = "the course's"  # the comparison is with the learner's course
MODEL_SCOPE = "a"  # the comparison is with the model's typical learner ("a typical gap is ...")


def _number(v: float) -> str:
    """Return ``v`` as an integer when it is one (to 0.05), else with one decimal."""
    return f"{round(v):d}" if abs(v - round(v)) < 0.05 else f"{v:.1f}"


def _counted(v: float, noun: tuple[str, str]) -> str:
    text = _number(v)
    word = noun[0] if text in ("1", "-1") else noun[1]
    return f"{text} {word}".strip()


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60.0)
    if minutes < 1:
        return "under a minute" if seconds > 0 else "no time"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def format_value(sig: Signal, v: float) -> str:
    """Return signal ``sig``'s value ``v`` as a person reads it (its ``fmt``, with units)."""
    fmt = sig.fmt
    if fmt == "count":
        return _counted(v, sig.noun if sig.noun[1] else ("", ""))
    if fmt == "number":
        return _number(v)
    if fmt in ("days", "days_left"):
        return _counted(abs(v) if fmt == "days_left" else v, ("day", "days"))
    if fmt == "percent":
        return f"{round(100.0 * v):d}%"
    if fmt == "signed":
        return f"{v:+.1f} {sig.noun[1]}".strip()
    if fmt == "more_fewer":
        counted = _counted(abs(v), sig.noun)
        number, _, noun = counted.partition(" ")
        return f"{number} {'more' if v > 0 else 'fewer'} {noun}".strip()
    if fmt == "duration":
        return _duration(v)
    if fmt == "decimal":
        return f"{v:.1f} {sig.noun[1]}".strip()
    if fmt == "points_change":
        return f"{'up' if v > 0 else 'down'} {abs(round(100.0 * v)):d} points"
    raise ValueError(f"unknown format {fmt!r} of signal {sig.name}")


@cache
def _fields(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def signal_sentence(
    name: str,
    value: float,
    *,
    row: Mapping[str, float] | None = None,
    typical: float | None = None,
    scope: str = COURSE_SCOPE,
) -> str:
    """Return the sentence for signal ``name`` at ``value``, compared with ``typical`` if given.

    ``row`` holds the row's other signal values, for templates that name them (a never-started
    enrolment says how long ago it began). ``scope`` words the comparison: COURSE_SCOPE when
    ``typical`` is the course's median, MODEL_SCOPE when it is the model's typical learner.
    """
    others = tuple(
        (field, float(row[field]))
        for field in mentioned_signals(name)
        if row is not None and field in row
    )
    return sentence(name, float(value), None if typical is None else float(typical), scope, others)


@cache
def mentioned_signals(name: str) -> tuple[str, ...]:
    """Return the other signals any of ``name``'s templates mention (their values are needed)."""
    sig = SIGNALS[SIGNAL_INDEX[name]]
    fields = {f for t in (sig.text, sig.zero, sig.missing) for f in _fields(t) if f != "value"}
    return tuple(sorted(f for f in fields if f in SIGNAL_INDEX))


@lru_cache(maxsize=100_000)
def sentence(
    name: str,
    value: float,
    typical: float | None,
    scope: str,
    others: tuple[tuple[str, float], ...] = (),
) -> str:
    """Return ``signal_sentence``'s text, with the mentioned signals' values as (name, value)
    pairs; memoised, since scores repeat the same counts and days endlessly."""
    sig = SIGNALS[SIGNAL_INDEX[name]]
    missing = value == MISSING and bool(sig.missing)
    if missing:
        template = sig.missing
    elif value == 0 and sig.zero:
        template = sig.zero
    elif sig.fmt == "days_left" and value >= DAYS_LEFT_CAP:
        template = "The course has no end date"
    elif sig.fmt == "days_left" and value < 0:
        template = "The course ended {value} ago"
    else:
        template = sig.text or sig.description
    values: dict[str, str] = {"value": format_value(sig, value)}
    for field, other_value in others:
        values[field] = format_value(SIGNALS[SIGNAL_INDEX[field]], other_value)
    text = template.format_map(_Blank(values))
    comparable = (
        sig.typical
        and typical is not None
        and math.isfinite(typical)
        and not missing
        and not (sig.missing and typical == MISSING)
    )
    if comparable:
        compare = sig.typical.format(scope=scope, typical=format_value(sig, float(typical)))
        text = f"{text} ({compare})"
    return text[:1].upper() + text[1:]


class _Blank(dict):
    """A format mapping that prints an unknown field as a question mark, never raises."""

    def __missing__(self, key: str) -> str:
        return "?"
