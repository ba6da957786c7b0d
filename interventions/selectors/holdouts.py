"""Reads of holdouts: who was deliberately not contacted, and how many were contacted against
held out per scope (the two arms the effectiveness report compares).

A scope is the stable key a holdout share is drawn for: ``rule:<id>`` for an automated rule,
``campaign:<id>`` for a campaign. The learners contacted under a scope are those with a
delivery (any channel, any status) or an outreach task whose source starts with
``<scope>:``; that is, the learners the platform set out to contact (intent to treat: a
message that later bounced still counts as contacted, as a held-out learner who would have
bounced still counts as held out).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Case, CharField, Count, Min, Q, QuerySet, Value, When

from interventions.models import Delivery, Holdout, OutreachTask

_SCALE = float(1 << 64)


def holdout_draw(scope: str, user_id: int) -> float:
    """The learner's place in [0, 1) for `scope`: the first 8 bytes of SHA-256 of
    ``"<scope>:<user id>"``. Stable across processes and releases; a learner is held out of a
    scope when this is below its share, so the same learners always are."""
    digest = hashlib.sha256(f"{scope}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def holdout_is_drawn(scope: str, user_id: int, share: float) -> bool:
    """Whether a holdout of `share` (0 <= share < 1) of `scope` takes this learner."""
    return share > 0 and holdout_draw(scope, user_id) < share


def _window(
    rows: QuerySet, since: datetime.datetime | None, until: datetime.datetime | None
) -> QuerySet:
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    return rows


def holdout_user_ids(
    *,
    scope: str,
    source: str | None = None,
    user_ids: Iterable[int] | None = None,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> set[int]:
    """The learners held out of `scope` (of one `source` if given; among `user_ids` if
    given), recorded in [since, until). One query."""
    rows = Holdout.objects.filter(scope=scope)
    if source is not None:
        rows = rows.filter(source=source[:200])
    if user_ids is not None:
        rows = rows.filter(user_id__in=list(user_ids))
    return set(_window(rows, since, until).values_list("user_id", flat=True).distinct())


def holdouts_of(
    *,
    scope: str,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> list[tuple[int, datetime.datetime]]:
    """Each learner held out of `scope` with when they were first held out (their "exposure":
    the time they would have been contacted), oldest first. One query."""
    rows = _window(Holdout.objects.filter(scope=scope), since, until)
    return list(
        rows.order_by()
        .values("user_id")
        .annotate(first=Min("created_at"))
        .order_by("first", "user_id")
        .values_list("user_id", "first")
    )


@dataclass(frozen=True)
class HoldoutCount:
    """Distinct learners of a scope: contacted (a delivery or task) and held out."""

    contacted: int = 0
    held_out: int = 0

    @property
    def eligible(self) -> int:
        return self.contacted + self.held_out

    @property
    def held_out_share(self) -> float | None:
        return self.held_out / self.eligible if self.eligible else None


def _by_scope(rows: QuerySet, scopes: Sequence[str], kind: str) -> QuerySet:
    """`rows` (deliveries or tasks) of the scopes, as (scope, kind, distinct learners)."""
    prefix = Q()
    for scope in scopes:
        prefix |= Q(source__startswith=f"{scope}:")
    return (
        rows.filter(prefix)
        .annotate(
            scope=Case(
                *(When(source__startswith=f"{s}:", then=Value(s)) for s in scopes),
                output_field=CharField(),
            ),
            kind=Value(kind, output_field=CharField()),
        )
        .order_by()
        .values("scope", "kind")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("scope", "kind", "n")
    )


def holdout_counts(
    *,
    scopes: Iterable[str],
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> dict[str, HoldoutCount]:
    """Per scope, how many distinct learners were contacted (a delivery or an outreach task
    from a source of the scope) and how many held out, recorded in [since, until); every scope
    asked for has an entry (zeros when nothing is recorded). One query (a UNION).

    A learner both contacted and held out under one scope (held out of one run, contacted by
    another after the rule's share was changed, say) counts in both, and one with both a
    delivery and a task of the scope counts twice as contacted (a rule that switched between
    messages and tasks); the report can drop such learners with `holdout_user_ids`."""
    wanted = sorted(set(scopes))
    counts = {scope: HoldoutCount() for scope in wanted}
    if not wanted:
        return counts
    # Longest scopes first, so that "rule:1" never claims "rule:12:..." (the prefix ends in
    # ":" anyway; the order only makes the CASE unambiguous if a scope holds a colon).
    ordered = sorted(wanted, key=len, reverse=True)
    contacted = _by_scope(_window(Delivery.objects.all(), since, until), ordered, "contacted")
    tasks = _by_scope(_window(OutreachTask.objects.all(), since, until), ordered, "contacted")
    held = (
        _window(Holdout.objects.filter(scope__in=wanted), since, until)
        .annotate(kind=Value("held_out", output_field=CharField()))
        .order_by()
        .values("scope", "kind")
        .annotate(n=Count("user_id", distinct=True))
        .values_list("scope", "kind", "n")
    )
    totals: dict[str, dict[str, int]] = {scope: {} for scope in wanted}
    for scope, kind, n in contacted.union(tasks, held, all=True):
        totals[scope][kind] = totals[scope].get(kind, 0) + n
    return {
        scope: HoldoutCount(contacted=t.get("contacted", 0), held_out=t.get("held_out", 0))
        for scope, t in totals.items()
    }
