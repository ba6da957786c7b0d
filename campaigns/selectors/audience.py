"""Audiences: a filter of the language in `campaigns.filters` compiled to ONE SQL query over
the learners (active accounts that are not staff), never a loop over learners in Python.

Each field is a column of the learner or a correlated subquery: the current scoring run's
riskiest enrolment (risk, level, never started, signals), the game profile (XP, level, streak,
league, last active date), enrolments, moments and deliveries. Every leaf is ANDed with "the
field has a value", so a learner without one is outside the leaf and inside its `not`,
exactly as the language says, whatever SQL's NULL logic would do.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Exists,
    F,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.models import User
from campaigns.filters import FilterError, Leaf, Node, parse
from engagement.models import EngagementScore, ScoringRun
from engagement.selectors.dashboard import scoring_run_current
from engagement.selectors.signals import SIGNAL_LABELS
from gamification.models import Moment
from interventions.models import Delivery, MessageTemplate
from learning.models import Enrollment

SAMPLE_SIZE = 10
_SENT = (
    Delivery.Status.SENT,
    Delivery.Status.DELIVERED,
    Delivery.Status.OPENED,
    Delivery.Status.CLICKED,
    Delivery.Status.CONVERTED,
)


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[User]


def learners() -> QuerySet[User]:
    """Everyone an audience can hold: active accounts that are not staff."""
    return User.objects.filter(is_active=True, is_staff=False)


class _Compiler:
    def __init__(self, run: ScoringRun | None, today: datetime.date) -> None:
        self.run = run
        self.today = today
        self.annotations: dict[str, Any] = {}
        self.errors: list[tuple[str, str]] = []

    # --- columns ----------------------------------------------------------------------------

    def _top_score(self) -> QuerySet[EngagementScore]:
        return EngagementScore.objects.filter(
            run=self.run, user_id=OuterRef("pk")
        ).order_by("-drop_off_risk", "course_id")

    def _column(self, name: str, expression: Any) -> str:
        alias = f"_aud_{name}"
        self.annotations.setdefault(alias, expression)
        return alias

    def _score_column(self, column: str) -> str:
        return self._column(column, Subquery(self._top_score().values(column)[:1]))

    def _signal_column(self, signal: str) -> str:
        names = list(self.run.signal_names or []) if self.run else []
        key = str(names.index(signal)) if signal in names else signal
        value = Cast(KeyTextTransform(key, "signals"), FloatField())
        expression = Subquery(self._top_score().annotate(v=value).values("v")[:1])
        return self._column(f"signal_{signal}", expression)

    # --- leaves -----------------------------------------------------------------------------

    def leaf(self, leaf: Leaf, path: str) -> Q:
        handler: Callable[[Leaf, str], Q] = getattr(self, f"_leaf_{leaf.field}")
        return handler(leaf, path)

    @staticmethod
    def _compare(column: str, op: str, value: Any, *, has_value: bool = True) -> Q:
        """`column op value`, false where the column has no value (the language's rule)."""
        if op == "is_set":
            isset = Q(**{f"{column}__isnull": False})
            return isset if value else ~isset
        lookup = {
            "=": "exact",
            ">": "gt",
            ">=": "gte",
            "<": "lt",
            "<=": "lte",
            "in": "in",
            "contains": "icontains",
        }
        present = Q(**{f"{column}__isnull": False})
        if op == "!=":
            return present & ~Q(**{column: value})
        if op == "not_in":
            return present & ~Q(**{f"{column}__in": value})
        return present & Q(**{f"{column}__{lookup[op]}": value})

    def _scored(self, column: str, leaf: Leaf) -> Q:
        if self.run is None:  # no scoring run yet: nobody has a score
            return Q(pk__in=[]) if leaf.op != "is_set" or leaf.value else Q()
        return self._compare(self._score_column(column), leaf.op, leaf.value)

    def _leaf_risk(self, leaf: Leaf, path: str) -> Q:
        return self._scored("drop_off_risk", leaf)

    def _leaf_risk_level(self, leaf: Leaf, path: str) -> Q:
        return self._scored("level", leaf)

    def _leaf_never_started(self, leaf: Leaf, path: str) -> Q:
        return self._scored("never_started", leaf)

    def _leaf_signal(self, leaf: Leaf, path: str) -> Q:
        if self.run is None:
            return Q(pk__in=[])
        return self._compare(self._signal_column(leaf.name), leaf.op, leaf.value)

    def _days_ago(self, column: str, leaf: Leaf) -> Q:
        """A whole number of days before today, compared through the date it stands for:
        days > N is date < today - N (the direction turns)."""
        if leaf.op == "is_set":
            return self._compare(column, "is_set", leaf.value)

        def day(n: float) -> datetime.date:
            return self.today - datetime.timedelta(days=int(n))

        flipped = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "!=": "!="}
        if leaf.op in ("in", "not_in"):
            days = [day(n) for n in leaf.value if float(n).is_integer()]
            return self._compare(column, leaf.op, days)
        value = leaf.value
        if not float(value).is_integer():  # whole days: 2.5 < d means d >= 3
            value = int(value) + (1 if leaf.op in (">", ">=") else 0)
            if leaf.op in ("=",):
                return Q(pk__in=[])
            if leaf.op == "!=":
                return Q(**{f"{column}__isnull": False})
        return self._compare(column, flipped[leaf.op], day(value))

    def _leaf_days_inactive(self, leaf: Leaf, path: str) -> Q:
        return self._days_ago("game_profile__last_active_date", leaf)

    def _leaf_days_since_last_message(self, leaf: Leaf, path: str) -> Q:
        last = Subquery(
            Delivery.objects.filter(user_id=OuterRef("pk"), sent_at__isnull=False)
            .order_by()
            .values("user_id")
            .annotate(last=Max("sent_at"))
            .values("last")[:1]
        )
        column = self._column("last_message", last)
        return self._days_ago(f"{column}__date", leaf)

    def _profile(self, column: str, default: Any, leaf: Leaf, output: Any) -> Q:
        alias = self._column(column, Coalesce(F(f"game_profile__{column}"), Value(default), output_field=output))
        return self._compare(alias, leaf.op, leaf.value)

    def _leaf_xp(self, leaf: Leaf, path: str) -> Q:
        return self._profile("total_xp", 0, leaf, IntegerField())

    def _leaf_level(self, leaf: Leaf, path: str) -> Q:
        return self._profile("level", 1, leaf, IntegerField())

    def _leaf_streak(self, leaf: Leaf, path: str) -> Q:
        return self._profile("current_streak", 0, leaf, IntegerField())

    def _leaf_league(self, leaf: Leaf, path: str) -> Q:
        from django.db.models import CharField

        return self._profile("league_tier", "bronze", leaf, CharField())

    def _leaf_timezone(self, leaf: Leaf, path: str) -> Q:
        return self._compare("timezone", leaf.op, leaf.value)

    def _leaf_role(self, leaf: Leaf, path: str) -> Q:
        return self._compare("role", leaf.op, leaf.value)

    def _exists(self, queryset: QuerySet, leaf: Leaf) -> Q:
        """For reference and boolean fields: the learner has a matching row (or has not)."""
        positive = leaf.op in ("=", "in") if not isinstance(leaf.value, bool) else (
            (leaf.op == "=") == leaf.value
        )
        exists = Exists(queryset)
        return Q(exists) if positive else ~Q(exists)

    @staticmethod
    def _values(leaf: Leaf) -> list[Any]:
        return leaf.value if isinstance(leaf.value, list) else [leaf.value]

    def _leaf_course(self, leaf: Leaf, path: str) -> Q:
        rows = Enrollment.objects.filter(
            user_id=OuterRef("pk"),
            status=Enrollment.Status.ACTIVE,
            course__external_id__in=self._values(leaf),
        )
        return self._exists(rows, leaf)

    def _leaf_enrollment_status(self, leaf: Leaf, path: str) -> Q:
        if leaf.op == "is_set":
            return self._exists(Enrollment.objects.filter(user_id=OuterRef("pk")), Leaf("", "=", leaf.value))
        rows = Enrollment.objects.filter(user_id=OuterRef("pk"), status__in=self._values(leaf))
        return self._exists(rows, leaf)

    def _leaf_streak_at_risk(self, leaf: Leaf, path: str) -> Q:
        rows = Moment.objects.filter(
            user_id=OuterRef("pk"),
            kind=Moment.Kind.STREAK_AT_RISK,
            dedupe_key__endswith=f":{self.today.isoformat()}",
        )
        return self._exists(rows, leaf)

    def _campaign_deliveries(self, leaf: Leaf, path: str) -> QuerySet[Delivery]:
        from campaigns.models import Campaign

        slugs = self._values(leaf)
        ids = dict(Campaign.objects.filter(slug__in=slugs).values_list("slug", "id"))
        for slug in slugs:
            if slug not in ids:
                self.errors.append((f"{path}.value", f'No campaign has the slug "{slug}".'))
        q = Q(pk__in=[])
        for campaign_id in ids.values():
            q |= Q(source__startswith=f"campaign:{campaign_id}:")
        return Delivery.objects.filter(q, user_id=OuterRef("pk"))

    def _template_deliveries(self, leaf: Leaf, path: str) -> QuerySet[Delivery]:
        slugs = self._values(leaf)
        known = set(MessageTemplate.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        for slug in slugs:
            if slug not in known:
                self.errors.append((f"{path}.value", f'No template has the slug "{slug}".'))
        return Delivery.objects.filter(user_id=OuterRef("pk"), template__slug__in=slugs)

    def _leaf_received_campaign(self, leaf: Leaf, path: str) -> Q:
        return self._exists(self._campaign_deliveries(leaf, path).filter(status__in=_SENT), leaf)

    def _leaf_opened_campaign(self, leaf: Leaf, path: str) -> Q:
        return self._exists(self._campaign_deliveries(leaf, path).filter(opened_at__isnull=False), leaf)

    def _leaf_clicked_campaign(self, leaf: Leaf, path: str) -> Q:
        return self._exists(self._campaign_deliveries(leaf, path).filter(clicked_at__isnull=False), leaf)

    def _leaf_received_template(self, leaf: Leaf, path: str) -> Q:
        return self._exists(self._template_deliveries(leaf, path).filter(status__in=_SENT), leaf)

    def _leaf_opened_template(self, leaf: Leaf, path: str) -> Q:
        return self._exists(self._template_deliveries(leaf, path).filter(opened_at__isnull=False), leaf)

    def _leaf_clicked_template(self, leaf: Leaf, path: str) -> Q:
        return self._exists(self._template_deliveries(leaf, path).filter(clicked_at__isnull=False), leaf)

    # --- the tree ---------------------------------------------------------------------------

    def node(self, tree: Any, path: str = "") -> Q:
        if isinstance(tree, Leaf):
            return self.leaf(tree, path)
        if tree.kind == "not":
            return ~self.node(tree.children[0], f"{path}.not" if path else "not")
        q = Q() if tree.kind == "all" else Q(pk__in=[])
        for i, child in enumerate(tree.children):
            child_path = f"{path}.{tree.kind}[{i}]" if path else f"{tree.kind}[{i}]"
            q = (q & self.node(child, child_path)) if tree.kind == "all" else (q | self.node(child, child_path))
        return q


def audience_queryset(
    data: Any, *, run: ScoringRun | None = None, today: datetime.date | None = None
) -> QuerySet[User]:
    """The learners `data` (a filter) selects, as one query; FilterError names each mistake
    with its path. `run`: the scoring run whose scores count (the current one by default)."""
    tree = parse(data, signals=frozenset(SIGNAL_LABELS))
    compiler = _Compiler(run or scoring_run_current(), today or timezone.localdate())
    q = compiler.node(tree)
    if compiler.errors:
        raise FilterError(compiler.errors)
    return learners().annotate(**compiler.annotations).filter(q).order_by("pk")


def audience_user_ids(data: Any, **kwargs: Any) -> list[int]:
    return list(audience_queryset(data, **kwargs).values_list("pk", flat=True))


def audience_preview(data: Any, *, sample: int = SAMPLE_SIZE) -> Preview:
    """How many learners the filter selects now, and the first of them."""
    queryset = audience_queryset(data)
    return Preview(
        count=queryset.count(),
        sample=list(queryset.only("id", "email", "first_name", "last_name", "external_id")[:sample]),
    )
