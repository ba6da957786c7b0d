"""Moments: recording what is worth telling a learner, once per dedupe key, and handing the new
ones to the handlers named in ``settings.STRIDE_MOMENT_HANDLERS`` after the commit.

Gamification imports nothing above it: an app that turns moments into messages (interventions)
names a handler in the setting, which is called with the list of new moments as plain frozen
`core.records.MomentRecord`s, once per recording call, only once the transaction that
recorded them has committed (never for a rolled-back one). Handlers are expected to be bulk
and idempotent; one that raises is logged and does not undo the moments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.bulk import rows_insert
from core.errors import DomainValidationError, invalid_choice_message
from core.records import MomentRecord
from gamification.models import Moment

logger = logging.getLogger(__name__)

MomentHandler = Callable[[list[MomentRecord]], Any]

_COLUMNS = (
    ("user_id", "bigint"),
    ("kind", "text"),
    ("title", "text"),
    ("body", "text"),
    ("data", "jsonb"),
    ("dedupe_key", "text"),
    ("occurred_at", "timestamptz"),
)
_TITLE_MAX = Moment._meta.get_field("title").max_length
_KEY_MAX = Moment._meta.get_field("dedupe_key").max_length


@dataclass(frozen=True, slots=True)
class MomentDraft:
    """A moment to record: what `moment_record` takes, for the bulk `moments_record`."""

    user_id: int
    kind: str
    title: str
    dedupe_key: str
    body: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


def moment_record(
    *,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    data: Mapping[str, Any] | None = None,
    dedupe_key: str,
    occurred_at: datetime | None = None,
) -> MomentRecord | None:
    """Record one moment unless its dedupe key is taken; return it, or None if it existed."""
    recorded = moments_record(
        [
            MomentDraft(
                user_id=user_id,
                kind=kind,
                title=title,
                body=body,
                data=data or {},
                dedupe_key=dedupe_key,
                occurred_at=occurred_at,
            )
        ]
    )
    return recorded[0] if recorded else None


def moments_record(records: Sequence[MomentDraft]) -> list[MomentRecord]:
    """Record the moments whose dedupe key is new, in one INSERT; return those, in order.

    After the commit the handlers of ``STRIDE_MOMENT_HANDLERS`` get the returned records
    (immediately when no transaction is open). A key given twice in `records` is recorded
    once, the first time. Raises DomainValidationError naming the field of a malformed moment
    (by index under `moments` when several are given); nothing is recorded then.
    """
    if not records:
        return []
    _validate(records)
    now = timezone.now()
    rows = []
    data_of: dict[str, dict[str, Any]] = {}
    for draft in records:
        data = dict(draft.data)
        data_of.setdefault(draft.dedupe_key, data)
        rows.append(
            (
                draft.user_id,
                draft.kind,
                draft.title,
                draft.body,
                json.dumps(data, separators=(",", ":"), default=str),
                draft.dedupe_key,
                draft.occurred_at or now,
            )
        )
    with transaction.atomic():
        inserted = rows_insert(Moment, _COLUMNS, rows, returning=("id", "dedupe_key"))
    by_key = {draft.dedupe_key: draft for draft in reversed(records)}  # the first of a key wins
    recorded = []
    for pk, key in inserted:
        draft = by_key[key]
        recorded.append(
            MomentRecord(
                id=pk,
                user_id=draft.user_id,
                kind=draft.kind,
                title=draft.title,
                body=draft.body,
                data=json.loads(json.dumps(data_of[key], default=str)),
                dedupe_key=key,
                occurred_at=draft.occurred_at or now,
            )
        )
    if recorded:
        handlers = _handlers(tuple(settings.STRIDE_MOMENT_HANDLERS))
        if handlers:
            transaction.on_commit(lambda: _call_handlers(handlers, recorded))
    return recorded


def _validate(records: Sequence[MomentDraft]) -> None:
    errors: dict[str, dict[str, list[str]]] = {}
    for index, draft in enumerate(records):
        problems: dict[str, list[str]] = {}
        if draft.kind not in Moment.Kind.values:
            problems["kind"] = [invalid_choice_message(draft.kind, Moment.Kind.values)]
        if not draft.title or len(draft.title) > _TITLE_MAX:
            problems["title"] = [f"A title of 1 to {_TITLE_MAX} characters is required."]
        if not draft.dedupe_key or len(draft.dedupe_key) > _KEY_MAX:
            problems["dedupe_key"] = [f"A dedupe key of 1 to {_KEY_MAX} characters is required."]
        if not isinstance(draft.data, Mapping):
            problems["data"] = ["Data must be a JSON object."]
        if problems:
            errors[str(index)] = problems
    if not errors:
        return
    if len(records) == 1:
        raise DomainValidationError(errors["0"])
    raise DomainValidationError({"moments": errors})


def _call_handlers(handlers: list[MomentHandler], recorded: list[MomentRecord]) -> None:
    for handler in handlers:
        try:
            handler(list(recorded))
        except Exception:
            # The moments are committed: a failing handler (a message channel that is down)
            # must not fail the request that earned them, nor stop the handlers after it.
            logger.exception("moment handler %s failed", getattr(handler, "__name__", handler))


@lru_cache(maxsize=8)
def _handlers(paths: tuple[str, ...]) -> list[MomentHandler]:
    return [import_string(path) for path in paths]
