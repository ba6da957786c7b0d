"""Anti-cheat for XP: what a claim is, and the paid awards that decide whether it pays.

A claim is refused when its action is switched off; when it is paid once (per learner, or per
object) and was paid already; when the action's daily cap is reached in the learner's own
calendar day; when the same action on the same object (`reference`) was paid less than its
minimum interval before or after; or when it would make more than `burst_limit` awards of
burst-limited actions within one span of the burst window. Late and out-of-order claims are
weighed like the rest. `history_load` reads, in one query, just the ledger rows that bear on
a batch of claims.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q

from core.bulk import fetch_rows
from core.localtime import utc_bounds_of_local_dates
from core.lookups import array_literal
from gamification.models import XpAction, XpRefusal, XpTransaction
from gamification.selectors.xp import ActionCatalogue, ActionSpec

KEY_MAX = XpTransaction._meta.get_field("idempotency_key").max_length
# A local calendar day lasts at most 25 hours (a DST change): ledger rows of the same local
# day as an award lie within this margin of it.
DAY_MARGIN = timedelta(hours=26)

Reason = XpRefusal.Reason
Kind = XpTransaction.Kind


@dataclass(slots=True)
class Claim:
    """One award asked for: by an event of a batch, or by a single `xp_award` call."""

    user_id: int
    action: ActionSpec
    amount: int
    reference: str
    occurred_at: datetime
    course_id: int | None
    key: str
    reason: str = ""
    local_date: date | None = None
    once_key: str | None = None


def once_key(user_id: int, action: ActionSpec, reference: str) -> str | None:
    """The key that makes the database pay a once-only action once (None for other actions).

    Per learner for `once`, per learner and object for `once_per_reference` (an award without
    a reference is then paid like any other, within the limits).
    """
    if action.repeat == XpAction.Repeat.ONCE:
        return f"{user_id}:{action.id}"
    if action.repeat == XpAction.Repeat.ONCE_PER_REFERENCE and reference:
        text = f"{user_id}:{action.id}:{reference}"
        if len(text) > KEY_MAX:
            digest = hashlib.sha256(reference.encode("utf-8", "surrogatepass")).hexdigest()
            text = f"{user_id}:{action.id}:#{digest}"
        return text
    return None


class History:
    """The paid awards that anti-cheat weighs, from the ledger and from the batch so far."""

    __slots__ = ("burst", "day", "once", "ref")

    def __init__(self) -> None:
        self.day: Counter[tuple[int, int, date]] = Counter()
        self.ref: defaultdict[tuple[int, int, str], list[datetime]] = defaultdict(list)
        self.burst: defaultdict[int, list[datetime]] = defaultdict(list)
        self.once: set[str] = set()

    def add(
        self,
        user_id: int,
        action: ActionSpec | None,
        reference: str,
        at: datetime,
        day: date,
        once: str | None,
    ) -> None:
        """Count a paid award toward the limits its action (as configured now) has."""
        if once is not None:
            self.once.add(once)
        if action is None:
            return
        if action.daily_cap is not None:
            self.day[user_id, action.id, day] += 1
        if action.min_interval:
            self.ref[user_id, action.id, reference].append(at)
        if action.burst_limit is not None:
            insort(self.burst[user_id], at)

    def refusal(self, claim: Claim) -> str | None:
        """Why anti-cheat refuses `claim` given what was paid, or None when it pays."""
        action = claim.action
        if not action.is_active:
            return Reason.INACTIVE
        if claim.once_key is not None and claim.once_key in self.once:
            return Reason.ALREADY_EARNED
        user_id, at = claim.user_id, claim.occurred_at
        cap = action.daily_cap
        if cap is not None and self.day[user_id, action.id, claim.local_date] >= cap:
            return Reason.DAILY_CAP
        if action.min_interval:
            interval = action.min_interval
            for paid in self.ref.get((user_id, action.id, claim.reference), ()):
                if abs(at - paid) < interval:
                    return Reason.MIN_INTERVAL
        if action.burst_limit is not None:
            times = self.burst.get(user_id)
            if times and burst_exceeded(times, at, action.burst_window, action.burst_limit):
                return Reason.BURST
        return None


def burst_exceeded(times: list[datetime], at: datetime, window: timedelta, limit: int) -> bool:
    """Whether paying at `at` would put more than `limit` paid awards (sorted `times`) into
    some span of `window`: awards arriving late or out of order are weighed like the rest.

    The fullest span holding `at` starts at `at` or at a paid award within `window` before it.
    """
    first = bisect_right(times, at - window)
    for start in (*times[first : bisect_right(times, at)], at):
        if bisect_left(times, start + window) - bisect_left(times, start) >= limit:
            return True
    return False


def history_load(claims: Sequence[Claim], catalogue: ActionCatalogue) -> History:
    """Read, in one query, the paid awards that bear on the claims: each learner's awards near
    their claims in time (intervals, bursts), on their claims' local days (daily caps, for
    capped actions only), and those holding the once-keys the claims would take."""
    history = History()
    near = timedelta(0)
    capped: set[int] = set()
    for spec in {claim.action.id: claim.action for claim in claims}.values():
        near = max(near, spec.min_interval)
        if spec.burst_limit is not None:
            near = max(near, spec.burst_window)
        if spec.daily_cap is not None:
            capped.add(spec.id)
    keys = [claim.once_key for claim in claims if claim.once_key is not None]
    if not near and not capped and not keys:
        return history
    # Per learner: the span of their claims' instants, and of their capped claims' days.
    spans: dict[int, list[Any]] = {}
    for claim in claims:
        span = spans.get(claim.user_id)
        at, day = claim.occurred_at, claim.local_date
        if span is None:
            span = spans[claim.user_id] = [at, at, None, None]
        elif at < span[0]:
            span[0] = at
        elif at > span[1]:
            span[1] = at
        if claim.action.id in capped:
            span[2] = day if span[2] is None or day < span[2] else span[2]
            span[3] = day if span[3] is None or day > span[3] else span[3]
    if connection.vendor == "postgresql":
        found = _history_rows_postgresql(spans, near, capped, keys)
    else:
        found = _history_rows_generic(spans, near, capped, keys)
    by_id = catalogue.by_id
    add = history.add
    for _, user_id, action_id, reference, at, day, once in found:
        add(user_id, by_id.get(action_id), reference, at, day, once)
    return history


_HISTORY_COLUMNS = (
    "t.id, t.user_id, t.action_id, t.reference, t.occurred_at, t.local_date, t.once_key"
)


def _history_rows_postgresql(
    spans: dict[int, list[Any]], near: timedelta, capped: set[int], keys: list[str]
) -> list[tuple[Any, ...]]:
    # One statement of up to three index-friendly parts: the learners' awards within the
    # batch's time span (widened by the longest interval or burst window), on its capped
    # days, and holding its once-keys. UNION drops a row that two parts found. Lists are bound
    # as array literals (see array_literal).
    ledger = connection.ops.quote_name(XpTransaction._meta.db_table)
    users = array_literal(spans)
    parts: list[str] = []
    params: list[Any] = []
    if near:
        parts.append(
            f"SELECT {_HISTORY_COLUMNS} FROM {ledger} t WHERE t.user_id = ANY(%s::bigint[]) "
            "AND t.kind = 'award' AND t.occurred_at BETWEEN %s AND %s"
        )
        params += [
            users,
            min(span[0] for span in spans.values()) - near,
            max(span[1] for span in spans.values()) + near,
        ]
    days = [span for span in spans.values() if span[2] is not None]
    if days:
        first, last = min(span[2] for span in days), max(span[3] for span in days)
        parts.append(
            f"SELECT {_HISTORY_COLUMNS} FROM {ledger} t WHERE t.user_id = ANY(%s::bigint[]) "
            "AND t.occurred_at >= %s AND t.occurred_at < %s AND t.kind = 'award' "
            "AND t.action_id = ANY(%s::bigint[]) AND t.local_date BETWEEN %s AND %s"
        )
        params += [
            users,
            *utc_bounds_of_local_dates(first, last),
            array_literal(sorted(capped)),
            first,
            last,
        ]
    if keys:
        parts.append(
            f"SELECT {_HISTORY_COLUMNS} FROM {ledger} t WHERE t.once_key = ANY(%s::text[])"
        )
        params.append(array_literal(keys))
    # Thousands of rows with a timestamp each: fetch_rows reads them with psycopg's own loader.
    return fetch_rows(" UNION ".join(parts), params)


def _history_rows_generic(
    spans: dict[int, list[Any]], near: timedelta, capped: set[int], keys: list[str]
) -> Iterable[tuple[Any, ...]]:
    # SQLite (the embedded default, small): one range over all the claims' learners, a
    # superset of what the PostgreSQL query reads; anti-cheat weighs only what bears.
    condition = Q()
    if near or capped:
        margin = max(near, DAY_MARGIN if capped else near)
        earliest = min(span[0] for span in spans.values()) - margin
        latest = max(span[1] for span in spans.values()) + margin
        condition |= Q(occurred_at__gte=earliest, occurred_at__lte=latest)
    if keys:
        condition |= Q(once_key__in=keys)
    return (
        XpTransaction.objects.filter(condition, user_id__in=list(spans), kind=Kind.AWARD)
        .order_by()
        .values_list(
            "id", "user_id", "action_id", "reference", "occurred_at", "local_date", "once_key"
        )
    )
