"""Reads for levels: the level table and where a total of XP stands on it.

`level_table()` reads the ten levels in one query; `level_for` and `level_progress` are pure
functions of a total and that table, so that bulk callers read the table once per batch.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from gamification.models import Level, LevelScheme


@dataclass(frozen=True, slots=True)
class LevelInfo:
    """One level: its number, name and the total XP at which it is reached."""

    number: int
    name: str
    threshold_xp: int


@dataclass(frozen=True, slots=True)
class LevelProgress:
    """Where a total of XP stands: the level reached and the way to the next one.

    `xp_into_level` is the XP earned since reaching `level`; `xp_for_next` the XP this level
    spans (from its threshold to the next one's), `xp_to_next` what is still missing, and
    `share` the part done, from 0 to 1. At the top level the next-level fields are None,
    `share` is 1 and `is_top_level` says so.
    """

    total_xp: int
    level: int
    name: str
    threshold_xp: int
    next_level: int | None
    next_name: str | None
    next_threshold_xp: int | None
    xp_into_level: int
    xp_for_next: int | None
    xp_to_next: int | None
    share: float
    is_top_level: bool


# Used only when no level exists at all (a database without the data migration's rows).
_FALLBACK = (LevelInfo(1, "Level 1", 0),)


def level_table() -> tuple[LevelInfo, ...]:
    """Every level, lowest first (one query); a lone "Level 1" if none are defined."""
    rows = Level.objects.order_by("number").values_list("number", "name", "threshold_xp")
    table = tuple(LevelInfo(*row) for row in rows)
    return table or _FALLBACK


def level_scheme_get() -> LevelScheme:
    """The level curve in force (the one scheme row; an unsaved default if there is none)."""
    return LevelScheme.objects.order_by("pk").first() or LevelScheme()


def level_for(total_xp: int, table: Sequence[LevelInfo]) -> int:
    """The number of the highest level whose threshold `total_xp` reaches (pure)."""
    index = bisect_right([info.threshold_xp for info in table], total_xp) - 1
    return table[max(index, 0)].number


def level_progress(total_xp: int, *, table: Sequence[LevelInfo] | None = None) -> LevelProgress:
    """Where `total_xp` stands on the levels (reads the table unless it is given)."""
    table = level_table() if table is None else table
    thresholds = [info.threshold_xp for info in table]
    index = max(bisect_right(thresholds, total_xp) - 1, 0)
    current = table[index]
    into = max(total_xp - current.threshold_xp, 0)
    if index + 1 >= len(table):
        return LevelProgress(
            total_xp=total_xp,
            level=current.number,
            name=current.name,
            threshold_xp=current.threshold_xp,
            next_level=None,
            next_name=None,
            next_threshold_xp=None,
            xp_into_level=into,
            xp_for_next=None,
            xp_to_next=None,
            share=1.0,
            is_top_level=True,
        )
    following = table[index + 1]
    span = following.threshold_xp - current.threshold_xp
    return LevelProgress(
        total_xp=total_xp,
        level=current.number,
        name=current.name,
        threshold_xp=current.threshold_xp,
        next_level=following.number,
        next_name=following.name,
        next_threshold_xp=following.threshold_xp,
        xp_into_level=into,
        xp_for_next=span,
        xp_to_next=max(following.threshold_xp - total_xp, 0),
        share=min(into / span, 1.0) if span > 0 else 1.0,
        is_top_level=False,
    )
