"""Server-rendered experiment pages under /dashboard/experiments/: the list, and a page per
experiment with its design, results per metric, the uplift and the sequential interval over
time as Plotly charts, sample progress with the power calculator (an htmx partial), the
decision panel with its start and stop buttons, and the log. Staff only.

Experiments are created through the API (`POST /api/v1/experiments/`); these pages read them
and start or stop them through campaigns' services. The results are the API's own
(`experiment_decide`, which first brings a template experiment's exposures up to date).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from campaigns.models import Experiment
from campaigns.selectors.experiments import (
    SUM_FIELDS,
    ExperimentResults,
    MetricResult,
    experiment_list,
    exposure_counts,
    metric_daily_sums,
)
from campaigns.services.experiments import experiment_decide, experiment_start, experiment_stop
from campaigns.statistics import (
    CupedStatistic,
    MeanBaseline,
    ProportionBaseline,
    SampleSize,
    sample_size,
    sequential_ttest,
)
from core.errors import DomainValidationError
from core.views import staff_required

PAGE_SIZE = 25
NONE = "\u2013"  # an en dash where a figure is missing, as the campaign pages show
LOG_SIZE = 30
DEFAULT_MDE = 0.10
DEFAULT_POWER = 0.80
ALPHA = 0.05
# The sequential chart draws at most this many looks: one a day, or one every few days for a
# long experiment, so the page's work stays bounded however long it has run.
MAX_LOOKS = 30
CREATE_EXAMPLE = """curl -X POST https://<stride>/api/v1/experiments/ \\
  -H "Authorization: Bearer <key with experiments:write>" \\
  -H "Content-Type: application/json" \\
  -d '{"key": "reminder-tone", "name": "Friendlier reminders",
       "hypothesis": "A friendlier tone brings more learners back within a week.",
       "variants": [{"key": "control", "weight": 50}, {"key": "friendly", "weight": 50}],
       "primary_metric": {"kind": "binomial", "event": "lesson_completed", "window_days": 7},
       "guardrail_metrics": [{"kind": "binomial", "measure": "unsubscribed",
                              "lower_is_better": true}]}'"""
DECISION_WORDS = {
    "srm": "Sample ratio mismatch: the split is not what the weights ask for",
    "too_early": "Too early to call",
    "winner": "A winner by the decision rule",
    "guardrail_hurt": "A guardrail is hurt",
    "inconclusive": "No winner yet",
}


# --- the list -------------------------------------------------------------------------------


@require_GET
@staff_required
def experiment_list_page(request: HttpRequest) -> HttpResponse:
    """Every experiment, newest first, with its status, variants, exposures and winner;
    filtered by status."""
    status = request.GET.get("status", "")
    experiments = (
        experiment_list().annotate(exposure_count=Count("exposures")).order_by("-created_at", "-id")
    )
    if status in Experiment.Status.values:
        experiments = experiments.filter(status=status)
    else:
        status = ""
    # Linked from a template's admin page and from a campaign's page.
    template, campaign = request.GET.get("template", ""), request.GET.get("campaign", "")
    if template:
        # Its variants' experiments, or those where it is a campaign's arm (experiments are
        # few: their variants are read here rather than queried per database's JSON support).
        arms = [
            pk
            for pk, variants in Experiment.objects.filter(
                kind=Experiment.Kind.CAMPAIGN
            ).values_list("pk", "variants")
            if any(v.get("template") == template for v in variants)
        ]
        experiments = experiments.filter(Q(template__slug=template) | Q(pk__in=arms))
    if campaign.isdigit():
        experiments = experiments.filter(campaign_id=int(campaign))
    else:
        campaign = ""
    page = Paginator(experiments, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "experiments/list.html",
        {
            "page": page,
            "experiments": page.object_list,
            "status": status,
            "statuses": Experiment.Status.choices,
            "template": template,
            "campaign": campaign,
            "create_example": CREATE_EXAMPLE,
        },
    )


# --- one experiment -------------------------------------------------------------------------


@require_GET
@staff_required
def experiment_detail(request: HttpRequest, key: str) -> HttpResponse:
    """An experiment: its design, results, charts, progress, decision panel and log."""
    experiment = get_object_or_404(experiment_list(), key=key)
    results = experiment_decide(experiment=experiment)
    experiment = results.experiment
    looks = sequential_over_time(experiment)
    progress = _progress(results, looks)
    total_weight = sum(v["weight"] for v in experiment.variants) or 1
    design = [
        {
            **variant,
            "share": round(100 * variant["weight"] / total_weight, 1),
            "control": i == 0,
            "users": results.users.get(variant["key"], 0),
        }
        for i, variant in enumerate(experiment.variants)
    ]
    primary = _table(results.primary)
    context: dict[str, Any] = {
        "experiment": experiment,
        "results": results,
        "design": design,
        "metrics": _metric_list(experiment),
        "primary": primary,
        "secondary": [_table(m) for m in results.secondary],
        "guardrails": [_table(m) for m in results.guardrails],
        "srm_p": _p(results.srm_p_value),
        "total_users": sum(results.users.values()),
        "exposures": sum(exposure_counts(experiment=experiment).values()),
        "decision_words": DECISION_WORDS.get(results.decision_status, results.decision_status),
        "uplift_chart": _uplift_chart(results.primary),
        "sequential_chart": looks.chart if looks else None,
        "progress": progress,
        "calculator": CalculatorForm(initial=progress["initial"]),
        "log": experiment.log.select_related("actor")[:LOG_SIZE],
    }
    return render(request, "experiments/detail.html", context)


@require_POST
@staff_required
def experiment_start_action(request: HttpRequest, key: str) -> HttpResponse:
    experiment = get_object_or_404(experiment_list(), key=key)
    try:
        experiment_start(experiment=experiment, actor=request.user)
    except DomainValidationError as error:
        messages.error(request, f"Not started: {error.messages_text()}")
    else:
        messages.success(request, f"Started “{experiment.name}”.")
    return redirect("experiments:detail", key=experiment.key)


@require_POST
@staff_required
def experiment_stop_action(request: HttpRequest, key: str) -> HttpResponse:
    """Stop it; with a winner (and the reason), the winner gets all traffic from now on."""
    experiment = get_object_or_404(experiment_list(), key=key)
    winner = request.POST.get("winner", "").strip()
    reason = request.POST.get("reason", "").strip()[:2000]
    if "winner" in request.POST and not winner:
        messages.error(request, "Not stopped: choose the winning variant.")
        return redirect("experiments:detail", key=experiment.key)
    try:
        experiment_stop(experiment=experiment, actor=request.user, winner=winner, reason=reason)
    except DomainValidationError as error:
        messages.error(request, f"Not stopped: {error.messages_text()}")
    else:
        chosen = f" with “{winner}” as the winner" if winner else ""
        messages.success(request, f"Stopped “{experiment.name}”{chosen}.")
    return redirect("experiments:detail", key=experiment.key)


# --- the calculator -------------------------------------------------------------------------


class CalculatorForm(forms.Form):
    baseline = forms.FloatField(
        label="Control rate (%)",
        min_value=0.01,
        max_value=99.99,
        help_text="The share of control learners who convert.",
    )
    mde = forms.FloatField(
        label="Smallest effect worth finding (%)",
        min_value=0.1,
        max_value=500,
        help_text="Relative: 10 means 20% becoming 22%.",
    )
    power = forms.FloatField(label="Power (%)", min_value=50, max_value=99.9)
    daily_users = forms.IntegerField(
        label="Learners a day", min_value=0, required=False, help_text="All variants together."
    )


@require_GET
@staff_required
def calculator(request: HttpRequest, key: str) -> HttpResponse:
    """Learners and days needed for the effect asked, fixed-horizon and sequential, at this
    experiment's variants and weights (a partial for htmx)."""
    experiment = get_object_or_404(experiment_list(), key=key)
    form = CalculatorForm(request.GET)
    context: dict[str, Any] = {"form": form, "experiment": experiment}
    if form.is_valid():
        data = form.cleaned_data
        try:
            context["answers"] = _sizes(
                experiment,
                ProportionBaseline(data["baseline"] / 100),
                mde=data["mde"] / 100,
                power=data["power"] / 100,
                daily_users=data["daily_users"],
            )
        except ValueError:
            context["error"] = "The treated rate would pass 100%: choose a smaller effect."
    status = 200 if form.is_valid() else 400
    return render(request, "experiments/_calculator.html", context, status=status)


def _sizes(
    experiment: Experiment,
    baseline: ProportionBaseline | MeanBaseline,
    *,
    mde: float,
    power: float,
    daily_users: float | None,
) -> list[dict[str, Any]]:
    """Both tests' answers, with each variant's learners named."""
    out = []
    for test, label in (("fixed", "Fixed horizon"), ("sequential", "Sequential (peek any time)")):
        size: SampleSize = sample_size(
            baseline=baseline,
            mde=mde,
            alpha=ALPHA,
            power=power,
            variants=len(experiment.variants),
            weights=[v["weight"] for v in experiment.variants],
            daily_users=daily_users or None,
            test=test,  # type: ignore[arg-type]
        )
        out.append(
            {
                "test": test,
                "label": label,
                "size": size,
                "per_variant": list(
                    zip(experiment.variant_keys, size.users_per_variant, strict=True)
                ),
            }
        )
    return out


# --- tables, charts and progress ------------------------------------------------------------


def _metric_list(experiment: Experiment) -> list[dict[str, Any]]:
    roles = [("Primary", [experiment.primary_metric])]
    roles += [("Secondary", experiment.secondary_metrics)]
    roles += [("Guardrail", experiment.guardrail_metrics)]
    return [
        {"role": role, "metric": metric, "words": _metric_words(metric)}
        for role, metrics in roles
        for metric in metrics
    ]


def _metric_words(metric: dict[str, Any]) -> str:
    measure = metric.get("measure")
    better = " (lower is better)" if metric.get("lower_is_better") else ""
    if measure == "retained":
        return f"Share active 7 to 14 days after exposure{better}"
    if measure == "unsubscribed":
        return f"Share who unsubscribed from a channel after exposure{better}"
    if measure:
        return f"Share of learners whose message was {measure}{better}"
    if metric["kind"] == "binomial":
        return f"Share who did “{metric['event']}” within {metric['window_days']} days{better}"
    return f"“{metric['event']}” events per learner within {metric['window_days']} days{better}"


def _pct(value: float | None, signed: bool = False, digits: int = 1) -> str:
    if value is None:
        return NONE
    return f"{value * 100:+.{digits}f}%" if signed else f"{value * 100:.{digits}f}%"


def _p(value: float | None) -> str:
    if value is None:
        return NONE
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _interval(ci: list[float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return NONE
    return f"{_pct(ci[0], True)} to {_pct(ci[1], True)}"


def _table(metric: MetricResult) -> dict[str, Any]:
    """A metric's rows as the page shows them: rates and uplifts in percent, p-values to three
    places, and whether each treatment's interval says better, worse or not yet."""
    rows = []
    for i, variant in enumerate(metric.variants):
        row = {
            "key": variant["key"],
            "control": i == 0,
            "users": variant["users"],
            "conversions": variant.get("conversions"),
            "value": _pct(variant.get("rate"))
            if metric.kind == "binomial"
            else (NONE if variant.get("mean") is None else f"{variant['mean']:.3g}"),
        }
        if i:
            ci = variant.get("ci") or [None, None]
            verdict = ""
            if ci[0] is not None and ci[1] is not None:
                better = ci[0] > 0 if not metric.lower_is_better else ci[1] < 0
                worse = ci[1] < 0 if not metric.lower_is_better else ci[0] > 0
                verdict = "better" if better else "worse" if worse else ""
            row.update(
                uplift=_pct(variant.get("uplift"), True),
                ci=_interval(ci),
                p_value=_p(variant.get("p_value")),
                sequential_ci=_interval(variant.get("sequential_ci")),
                chance_to_win=_pct(variant.get("chance_to_win")),
                risk=_pct(variant.get("risk"), digits=2),
                verdict=verdict,
            )
        rows.append(row)
    return {
        "name": metric.name,
        "kind": metric.kind,
        "lower_is_better": metric.lower_is_better,
        # Below half a percent the covariate did nothing worth saying.
        "variance_reduction": _pct(metric.variance_reduction, digits=0)
        if (metric.variance_reduction or 0) >= 0.005
        else "",
        "rows": rows,
    }


def _uplift_chart(metric: MetricResult) -> dict[str, Any] | None:
    """Each treatment's uplift with its fixed and sequential intervals (for Plotly)."""
    treatments = [
        {
            "key": v["key"],
            "uplift": v["uplift"],
            "ci": v["ci"],
            "sequential_ci": v["sequential_ci"],
        }
        for v in metric.variants[1:]
        if v.get("uplift") is not None and v["ci"][0] is not None
    ]
    if not treatments:
        return None
    return {"metric": metric.name, "lower_is_better": metric.lower_is_better, "rows": treatments}


@dataclass(frozen=True)
class Looks:
    """The primary metric's cumulative statistics at each look (a day's end), per variant."""

    days: list[datetime.date]
    by_variant: dict[str, CupedStatistic]
    chart: dict[str, Any] | None


def sequential_over_time(experiment: Experiment) -> Looks | None:
    """The primary metric's sequential interval at each day's end since the experiment
    started, from the learners exposed by then (their outcomes as known now): one query over
    the exposures grouped by variant and day, then the statistics over arrays, one element a
    look. At most MAX_LOOKS looks."""
    if not experiment.started_at:
        return None
    metric = experiment.primary_metric
    sums = metric_daily_sums(experiment)
    first = experiment.started_at.astimezone(datetime.UTC).date()
    last = (experiment.stopped_at or timezone.now()).astimezone(datetime.UTC).date()
    span = (last - first).days + 1
    step = max(1, math.ceil(span / MAX_LOOKS))
    days = [first + datetime.timedelta(days=d) for d in range(span - 1, -1, -step)][::-1]
    fields = SUM_FIELDS
    keys = experiment.variant_keys
    daily = {key: np.zeros((span, len(fields))) for key in keys}
    for (variant, day), numbers in sums.items():
        if variant not in daily:
            continue
        index = min(max((day - first).days, 0), span - 1)
        daily[variant][index] += numbers
    looks_at = np.array([(day - first).days for day in days])
    binary = metric["kind"] == "binomial"
    stats = {}
    for key in keys:
        cumulative = np.cumsum(daily[key], axis=0)[looks_at]
        stats[key] = CupedStatistic(
            **{f: cumulative[:, i] for i, f in enumerate(fields)}, binary_y=binary
        )
    control = stats[keys[0]]
    series = []
    for key in keys[1:]:
        enough = (control.n >= 2) & (stats[key].n >= 2)
        if not enough.any():
            continue
        result = sequential_ttest(control, stats[key], alpha=ALPHA)
        uplift, low, high = (np.atleast_1d(result.uplift), result.ci_low, result.ci_high)
        series.append(
            {
                "key": key,
                "uplift": _listed(uplift, enough),
                "low": _listed(np.atleast_1d(low), enough),
                "high": _listed(np.atleast_1d(high), enough),
                "users": [int(c + t) for c, t in zip(control.n, stats[key].n, strict=True)],
            }
        )
    chart = (
        {"days": [day.isoformat() for day in days], "metric": metric["name"], "series": series}
        if series
        else None
    )
    return Looks(days=days, by_variant=stats, chart=chart)


def _listed(values: np.ndarray, keep: np.ndarray) -> list[float | None]:
    return [
        round(float(v), 6) if k and np.isfinite(v) else None
        for v, k in zip(values, keep, strict=True)
    ]


def _progress(results: ExperimentResults, looks: Looks | None) -> dict[str, Any]:
    """Learners so far against the calculator's answer at the observed control rate (or mean
    and variance) for a 10% effect, at the traffic seen so far."""
    experiment = results.experiment
    control_row = results.primary.variants[0]
    so_far = sum(results.users.values())
    days = results.runtime_days
    daily = so_far / days if days >= 1 else None
    rate = control_row.get("rate")
    out: dict[str, Any] = {
        "users": so_far,
        "daily": round(daily) if daily else None,
        "initial": {
            "baseline": round(100 * rate, 2) if rate and 0 < rate < 1 else 20,
            "mde": round(100 * DEFAULT_MDE),
            "power": round(100 * DEFAULT_POWER),
            "daily_users": round(daily) if daily else None,
        },
        "mde": round(100 * DEFAULT_MDE),
    }
    baseline: ProportionBaseline | MeanBaseline | None = None
    if results.primary.kind == "binomial":
        if rate and 0 < rate < 1:
            baseline = ProportionBaseline(rate)
            out["baseline_words"] = f"the control's {_pct(rate)} rate"
    elif looks is not None:
        control = looks.by_variant[experiment.variant_keys[0]]
        mean, variance = float(control.mean[-1]), float(control.variance[-1])
        if mean and variance > 0:
            baseline = MeanBaseline(mean=mean, variance=variance)
            out["baseline_words"] = f"the control's mean of {mean:.3g}"
    if baseline is None:
        return out
    try:
        answers = _sizes(
            experiment, baseline, mde=DEFAULT_MDE, power=DEFAULT_POWER, daily_users=daily
        )
    except ValueError:
        return out
    for answer in answers:
        needed = answer["size"].total_users
        answer["percent"] = min(100, round(100 * so_far / needed)) if needed else 100
        remaining = max(0, needed - so_far)
        answer["days_left"] = math.ceil(remaining / daily) if daily and remaining else None
        answer["reached"] = so_far >= needed
    out["answers"] = answers
    return out
