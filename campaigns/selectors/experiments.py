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

from django.db import connection
from django.db.models import (
    Count,
    QuerySet,
)
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
from interventions.models import ChannelOptOut, Delivery, MessageTemplate

COVARIATE_DAYS = 14
_DAY = datetime.timedelta(days=1)


def experiment_list() -> QuerySet[Experiment]:
    return Experiment.objects.select_related("template", "campaign", "rule", "decided_by")


# --- the per-variant sums, in one pass over the exposures and their learners' events ---------
#
# One query for every metric: per exposed learner (a learner exposed to two variants left out),
# one index probe into their events from COVARIATE_DAYS before exposure to the longest metric
# window after it, aggregated into the covariate and each metric's value; then summed per
# variant (and per exposure day, for the results over time). The correlated subqueries it
# replaced ran a probe per learner and metric, twice over for the covariate.
# bench/experiments_results.py: 1M exposures / 10M events in about 4.5 s (8.4 s before).


def _time(column: str, days: int = 0) -> str:
    """SQL for the datetime `column` moved by `days` (a whole number from a checked metric,
    never from a request). SQLite keeps datetimes as text: both sides of a comparison are
    rewritten to one format there."""
    if connection.vendor == "postgresql":
        return f"({column} + INTERVAL '{int(days)} days')" if days else column
    # (%% is a literal % in a query with parameters)
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {column}, '{int(days):+d} days')"


def _between(lo: int, hi: int) -> str:
    """The joined event happened from `lo` to `hi` days after the exposure."""
    occurred = _time("ev.occurred_at")
    return f"{occurred} >= {_time('x.exposed_at', lo)} AND {occurred} < {_time('x.exposed_at', hi)}"


def _learner_value(metric: dict[str, Any], experiment: Experiment, params: list[Any]) -> str:
    """SQL for the metric's value of one exposed learner `x`, over their joined events `ev`
    (appending its parameters to `params`)."""
    activity = f"ev.type NOT IN ({', '.join(['%s'] * len(NON_ACTIVITY_TYPES))})"
    measure = metric.get("measure")
    if measure == "retained":
        params.extend(sorted(NON_ACTIVITY_TYPES))
        return f"MAX(CASE WHEN {activity} AND {_between(7, 14)} THEN 1 ELSE 0 END)"
    if measure in ("opened", "clicked", "converted"):
        if experiment.kind in (Experiment.Kind.CAMPAIGN, Experiment.Kind.RULE):  # arms' sends
            templates = list(
                MessageTemplate.objects.filter(
                    slug__in=[v["template"] for v in experiment.variants]
                ).values_list("pk", flat=True)
            ) or [0]
            params.extend([*templates, f"{experiment.arm_source_prefix}%"])
            which = f"d.template_id IN ({', '.join(['%s'] * len(templates))}) AND d.source LIKE %s"
        else:
            params.append(experiment.template_id)
            which = "d.template_id = %s"
        return (
            f"CASE WHEN EXISTS (SELECT 1 FROM {Delivery._meta.db_table} d"
            f" WHERE d.user_id = x.user_id AND {which}"
            f" AND {_time('d.sent_at')} >= {_time('x.exposed_at')} AND d.{measure}_at IS NOT NULL)"
            " THEN 1 ELSE 0 END"
        )
    if measure == "unsubscribed":
        return (
            f"CASE WHEN EXISTS (SELECT 1 FROM {ChannelOptOut._meta.db_table} o"
            f" WHERE o.user_id = x.user_id AND {_time('o.created_at')} >= {_time('x.exposed_at')})"
            " THEN 1 ELSE 0 END"
        )
    params.append(metric["event"])
    happened = f"ev.type = %s AND {_between(0, metric['window_days'])}"
    if metric["kind"] == "binomial":
        return f"MAX(CASE WHEN {happened} THEN 1 ELSE 0 END)"
    return f"SUM(CASE WHEN {happened} THEN 1 ELSE 0 END)"


def _reach_days(metrics: list[dict[str, Any]]) -> int:
    """How many days after exposure the metrics look (retained: up to day 14)."""
    return max(
        [m["window_days"] for m in metrics if "window_days" in m]
        + [14 for m in metrics if m.get("measure") == "retained"]
        + [1]
    )


# The order of the sums metric_daily_sums answers.
SUM_FIELDS = ("n", "sum_x", "sum_x2", "sum_y", "sum_y2", "sum_xy")


def _sums_rows(
    experiment: Experiment, metrics: list[dict[str, Any]], *, by_day: bool
) -> list[tuple]:
    """Rows of (variant, day or None, n, sum_x, sum_x2, then sum_y, sum_y2, sum_xy per metric)."""
    params: list[Any] = [experiment.pk]  # in the order they appear
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        day = "CAST(x.exposed_at AT TIME ZONE 'UTC' AS date)" if by_day else "NULL"
    else:
        day = "date(x.exposed_at)" if by_day else "NULL"
    params.extend(sorted(NON_ACTIVITY_TYPES))
    covariate = (
        f"COALESCE(SUM(CASE WHEN ev.type NOT IN ({', '.join(['%s'] * len(NON_ACTIVITY_TYPES))})"
        f" AND {_between(-COVARIATE_DAYS, 0)} THEN 1 ELSE 0 END), 0)"
    )
    values = [f"COALESCE({_learner_value(m, experiment, params)}, 0)" for m in metrics]
    outcomes = ", ".join([f"{covariate} AS x0", *(f"{v} AS y{i}" for i, v in enumerate(values))])
    margin = 0 if postgresql else 1  # SQLite's join compares the raw text: a day to spare
    window = (
        f"ev.user_id = x.user_id"
        f" AND ev.occurred_at >= {_time('x.exposed_at', -COVARIATE_DAYS - margin)}"
        f" AND ev.occurred_at < {_time('x.exposed_at', _reach_days(metrics) + margin)}"
    )
    event = Event._meta.db_table
    if postgresql:
        # Per learner, one index probe into their events (event_user_time) and its aggregate.
        learner = f"""
            SELECT x.variant, {day} AS day, o.*
            FROM exposed x CROSS JOIN LATERAL (SELECT {outcomes} FROM {event} ev
                                               WHERE {window}) o"""
    else:  # SQLite has no LATERAL: the same aggregates over a grouped join
        learner = f"""
            SELECT x.variant, {day} AS day, {outcomes}
            FROM exposed x LEFT JOIN {event} ev ON {window}
            GROUP BY x.user_id"""
    sums = ", ".join(f"SUM(y{i}), SUM(y{i} * y{i}), SUM(x0 * y{i})" for i in range(len(values)))
    sql = f"""
        WITH exposed AS (
            SELECT user_id, MIN(variant) AS variant, MIN(exposed_at) AS exposed_at
            FROM {Exposure._meta.db_table} WHERE experiment_id = %s
            GROUP BY user_id HAVING MIN(variant) = MAX(variant)
        ), learner AS ({learner}
        )
        SELECT variant, day, COUNT(*), SUM(x0), SUM(x0 * x0), {sums}
        FROM learner GROUP BY variant, day
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def metric_sums(
    experiment: Experiment, metrics: list[dict[str, Any]]
) -> list[dict[str, CupedStatistic]]:
    """For each metric, per variant: n, and the sums of y, y², x, x², xy over its exposed
    learners (x: their activity events in the COVARIATE_DAYS before exposure). One query for
    all the metrics."""
    out: list[dict[str, CupedStatistic]] = [{} for _ in metrics]
    for row in _sums_rows(experiment, metrics, by_day=False):
        variant, _, n, sum_x, sum_x2 = row[:5]
        for i, metric in enumerate(metrics):
            sum_y, sum_y2, sum_xy = row[5 + 3 * i : 8 + 3 * i]
            out[i][variant] = CupedStatistic(
                n=n,
                sum_x=float(sum_x or 0),
                sum_x2=float(sum_x2 or 0),
                sum_y=float(sum_y or 0),
                sum_y2=float(sum_y2 or 0),
                sum_xy=float(sum_xy or 0),
                binary_y=metric["kind"] == "binomial",
            )
    return out


def metric_daily_sums(
    experiment: Experiment, metric: dict[str, Any]
) -> dict[tuple[str, datetime.date], tuple[float, ...]]:
    """The metric's sums (in SUM_FIELDS' order) per variant and exposure
    day (UTC): cumulated, they give the results as they stood at each day's end."""
    out = {}
    for variant, day, *numbers in _sums_rows(experiment, [metric], by_day=True):
        if isinstance(day, str):  # SQLite answers dates as text
            day = datetime.date.fromisoformat(day)
        out[(variant, day)] = tuple(float(number or 0) for number in numbers)
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
    experiment: Experiment,
    metric: dict[str, Any],
    users: dict[str, int],
    sums: dict[str, CupedStatistic],
) -> tuple[MetricResult, list[tuple[str, Any, Any]]]:
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
    metrics = [
        experiment.primary_metric,
        *experiment.guardrail_metrics,
        *experiment.secondary_metrics,
    ]
    all_sums = metric_sums(experiment, metrics)
    users = {key: stat.n for key, stat in all_sums[0].items()}
    keys = experiment.variant_keys
    counts = [users.get(key, 0) for key in keys]
    weights = [v["weight"] for v in experiment.variants]
    srm = srm_check(counts, weights) if sum(counts) else None
    doubled = (  # one exposure row per learner and variant (exposure_unique_variant)
        Exposure.objects.filter(experiment=experiment)
        .values("user_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    primary, evidence = _metric_result(experiment, metrics[0], users, all_sums[0])
    guardrails, hurt_by = [], {}
    for index, metric in enumerate(experiment.guardrail_metrics, start=1):
        result, guard_evidence = _metric_result(experiment, metric, users, all_sums[index])
        guardrails.append(result)
        for key, _, sequential in guard_evidence:
            if guardrail_hurt(sequential, lower_is_better=bool(metric.get("lower_is_better"))):
                hurt_by.setdefault(key, []).append(metric["name"])
    first_secondary = 1 + len(experiment.guardrail_metrics)
    secondary = [
        _metric_result(experiment, metric, users, all_sums[index])[0]
        for index, metric in enumerate(experiment.secondary_metrics, start=first_secondary)
    ]
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
