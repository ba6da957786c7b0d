"""An experiment's results: each metric's sums per variant in ONE SQL query over the exposed
learners (learners exposed to two variants left out; each learner read from the stored
outcomes, or live where they have news since), then the statistics of campaigns.statistics
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
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    QuerySet,
)
from django.utils import timezone

from campaigns.models import Experiment, ExperimentOutcomes, Exposure, ExposureOutcome
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


# --- the per-variant sums -------------------------------------------------------------------
#
# Per exposed learner (a learner exposed to two variants flagged, and left out), the covariate
# and each metric's value; then summed per variant (and per exposure day, for the results over
# time), all in one query. A learner's figures come from their row in ExposureOutcome, kept by
# campaigns.services.experiment_outcomes, unless they have events received or exposures
# recorded since that store's watermark (less an overlap for transactions that commit late):
# those few, and everyone when there is no store for the experiment's current metrics, are
# computed live, one index probe into their events each (event_user_time). Metrics of a
# template's messages (opened, clicked, converted, unsubscribed) change without an event, so
# they are always read live.
# bench/experiments_results.py: 1M exposures / 10M events.

OUTCOMES_OVERLAP = datetime.timedelta(minutes=10)
_OUTCOMES_VERSION = 1  # raise when what a stored row means changes: every store is rebuilt
DELIVERY_MEASURES = frozenset({"opened", "clicked", "converted", "unsubscribed"})


def outcome_signature(experiment: Experiment) -> str:
    """What the stored outcomes were computed for: a change of metrics makes them stale."""
    spec = {
        "version": _OUTCOMES_VERSION,
        "covariate": COVARIATE_DAYS,
        "metrics": experiment.metrics,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


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


def _is_delivery(metric: dict[str, Any]) -> bool:
    return metric.get("measure") in DELIVERY_MEASURES


def _event_value(metric: dict[str, Any], params: list[Any]) -> str:
    """SQL for an event metric's value of one exposed learner `x`, over their joined events
    `ev` (appending its parameters to `params`)."""
    if metric.get("measure") == "retained":
        params.extend(sorted(NON_ACTIVITY_TYPES))
        activity = f"ev.type NOT IN ({', '.join(['%s'] * len(NON_ACTIVITY_TYPES))})"
        return f"MAX(CASE WHEN {activity} AND {_between(7, 14)} THEN 1 ELSE 0 END)"
    params.append(metric["event"])
    happened = f"ev.type = %s AND {_between(0, metric['window_days'])}"
    if metric["kind"] == "binomial":
        return f"MAX(CASE WHEN {happened} THEN 1 ELSE 0 END)"
    return f"SUM(CASE WHEN {happened} THEN 1 ELSE 0 END)"


def _delivery_value(metric: dict[str, Any], experiment: Experiment, params: list[Any]) -> str:
    """SQL for a message metric's value (0/1) of one exposed learner `x`: of the template's
    (or the arms') messages sent since exposure; unsubscribed: any opt-out since."""
    measure = metric["measure"]
    if measure == "unsubscribed":
        return (
            f"CASE WHEN EXISTS (SELECT 1 FROM {ChannelOptOut._meta.db_table} o"
            f" WHERE o.user_id = x.user_id AND {_time('o.created_at')} >= {_time('x.exposed_at')})"
            " THEN 1 ELSE 0 END"
        )
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


def _reach_days(metrics: list[dict[str, Any]]) -> int:
    """How many days after exposure the metrics look (retained: up to day 14)."""
    return max(
        [m["window_days"] for m in metrics if "window_days" in m]
        + [14 for m in metrics if m.get("measure") == "retained"]
        + [1]
    )


def changed_cte(experiment: Experiment, since: datetime.datetime, params: list[Any]) -> str:
    """The CTE `changed`: the experiment's learners with an exposure recorded or an event
    received from `since` on (the event table's BRIN index on received_at)."""
    since_value = connection.ops.adapt_datetimefield_value(since)
    params.extend([experiment.pk, since_value, since_value, experiment.pk])
    return f"""changed AS (
            SELECT user_id FROM {Exposure._meta.db_table}
            WHERE experiment_id = %s AND recorded_at >= %s
            UNION
            SELECT ev.user_id FROM {Event._meta.db_table} ev WHERE ev.received_at >= %s
              AND EXISTS (SELECT 1 FROM {Exposure._meta.db_table} e
                          WHERE e.experiment_id = %s AND e.user_id = ev.user_id))"""


def live_outcomes_ctes(
    experiment: Experiment, metrics: list[dict[str, Any]], params: list[Any], *, changed: bool
) -> str:
    """The CTEs `exposed` (per learner: first variant, first exposure, exposed to two) and
    `live` (user_id, variant, exposed_at, multiple, x0, y0, y1, ...: the covariate and each
    event metric's value from their events; 0 for a message metric), over every exposed
    learner or, with `changed`, those of the CTE `changed` only."""
    params.append(experiment.pk)
    only = " AND user_id IN (SELECT user_id FROM changed)" if changed else ""
    exposed = f"""exposed AS (
            SELECT user_id, MIN(variant) AS variant, MIN(exposed_at) AS exposed_at,
                   MIN(variant) <> MAX(variant) AS multiple
            FROM {Exposure._meta.db_table} WHERE experiment_id = %s{only} GROUP BY user_id)"""
    postgresql = connection.vendor == "postgresql"
    params.extend(sorted(NON_ACTIVITY_TYPES))
    covariate = (
        f"COALESCE(SUM(CASE WHEN ev.type NOT IN ({', '.join(['%s'] * len(NON_ACTIVITY_TYPES))})"
        f" AND {_between(-COVARIATE_DAYS, 0)} THEN 1 ELSE 0 END), 0) AS x0"
    )
    values = [
        "0" if _is_delivery(m) else f"COALESCE({_event_value(m, params)}, 0)" for m in metrics
    ]
    outcomes = ", ".join([covariate, *(f"{v} AS y{i}" for i, v in enumerate(values))])
    margin = 0 if postgresql else 1  # SQLite's join compares the raw text: a day to spare
    window = (
        f"ev.user_id = x.user_id"
        f" AND ev.occurred_at >= {_time('x.exposed_at', -COVARIATE_DAYS - margin)}"
        f" AND ev.occurred_at < {_time('x.exposed_at', _reach_days(metrics) + margin)}"
    )
    columns = "x.user_id, x.variant, x.exposed_at, x.multiple"
    event = Event._meta.db_table
    if postgresql:  # per learner, one index probe into their events and its aggregate
        live = f"""live AS (
            SELECT {columns}, o.*
            FROM exposed x CROSS JOIN LATERAL (SELECT {outcomes} FROM {event} ev
                                               WHERE {window}) o)"""
    else:  # SQLite has no LATERAL: the same aggregates over a grouped join
        live = f"""live AS (
            SELECT {columns}, {outcomes}
            FROM exposed x LEFT JOIN {event} ev ON {window}
            GROUP BY x.user_id)"""
    return f"{exposed},\n        {live}"


def _stored_value(index: int) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(s.metric_values ->> {index} AS integer)"
    return f"json_extract(s.metric_values, '$[{index}]')"


def _usable_store(experiment: Experiment) -> ExperimentOutcomes | None:
    store = ExperimentOutcomes.objects.filter(experiment=experiment).first()
    if store is None or store.through is None or store.signature != outcome_signature(experiment):
        return None
    return store


# The order of the sums metric_daily_sums answers.
SUM_FIELDS = ("n", "sum_x", "sum_x2", "sum_y", "sum_y2", "sum_xy")


def _sums_rows(experiment: Experiment, *, first: int | None = None, by_day: bool) -> list[tuple]:
    """Rows of (variant, day or None, exposed to two variants, n, sum_x, sum_x2, then sum_y,
    sum_y2, sum_xy per metric) for the experiment's metrics or the `first` of them (the
    stored values are by position)."""
    metrics = experiment.metrics[:first]
    params: list[Any] = []  # in the order they appear
    store = _usable_store(experiment)
    ctes = []
    if store is not None:
        ctes.append(changed_cte(experiment, store.through - OUTCOMES_OVERLAP, params))
    ctes.append(live_outcomes_ctes(experiment, metrics, params, changed=store is not None))
    names = ", ".join(f"y{i}" for i in range(len(metrics)))
    learner = f"SELECT user_id, variant, exposed_at, multiple, x0, {names} FROM live"
    if store is not None:
        params.append(experiment.pk)
        stored = ", ".join(f"{_stored_value(i)} AS y{i}" for i in range(len(metrics)))
        learner += f"""
            UNION ALL
            SELECT s.user_id, s.variant, s.exposed_at, s.multiple, s.covariate AS x0, {stored}
            FROM {ExposureOutcome._meta.db_table} s
            WHERE s.experiment_id = %s
              AND NOT EXISTS (SELECT 1 FROM changed c WHERE c.user_id = s.user_id)"""
    ctes.append(f"learner AS ({learner})")
    finals = [
        f"{_delivery_value(m, experiment, params)} AS y{i}" if _is_delivery(m) else f"x.y{i}"
        for i, m in enumerate(metrics)
    ]
    ctes.append(
        f"final AS (SELECT x.variant, x.exposed_at, x.multiple, x.x0, {', '.join(finals)}"
        " FROM learner x)"
    )
    if connection.vendor == "postgresql":
        day = "CAST(exposed_at AT TIME ZONE 'UTC' AS date)" if by_day else "NULL"
    else:
        day = "date(exposed_at)" if by_day else "NULL"
    sums = ", ".join(f"SUM(y{i}), SUM(y{i} * y{i}), SUM(x0 * y{i})" for i in range(len(metrics)))
    with_ = ",\n        ".join(ctes)
    sql = f"""
        WITH {with_}
        SELECT variant, {day} AS day, multiple, COUNT(*), SUM(x0), SUM(x0 * x0), {sums}
        FROM final GROUP BY variant, {"2, " if by_day else ""}multiple
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass
class ExperimentSums:
    """Per metric (in the experiment's order), per variant: n and the sums of y, y², x, x², xy
    over its exposed learners (x: their activity events in the COVARIATE_DAYS before
    exposure); and how many learners were exposed to two variants (left out)."""

    metrics: list[dict[str, CupedStatistic]]
    multiple_exposures: int


def metric_sums(experiment: Experiment) -> ExperimentSums:
    """Every metric's sums per variant, in one query."""
    metrics = experiment.metrics
    out: list[dict[str, CupedStatistic]] = [{} for _ in metrics]
    multiple = 0
    for row in _sums_rows(experiment, by_day=False):
        variant, _, doubled, n, sum_x, sum_x2 = row[:6]
        if doubled:
            multiple += n
            continue
        for i, metric in enumerate(metrics):
            sum_y, sum_y2, sum_xy = row[6 + 3 * i : 9 + 3 * i]
            out[i][variant] = CupedStatistic(
                n=n,
                sum_x=float(sum_x or 0),
                sum_x2=float(sum_x2 or 0),
                sum_y=float(sum_y or 0),
                sum_y2=float(sum_y2 or 0),
                sum_xy=float(sum_xy or 0),
                binary_y=metric["kind"] == "binomial",
            )
    return ExperimentSums(metrics=out, multiple_exposures=multiple)


def metric_daily_sums(experiment: Experiment) -> dict[tuple[str, datetime.date], tuple[float, ...]]:
    """The primary metric's sums (in SUM_FIELDS' order) per variant and exposure day (UTC):
    cumulated, they give the results as they stood at each day's end."""
    out = {}
    for variant, day, doubled, *numbers in _sums_rows(experiment, first=1, by_day=True):
        if doubled:
            continue
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
    metrics = experiment.metrics
    sums = metric_sums(experiment)
    all_sums = sums.metrics
    users = {key: stat.n for key, stat in all_sums[0].items()}
    keys = experiment.variant_keys
    counts = [users.get(key, 0) for key in keys]
    weights = [v["weight"] for v in experiment.variants]
    srm = srm_check(counts, weights) if sum(counts) else None
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
        multiple_exposures=sums.multiple_exposures,
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
