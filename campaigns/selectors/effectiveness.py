"""Does contacting learners keep them? For each automated rule, campaign and template: the
learners contacted against those deliberately held out (interventions' holdouts), compared on
retention after the moment they were (or would have been) contacted.

Outcomes, per learner, from that moment t (their first delivery or holdout of the scope):

* `active_7`, `active_14`, `active_30`: any activity in (t, t + N days];
* `lessons_14`: lessons completed in (t, t + 14 days] (a mean);
* `at_risk_next`: at high or critical risk at the first scoring after t (lower is better).

Each outcome counts only learners whose window has passed (both arms alike), so that a young
campaign does not read as "nobody came back". Each is one SQL aggregation per arm; the
comparison is the fixed-horizon test of campaigns.statistics (relative uplift of contacted over
held out, its 95 % interval and p-value). Below `MIN_PER_ARM` learners in either arm an
outcome says there is not yet enough data.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.models import User
from campaigns.models import Campaign
from campaigns.statistics import MeanStatistic, ProportionStatistic, ttest
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import EngagementScore, Event
from interventions.models import Delivery, Holdout, MessageTemplate, Rule

MIN_PER_ARM = 30
WINDOWS = {"active_7": 7, "active_14": 14, "active_30": 30}
LESSON_DAYS = 14
AT_RISK_LEVELS = (EngagementScore.Level.HIGH, EngagementScore.Level.CRITICAL)
OUTCOME_LABELS = {
    "active_7": "Active in the next 7 days",
    "active_14": "Active in the next 14 days",
    "active_30": "Active in the next 30 days",
    "lessons_14": "Lessons completed in 14 days",
    "at_risk_next": "At high risk at the next scoring",
}


def _after(days: float) -> ExpressionWrapper:
    return ExpressionWrapper(
        OuterRef("t") + Value(datetime.timedelta(days=days), DurationField()),
        output_field=DateTimeField(),
    )


def _outcomes(arm: QuerySet, now: datetime.datetime) -> dict[str, dict[str, float]]:
    """`arm`: learners annotated with `t`. The sums each outcome needs, in one query."""
    activity = Event.objects.filter(user_id=OuterRef("pk")).exclude(type__in=NON_ACTIVITY_TYPES)
    annotated: dict[str, Any] = {
        name: Cast(
            Exists(activity.filter(occurred_at__gt=OuterRef("t"), occurred_at__lte=_after(days))),
            IntegerField(),
        )
        for name, days in WINDOWS.items()
    }
    lessons = (
        Event.objects.filter(
            user_id=OuterRef("pk"),
            type="lesson_completed",
            occurred_at__gt=OuterRef("t"),
            occurred_at__lte=_after(LESSON_DAYS),
        )
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    annotated["lessons_14"] = Coalesce(Subquery(lessons, output_field=IntegerField()), 0)
    next_score = (
        EngagementScore.objects.filter(user_id=OuterRef("pk"), scored_at__gt=OuterRef("t"))
        .order_by("scored_at", "-drop_off_risk")
        .values("level")[:1]
    )
    annotated["next_level"] = Subquery(next_score)
    rows = arm.annotate(**annotated)
    sums: dict[str, Any] = {}
    for name, days in {**WINDOWS, "lessons_14": LESSON_DAYS}.items():
        ready = {"t__lte": now - datetime.timedelta(days=days)}
        sums[f"{name}_n"] = Count(Case(When(then=1, **ready)))
        sums[f"{name}_sum"] = Coalesce(Sum(Case(When(then=F(name), **ready))), 0)
        if name == "lessons_14":
            sums[f"{name}_sq"] = Coalesce(
                Sum(
                    Case(
                        When(
                            then=ExpressionWrapper(F(name) * F(name), output_field=FloatField()),
                            **ready,
                        )
                    )
                ),
                0.0,
            )
    sums["at_risk_next_n"] = Count(Case(When(next_level__isnull=False, then=1)))
    sums["at_risk_next_sum"] = Count(Case(When(next_level__in=AT_RISK_LEVELS, then=1)))
    totals = rows.aggregate(learners=Count("pk"), **sums)
    return totals


def _compare(held: dict, contacted: dict, name: str) -> dict[str, Any]:
    n_held, n_contacted = held[f"{name}_n"], contacted[f"{name}_n"]
    out: dict[str, Any] = {
        "name": name,
        "label": OUTCOME_LABELS[name],
        "held_out": n_held,
        "contacted": n_contacted,
        "lower_is_better": name == "at_risk_next",
        "enough": n_held >= MIN_PER_ARM and n_contacted >= MIN_PER_ARM,
    }
    if name == "lessons_14":
        a = MeanStatistic(n=n_held, sum=held[f"{name}_sum"], sum_squares=held[f"{name}_sq"])
        b = MeanStatistic(
            n=n_contacted, sum=contacted[f"{name}_sum"], sum_squares=contacted[f"{name}_sq"]
        )
    else:
        a = ProportionStatistic(n=n_held, conversions=held[f"{name}_sum"])
        b = ProportionStatistic(n=n_contacted, conversions=contacted[f"{name}_sum"])
    out["held_out_value"] = held[f"{name}_sum"] / n_held if n_held else None
    out["contacted_value"] = contacted[f"{name}_sum"] / n_contacted if n_contacted else None
    if n_held >= 2 and n_contacted >= 2:
        result = ttest(a, b)
        if result.valid:
            out.update(
                uplift=float(result.uplift),
                ci=[float(result.ci_low), float(result.ci_high)],
                p_value=float(result.p_value),
            )
    out.setdefault("uplift", None)
    out.setdefault("ci", [None, None])
    out.setdefault("p_value", None)
    return out


@dataclass
class Effect:
    """One rule's, campaign's or template's measured effect of contacting."""

    kind: str  # "rule" | "campaign" | "template"
    key: str
    name: str
    contacted: int
    held_out: int
    outcomes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headline(self) -> dict[str, Any] | None:
        """The outcome the ranking uses: activity in the next 14 days."""
        return next((o for o in self.outcomes if o["name"] == "active_14"), None)

    @property
    def enough(self) -> bool:
        return bool(self.headline and self.headline["enough"])


def _arm(rows: QuerySet) -> QuerySet[User]:
    """The learners of `rows` (deliveries or holdouts), each with `t`, the first of theirs."""
    first = rows.filter(user_id=OuterRef("pk")).order_by("created_at").values("created_at")[:1]
    return User.objects.filter(pk__in=rows.values("user_id")).annotate(
        t=Subquery(first, output_field=DateTimeField())
    )


def _effect(
    kind: str, key: str, name: str, contacted: QuerySet, held: QuerySet, now: datetime.datetime
) -> Effect:
    held = held.exclude(user_id__in=contacted.values("user_id"))
    c, h = _outcomes(_arm(contacted), now), _outcomes(_arm(held), now)
    effect = Effect(kind=kind, key=key, name=name, contacted=c["learners"], held_out=h["learners"])
    effect.outcomes = [_compare(h, c, name) for name in (*WINDOWS, "lessons_14", "at_risk_next")]
    return effect


def effect_of_scope(
    *, kind: str, key: str, name: str, scope: str, now: datetime.datetime | None = None
) -> Effect:
    """The effect of contacting under `scope` ("rule:3", "campaign:12")."""
    return _effect(
        kind,
        key,
        name,
        Delivery.objects.filter(source__startswith=f"{scope}:"),
        Holdout.objects.filter(scope=scope),
        now or timezone.now(),
    )


def effect_of_template(
    *, template: MessageTemplate, now: datetime.datetime | None = None
) -> Effect:
    """The effect of a template's messages, whoever sent them, against the learners held out
    of a message of it."""
    return _effect(
        "template",
        template.slug,
        template.name,
        Delivery.objects.filter(template=template),
        Holdout.objects.filter(template=template),
        now or timezone.now(),
    )


def effectiveness_report(*, now: datetime.datetime | None = None) -> list[Effect]:
    """Every rule, campaign and template with a holdout, ranked by the measured uplift on
    activity in the next 14 days; those without enough data yet come last."""
    now = now or timezone.now()
    held_scopes = set(Holdout.objects.values_list("scope", flat=True).distinct())
    effects: list[Effect] = []
    for rule in Rule.objects.filter(pk__in=_ids(held_scopes, "rule")):
        effects.append(
            effect_of_scope(
                kind="rule", key=str(rule.pk), name=rule.name, scope=f"rule:{rule.pk}", now=now
            )
        )
    for campaign in Campaign.objects.filter(pk__in=_ids(held_scopes, "campaign")):
        effects.append(
            effect_of_scope(
                kind="campaign",
                key=str(campaign.pk),
                name=campaign.name,
                scope=campaign.holdout_scope,
                now=now,
            )
        )
    for template in MessageTemplate.objects.filter(
        pk__in=Holdout.objects.values("template_id").distinct()
    ):
        effects.append(effect_of_template(template=template, now=now))

    def rank(effect: Effect) -> tuple[int, float]:
        head = effect.headline
        uplift = head["uplift"] if head and head["uplift"] is not None else float("-inf")
        return (0 if effect.enough else 1, -uplift)

    return sorted(effects, key=rank)


def _ids(scopes: set[str], prefix: str) -> list[int]:
    out = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        if kind == prefix and rest.isdigit():
            out.append(int(rest))
    return out
