"""A set of learners picked in one page and messaged from another (the admin's user list to
the send page), kept in the staff member's session: a selection can be thousands of ids, too
many for a URL."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, MutableMapping
from typing import Any

SESSION_KEY = "interventions.selections"
KEEP = 5  # a staff member's latest selections; older ones are dropped


def selection_keep(session: MutableMapping[str, Any], user_ids: Iterable[int]) -> str:
    """Keep these learners in the session; return the key to find them again."""
    key = uuid.uuid4().hex
    kept = dict(session.get(SESSION_KEY) or {})
    kept[key] = sorted(set(user_ids))
    session[SESSION_KEY] = dict(list(kept.items())[-KEEP:])  # insertion order: the newest
    return key


def selection_get(session: MutableMapping[str, Any], key: str) -> list[int] | None:
    """The learners kept under `key`, or None when there is no such selection."""
    value = (session.get(SESSION_KEY) or {}).get(key) if key else None
    return list(value) if isinstance(value, list) else None
