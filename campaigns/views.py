"""Server-rendered campaign pages under /dashboard/campaigns/: the list, the builder with its
htmx partials (live audience count, next run times, template preview, a test to oneself) and
a page per campaign with its runs, drip progress, log and performance chart. Staff only.

Thin: the builder's form turns what staff typed into a spec for campaigns' services, and
shows the services' path errors beside the fields; everything else is a selector's answer.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.filters import FIELDS, filter_validate
from campaigns.forms import LIST_OPS, NUMERIC_TYPES, CampaignForm, initial_of, parameter_names
from campaigns.models import Campaign, CampaignRun, DripProgress
from campaigns.schedules import ScheduleError, describe, zone_get
from campaigns.selectors.audience import audience_count, audience_preview
from campaigns.selectors.campaigns import (
    campaign_list,
    campaign_upcoming,
    drip_counts,
    progress_list,
    run_list,
    segment_list,
)
from campaigns.selectors.performance import campaign_figures, campaign_timeline
from campaigns.services.campaigns import (
    campaign_activate,
    campaign_cancel,
    campaign_create,
    campaign_duplicate,
    campaign_pause,
    campaign_resume,
    campaign_spec,
    campaign_update,
)
from core.errors import DomainValidationError
from core.views import staff_required
from interventions.selectors.templates import template_get, template_list
from interventions.services.deliveries import Skip, deliveries_queue
from interventions.services.previews import message_preview
from learning.selectors import course_list

PAGE_SIZE = 25
RUNS_PAGE_SIZE = 20
PROGRESS_PAGE_SIZE = 10
LOG_SIZE = 30
PREVIEW_LEARNERS = 10
ACTIONS = {
    "activate": (campaign_activate, "Activated"),
    "pause": (campaign_pause, "Paused"),
    "resume": (campaign_resume, "Resumed"),
    "cancel": (campaign_cancel, "Cancelled"),
}
# Which buttons each state offers (the services refuse the rest, naming why).
STATE_ACTIONS = {
    Campaign.Status.DRAFT: ("activate", "cancel"),
    Campaign.Status.SCHEDULED: ("pause", "cancel"),
    Campaign.Status.ACTIVE: ("pause", "cancel"),
    Campaign.Status.PAUSED: ("resume", "cancel"),
}

# What a run counts besides interventions' skip reasons.
RUN_SKIP_LABELS = {
    "held_out": "held out (not contacted, to measure the effect)",
    "failed": "not sent: the template could not be used",
    "cancelled": "not sent: the campaign was cancelled",
}


# --- the list -------------------------------------------------------------------------------


@require_GET
@staff_required
def campaign_list_page(request: HttpRequest) -> HttpResponse:
    """Every campaign, newest first, with its status, next run, audience size (lazily) and
    what its messages did; filtered by status."""
    status = request.GET.get("status", "")
    campaigns = campaign_list()
    if status in Campaign.Status.values:
        campaigns = campaigns.filter(status=status)
    else:
        status = ""
    page = Paginator(campaigns, PAGE_SIZE).get_page(request.GET.get("page"))
    figures = campaign_figures(campaign_ids=[c.pk for c in page.object_list])
    rows = [{"campaign": c, "figures": figures[c.pk]} for c in page.object_list]
    return render(
        request,
        "campaigns/list.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": Campaign.Status.choices,
        },
    )


@require_GET
@staff_required
def audience_size(request: HttpRequest, pk: int) -> HttpResponse:
    """How many learners a campaign's audience holds now (the list's lazy cell)."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    try:
        count = audience_count(filter=_campaign_filter(campaign), now=timezone.now())
    except DomainValidationError:
        return HttpResponse('<span class="error">invalid filter</span>')
    return render(request, "campaigns/_audience_size.html", {"count": count})


def _campaign_filter(campaign: Campaign) -> Any:
    return campaign.segment.filter if campaign.segment_id else campaign.filter


# --- the builder ----------------------------------------------------------------------------


def _choices() -> dict[str, Any]:
    return {
        "segments": [(s.slug, s.name) for s in segment_list()],
        "templates": [(t.slug, t.name) for t in template_list() if t.is_active],
        "courses": [(c.external_id, c.title) for c in course_list()],
    }


def _builder(
    request: HttpRequest, campaign: Campaign | None
) -> tuple[CampaignForm, list[dict[str, str]]]:
    if request.method == "POST":
        form = CampaignForm(request.POST, **_choices())
        return form, form.conditions()
    if campaign is None:
        return CampaignForm(**_choices()), []
    initial, rows = initial_of(campaign_spec(campaign))
    return CampaignForm(initial=initial, **_choices()), rows


@require_http_methods(["GET", "POST"])
@staff_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    return _builder_page(request, None)


@require_http_methods(["GET", "POST"])
@staff_required
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _builder_page(request, get_object_or_404(campaign_list(), pk=pk))


def _builder_page(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    """Build or edit a campaign: the form becomes a spec for campaign_create/update; the
    services' errors come back beside their fields."""
    form, rows = _builder(request, campaign)
    if request.method == "POST" and form.is_valid():
        try:
            spec = form.spec(FIELDS)
            if campaign is None:
                saved = campaign_create(spec=spec, actor=request.user)
                messages.success(request, f"Saved “{saved.name}” as a draft.")
            else:
                saved = campaign_update(campaign=campaign, spec=spec, actor=request.user)
                messages.success(request, f"Saved “{saved.name}”.")
        except DomainValidationError as error:
            form.add_service_errors(error)
        else:
            return redirect("campaigns:detail", pk=saved.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "campaigns/builder.html",
        {
            "form": form,
            "campaign": campaign,
            "conditions": [_row_context(row) for row in rows],
        },
        status=status,
    )


def _row_context(row: dict[str, str]) -> dict[str, Any]:
    """A condition row with its field's ops, value input and parameter (FIELDS' spec)."""
    name = row.get("field") or next(iter(FIELDS))
    spec = FIELDS.get(name) or FIELDS[next(iter(FIELDS))]
    ops = list(spec.get("ops") or [])
    op = row.get("op") if row.get("op") in ops else (ops[0] if ops else "")
    params = parameter_names(spec)
    return {
        "field": name,
        "spec": spec,
        "fields": [(key, value.get("label", key)) for key, value in FIELDS.items()],
        "ops": ops,
        "op": op,
        "value": row.get("value", ""),
        "param": row.get("param", ""),
        "params": params,
        "param_key": row.get("param_key") if row.get("param_key") in params else "",
        "boolean": spec.get("type") == "boolean",
        "choices": _pairs(spec.get("choices")),
        "list_op": op in LIST_OPS,
        "numeric": str(spec.get("value") or spec.get("type")) in NUMERIC_TYPES,
        "uid": uuid.uuid4().hex[:8],
    }


def _pairs(choices: Any) -> list[tuple[str, str]]:
    if not choices:
        return []
    if isinstance(choices, dict):
        return [(str(k), str(v)) for k, v in choices.items()]
    return [
        (str(c[0]), str(c[1])) if isinstance(c, list | tuple) else (str(c), str(c)) for c in choices
    ]


@require_GET
@staff_required
def condition_row(request: HttpRequest) -> HttpResponse:
    """One condition row (a new one, or the same row for a newly chosen field: its ops and
    value input follow the field)."""
    get = request.GET
    row = {
        "field": get.get("cond_field", ""),
        "op": get.get("cond_op", ""),
        "value": get.get("cond_value", ""),
        "param": get.get("cond_param", ""),
        "param_key": get.get("cond_param_key", ""),
    }
    if row["field"] and row["field"] not in FIELDS:
        raise Http404("No such field.")
    return render(request, "campaigns/_condition_row.html", {"row": _row_context(row)})


@require_GET
@staff_required
def audience_preview_partial(request: HttpRequest) -> HttpResponse:
    """The live count and the first learners of the audience as the form now describes it;
    a mistake is answered with its path."""
    form = CampaignForm(request.GET)  # only read, never validated: no choices to look up
    context: dict[str, Any] = {"errors": []}
    try:
        audience = form.audience(FIELDS)
        if "segment" in audience and not audience["segment"]:
            context["hint"] = "Choose a segment to see how many learners it holds now."
            return render(request, "campaigns/_audience_preview.html", context)
        if "segment" in audience:
            segment = next((s for s in segment_list() if s.slug == audience["segment"]), None)
            if segment is None:
                raise DomainValidationError({"segment": "Choose a segment."})
            context["segment"] = segment
            filter_ = segment.filter
        else:
            filter_ = audience["filter"]
            filter_validate(filter_)
        now = timezone.now()
        context["count"] = audience_count(filter=filter_, now=now)
        context["learners"] = audience_preview(filter=filter_, now=now, limit=PREVIEW_LEARNERS)
    except DomainValidationError as error:
        context["errors"] = [
            (path if path != "non_field_errors" else "", " ".join(map(str, msgs)))
            if isinstance(msgs, list)
            else (path, str(msgs))
            for path, msgs in error.fields.items()
        ]
    return render(request, "campaigns/_audience_preview.html", context)


@require_GET
@staff_required
def schedule_preview(request: HttpRequest) -> HttpResponse:
    """The next five run times the schedule fields describe (a drip: its steps in words)."""
    form = CampaignForm(request.GET, **_choices())
    form.is_valid()
    data = form.cleaned_data
    context: dict[str, Any] = {"kind": data.get("schedule_type") or "one_time"}
    if context["kind"] == "drip":
        if form.steps.is_valid():
            context["steps"] = [s for s in (f.step() for f in form.steps.forms) if s]
        context["anchor"] = Campaign.Anchor(data.get("anchor") or "enrollment").label
        return render(request, "campaigns/_schedule_preview.html", context)
    bad = {k: v for k, v in form.errors.items() if k in _SCHEDULE_FIELDS}
    if bad:
        context["error"] = "; ".join(f"{form[k].label}: {' '.join(v)}" for k, v in bad.items())
        return render(request, "campaigns/_schedule_preview.html", context)
    if not data.get("at_date" if context["kind"] == "one_time" else "time"):
        # Nothing chosen yet: say what to do rather than what is wrong.
        context["hint"] = (
            "Choose the date and time to see when it sends."
            if context["kind"] == "one_time"
            else "Choose the days and the time to see the next five runs."
        )
        return render(request, "campaigns/_schedule_preview.html", context)
    try:
        schedule = form.preview_schedule()
        context["upcoming"] = schedule.upcoming(timezone.now(), 5)
        context["rule"] = schedule.rule
        context["words"] = describe(schedule.rule) if schedule.rule else ""
    except ScheduleError as error:
        context["error"] = f"schedule.{error.field}: {error.message}"
    context["learner_local"] = bool(data.get("learner_local_time"))
    context["timezone"] = data.get("timezone") or "UTC"
    return render(request, "campaigns/_schedule_preview.html", context)


_SCHEDULE_FIELDS = (
    "timezone",
    "at_date",
    "at_time",
    "frequency",
    "weekdays",
    "monthday",
    "time",
    "start",
    "until",
    "count",
    "rrule_text",
)


def _chosen_template(params: Any) -> str:
    """The template slug the builder shows and tests: the campaign's, or a drip's first
    chosen step's."""
    steps = [v for k, v in params.items() if k.startswith("steps-") and k.endswith("-template")]
    first_step = next((v for v in steps if v), "")
    if params.get("schedule_type") == "drip":
        return first_step
    return params.get("template") or first_step


@require_GET
@staff_required
def template_preview(request: HttpRequest) -> HttpResponse:
    """The chosen template rendered as the signed-in staff member would read it."""
    slug = _chosen_template(request.GET)
    template = template_get(slug=slug) if slug else None
    context: dict[str, Any] = {"template": template}
    if template is not None:
        context["preview"] = message_preview(template, request.user)[0]
    return render(request, "campaigns/_template_preview.html", context)


@require_POST
@staff_required
def send_test(request: HttpRequest) -> HttpResponse:
    """Queue the chosen template to the signed-in staff member, now, and say what happened."""
    slug = _chosen_template(request.POST)
    template = template_get(slug=slug) if slug else None
    context: dict[str, Any] = {"template": template}
    if template is None:
        context["error"] = "Choose a template first."
        return render(request, "campaigns/_send_test.html", context)
    channel = request.POST.get("channel") or template.channel
    try:
        result = deliveries_queue(
            template=template,
            user_ids=[request.user.pk],
            source=f"campaign-test:{request.user.pk}:{uuid.uuid4().hex}",
            channel=channel,
        )
    except DomainValidationError as error:
        context["error"] = error.messages_text()
        return render(request, "campaigns/_send_test.html", context)
    reason = result.skipped.get(request.user.pk)
    context.update(
        channel=channel,
        queued=request.user.pk in result.queued,
        deferred=request.user.pk in result.deferred,
        skipped=Skip.LABELS.get(reason, reason) if reason else "",
    )
    return render(request, "campaigns/_send_test.html", context)


# --- one campaign ---------------------------------------------------------------------------


@require_GET
@staff_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A campaign: what it sends to whom and when, its buttons, runs, drip progress, log and
    performance over time."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    figures = campaign_figures(campaign_ids=[campaign.pk])[campaign.pk]
    runs = Paginator(run_list(campaign=campaign), RUNS_PAGE_SIZE).get_page(request.GET.get("runs"))
    run_rows = [
        {
            "run": run,
            "skipped": [
                (RUN_SKIP_LABELS.get(reason) or Skip.LABELS.get(reason, reason), n)
                for reason, n in sorted(run.skipped.items())
            ],
            "sent": figures.by_source.get(run.source, {}).get("sent", 0),
        }
        for run in runs.object_list
    ]
    context: dict[str, Any] = {
        "campaign": campaign,
        "figures": figures,
        "upcoming": campaign_upcoming(campaign),
        "schedule_words": _schedule_words(campaign),
        "actions": STATE_ACTIONS.get(campaign.status, ()),
        "editable": campaign.status not in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED),
        "runs": runs,
        "run_rows": run_rows,
        "running": CampaignRun.Status.RUNNING,
        # A run in progress: the runs table refreshes itself (htmx) until it is done.
        "has_running": any(
            row["run"].status in (CampaignRun.Status.PENDING, CampaignRun.Status.RUNNING)
            for row in run_rows
        ),
        "timeline": campaign_timeline(campaign_id=campaign.pk),
        "filter_json": json.dumps(campaign.filter) if campaign.filter else "",
        "log": campaign.log.select_related("actor")[:LOG_SIZE],
        "experiments": campaign.experiments.order_by("-created_at")[:5],
    }
    if campaign.kind == Campaign.Kind.DRIP:
        counts = drip_counts(campaign=campaign)
        steps = list(campaign.steps.select_related("template"))
        context.update(
            steps=[
                {
                    "step": step,
                    "at_step": counts["at_step"].get(step.position, 0),
                    "sent": figures.by_source.get(step.source, {}).get("sent", 0),
                }
                for step in steps
            ],
            counts=counts,
            not_started=counts["at_step"].get(0, 0),
            exits=[
                (
                    DripProgress.Exit(reason).label
                    if reason in DripProgress.Exit.values
                    else reason,
                    n,
                )
                for reason, n in sorted(counts["exits"].items())
            ],
            progress=Paginator(progress_list(campaign=campaign), PROGRESS_PAGE_SIZE).get_page(
                request.GET.get("progress")
            ),
        )
    return render(request, "campaigns/detail.html", context)


def _exit_label(reason: str) -> str:
    return DripProgress.Exit(reason).label if reason in DripProgress.Exit.values else reason


def _schedule_words(campaign: Campaign) -> str:
    local = " in each learner's own timezone" if campaign.learner_local_time else ""
    if campaign.kind == Campaign.Kind.ONE_TIME:
        if not campaign.starts_at:
            return "Once, at a time not chosen yet"
        at = timezone.localtime(campaign.starts_at, _zone(campaign.timezone))
        where = local or f" ({campaign.timezone})"
        return f"Once, on {at:%a %-d %b %Y at %H:%M}{where}"
    if campaign.kind == Campaign.Kind.RECURRING:
        time = campaign.send_time.strftime("%H:%M") if campaign.send_time else "?"
        words = describe(campaign.rrule)
        words = words[:1].upper() + words[1:]
        since = (
            f", from {timezone.localtime(campaign.starts_at, _zone(campaign.timezone)):%-d %b %Y}"
            if campaign.starts_at
            else ""
        )
        return f"{words} at {time}{local or ' (' + campaign.timezone + ')'}{since}"
    anchor = campaign.get_anchor_display().lower() if campaign.anchor else "the anchor"
    course = f" in {campaign.anchor_course.title}" if campaign.anchor_course_id else ""
    return f"A drip: each learner's steps count from {anchor}{course}{local}"


def _zone(name: str) -> datetime.tzinfo:
    try:
        return zone_get(name)
    except ScheduleError:
        return datetime.UTC


@require_POST
@staff_required
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Activate, pause, resume, cancel or duplicate in one click; a refusal says why."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    if action == "duplicate":
        copy = campaign_duplicate(campaign=campaign, actor=request.user)
        messages.success(request, f"Duplicated as “{copy.name}”, a draft.")
        return redirect("campaigns:detail", pk=copy.pk)
    if action not in ACTIONS:
        raise Http404("No such action.")
    service, done = ACTIONS[action]
    try:
        service(campaign=campaign, actor=request.user)
    except DomainValidationError as error:
        messages.error(request, f"Not {done.lower()}: {error.messages_text()}")
    else:
        messages.success(request, f"{done} “{campaign.name}”.")
    return redirect("campaigns:detail", pk=campaign.pk)


@require_GET
@staff_required
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A segment: its filter, how many learners it holds now and the first of them."""
    segment = get_object_or_404(segment_list(), pk=pk)
    now = timezone.now()
    try:
        count = audience_count(filter=segment.filter, now=now)
        learners = audience_preview(filter=segment.filter, now=now, limit=20)
        errors: list[tuple[str, str]] = []
    except DomainValidationError as error:
        count, learners = 0, []
        errors = [(path, " ".join(map(str, texts))) for path, texts in error.fields.items()]
    return render(
        request,
        "campaigns/segment_detail.html",
        {
            "segment": segment,
            "filter_json": json.dumps(segment.filter, indent=2),
            "count": count,
            "learners": learners,
            "errors": errors,
        },
    )
