"""An experiment's results: each metric's sums per variant in ONE SQL query over the exposures
(learners exposed to two variants left out), then the statistics of campaigns.statistics
(fixed-horizon and sequential frequentist tests, Bayesian chance to win and risk, the sample
ratio check, CUPED from each learner's activity in the 14 days before exposure) and the
decision rule.

Per exposed learner, a metric's value `y` is 0/1 (binomial: did they do the event within the
window after exposure; retained: any activity 7-14 days after; opened / clicked / converted /
unsubscribed: of the template's messages since exposure) or a count (continuous: events within
the window). The covariate `x` is their number of activity events in the 14 days before.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
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
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from campaigns.models import Experiment, Exposure
from campaigns.statistics import (
    CupedStatistic,
    DecisionRule,
    TreatmentEvidence,
    bayesian_test,
    cuped_variance_reduction,
    decide,
    guardrail_hurt,
    sequential_ttest,
    srm_check,
    ttest,
)
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import Event
from interventions.models import ChannelOptOut, Delivery

COVARIATE_DAYS = 14
_DAY = datetime.timedelta(days=1)


def experiment_list() -> QuerySet[Experiment]:
    return Experiment.objects.select_related("template", "decided_by")


def _after(days: int | float) -> ExpressionWrapper:
    """The exposure's time moved by `days` (negative: before it)."""
    return ExpressionWrapper(
        OuterRef("exposed_at") + Value(datetime.timedelta(days=days), DurationField()),
        output_field=DateTimeField(),
    )


def _events(**window: Any) -> QuerySet[Event]:
    return Event.objects.filter(user_id=OuterRef("user_id"), **window)


def _activity(**window: Any) -> QuerySet[Event]:
    return _events(**window).exclude(type__in=NON_ACTIVITY_TYPES)


def _value(metric: dict[str, Any], experiment: Experiment) -> Any:
    """The metric's per-learner value as an expression over an exposure row."""
    measure = metric.get("measure")
    if measure == "retained":
        found = _activity(occurred_at__gte=_after(7), occurred_at__lt=_after(14))
        return Cast(Exists(found), IntegerField())
    if measure in ("opened", "clicked", "converted"):
        found = Delivery.objects.filter(
            user_id=OuterRef("user_id"),
            template_id=experiment.template_id,
            sent_at__gte=OuterRef("exposed_at"),
            **{f"{measure}_at__isnull": False},
        )
        return Cast(Exists(found), IntegerField())
    if measure == "unsubscribed":
        found = ChannelOptOut.objects.filter(
            user_id=OuterRef("user_id"), created_at__gte=OuterRef("exposed_at")
        )
        return Cast(Exists(found), IntegerField())
    window = {
        "type": metric["event"],
        "occurred_at__gte": OuterRef("exposed_at"),
        "occurred_at__lt": _after(metric["window_days"]),
    }
    if metric["kind"] == "binomial":
        return Cast(Exists(_events(**window)), IntegerField())
    counted = _events(**window).order_by().values("user_id").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _covariate() -> Any:
    before = (
        _activity(occurred_at__lt=OuterRef("exposed_at"), occurred_at__gte=_after(-COVARIATE_DAYS))
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(before, output_field=IntegerField()), 0)


def _clean_exposures(experiment: Experiment) -> QuerySet[Exposure]:
    """The exposures counted: each learner's, unless they saw more than one variant."""
    doubled = (
        Exposure.objects.filter(experiment=experiment)
        .values("user_id")
        .annotate(n=Count("variant", distinct=True))
        .filter(n__gt=1)
        .values("user_id")
    )
    return Exposure.objects.filter(experiment=experiment).exclude(user_id__in=doubled)


def metric_sums(experiment: Experiment, metric: dict[str, Any]) -> dict[str, CupedStatistic]:
    """Per variant: n, and the sums of y, y², x, x², xy over its exposed learners (one query)."""
    y, x = _value(metric, experiment), _covariate()
    rows = (
        _clean_exposures(experiment)
        .annotate(y=y, x=x)
        .annotate(
            yy=ExpressionWrapper(F("y") * F("y"), output_field=FloatField()),
            xx=ExpressionWrapper(F("x") * F("x"), output_field=FloatField()),
            xy=ExpressionWrapper(F("x") * F("y"), output_field=FloatField()),
        )
        .values("variant")
        .annotate(
            n=Count("pk"),
            sum_y=Sum("y"),
            sum_y2=Sum("yy"),
            sum_x=Sum("x"),
            sum_x2=Sum("xx"),
            sum_xy=Sum("xy"),
        )
        .order_by()
    )
    binary = metric["kind"] == "binomial"
    out = {}
    for row in rows:
        out[row["variant"]] = CupedStatistic(
            n=row["n"],
            sum_x=float(row["sum_x"] or 0),
            sum_x2=float(row["sum_x2"] or 0),
            sum_y=float(row["sum_y"] or 0),
            sum_y2=float(row["sum_y2"] or 0),
            sum_xy=float(row["sum_xy"] or 0),
            binary_y=binary,
        )
    return out


@dataclass
class MetricResult:
    name: str
    kind: str
    lower_is_better: bool
    variants: list[dict[str, Any]] = field(default_factory=list)
    variance_reduction: float | None = None


@dataclass
class ExperimentResults:
    experiment: Experiment
    users: dict[str, int]
    srm_p_value: float
    srm_flagged: bool
    multiple_exposures: int
    runtime_days: float
    primary: MetricResult
    secondary: list[MetricResult]
    guardrails: list[MetricResult]
    decision_status: str
    decision_winner: str | None
    decision_reasons: list[str]


def _float(value: Any) -> float | None:
    number = float(value)
    return None if number != number else round(number, 6)  # NaN -> None


def _metric_result(
    experiment: Experiment, metric: dict[str, Any], users: dict[str, int]
) -> tuple[MetricResult, list[tuple[str, Any, Any]]]:
    sums = metric_sums(experiment, metric)
    keys = experiment.variant_keys
    control_key = keys[0]
    empty = CupedStatistic(n=0, sum_x=0, sum_x2=0, sum_y=0, sum_y2=0, sum_xy=0)
    control = sums.get(control_key, empty)
    lower = bool(metric.get("lower_is_better"))
    result = MetricResult(name=metric["name"], kind=metric["kind"], lower_is_better=lower)
    evidence = []
    for key in keys:
        stat = sums.get(key, empty)
        row: dict[str, Any] = {"key": key, "users": users.get(key, 0)}
        if metric["kind"] == "binomial":
            row["conversions"] = int(stat.sum_y)
            row["rate"] = _float(stat.sum_y / stat.n) if stat.n else None
        else:
            row["mean"] = _float(stat.sum_y / stat.n) if stat.n else None
        if key != control_key and control.n >= 2 and stat.n >= 2:
            fixed = ttest(control, stat)
            sequential = sequential_ttest(control, stat)
            bayes = bayesian_test(control, stat, lower_is_better=lower)
            row.update(
                uplift=_float(fixed.uplift),
                ci=[_float(fixed.ci_low), _float(fixed.ci_high)],
                p_value=_float(fixed.p_value),
                sequential_ci=[_float(sequential.ci_low), _float(sequential.ci_high)],
                sequential_p_value=_float(sequential.p_value),
                chance_to_win=_float(bayes.chance_to_win),
                risk=_float(bayes.risk_treatment),
            )
            evidence.append((key, bayes, sequential))
        elif key != control_key:
            row.update(
                uplift=None,
                ci=[None, None],
                p_value=None,
                sequential_ci=[None, None],
                sequential_p_value=None,
                chance_to_win=None,
                risk=None,
            )
        result.variants.append(row)
    if len(keys) > 1 and control.n >= 2 and sums.get(keys[1], empty).n >= 2:
        result.variance_reduction = _float(cuped_variance_reduction(control, sums[keys[1]]))
    return result, evidence


def experiment_results(
    *, experiment: Experiment, now: datetime.datetime | None = None
) -> ExperimentResults:
    """Everything the results API and page show, and the decision rule's verdict."""
    now = now or timezone.now()
    users = dict(
        _clean_exposures(experiment).values_list("variant").annotate(n=Count("pk")).order_by()
    )
    keys = experiment.variant_keys
    counts = [users.get(key, 0) for key in keys]
    weights = [v["weight"] for v in experiment.variants]
    srm = srm_check(counts, weights) if sum(counts) else None
    doubled = (
        Exposure.objects.filter(experiment=experiment)
        .values("user_id")
        .annotate(n=Count("variant", distinct=True))
        .filter(n__gt=1)
        .count()
    )
    primary, evidence = _metric_result(experiment, experiment.primary_metric, users)
    guardrails, hurt_by = [], {}
    for metric in experiment.guardrail_metrics:
        result, guard_evidence = _metric_result(experiment, metric, users)
        guardrails.append(result)
        for key, _, sequential in guard_evidence:
            if guardrail_hurt(sequential, lower_is_better=bool(metric.get("lower_is_better"))):
                hurt_by.setdefault(key, []).append(metric["name"])
    secondary = [_metric_result(experiment, m, users)[0] for m in experiment.secondary_metrics]
    started = experiment.started_at or now
    ended = experiment.stopped_at or now
    runtime = max(0.0, (ended - started) / _DAY)
    srm_p = float(srm.p_value) if srm else 1.0
    decision = decide(
        control=keys[0],
        users=users,
        treatments=[
            TreatmentEvidence(
                key=key,
                bayesian=bayes,
                sequential=sequential,
                guardrails_hurt=tuple(hurt_by.get(key, ())),
            )
            for key, bayes, sequential in evidence
        ],
        runtime_days=runtime,
        srm_p_value=srm_p,
        lower_is_better=bool(experiment.primary_metric.get("lower_is_better")),
        rule=DecisionRule(),
    )
    return ExperimentResults(
        experiment=experiment,
        users={key: users.get(key, 0) for key in keys},
        srm_p_value=round(srm_p, 6),
        srm_flagged=bool(srm.flagged) if srm else False,
        multiple_exposures=doubled,
        runtime_days=round(runtime, 2),
        primary=primary,
        secondary=secondary,
        guardrails=guardrails,
        decision_status=str(decision.status),
        decision_winner=decision.winner,
        decision_reasons=list(decision.reasons),
    )


def exposure_counts(*, experiment: Experiment) -> dict[str, int]:
    return dict(
        Exposure.objects.filter(experiment=experiment)
        .values_list("variant")
        .annotate(n=Count("pk"))
        .order_by()
    )
