"""Creating, editing and moving campaigns through their states, with who did what when.

A campaign is described by a *spec*, the same plain dict the API takes and the builder page
posts (see `campaign_create`); every mistake in it is answered with its path ("schedule.at",
"audience.filter", "steps[1].template"). States:

    draft --activate--> scheduled (one-time) | active (recurring, drip)
    scheduled/active --pause--> paused --resume--> scheduled/active
    any but completed/cancelled --cancel--> cancelled
    one-time after its run, recurring after its last occurrence --> completed

Activation refuses an invalid audience, a missing, switched-off or empty template, a drip
without steps and a schedule with nothing left to run, naming why. Pausing keeps the drip
progress and the unfinished chunks of a run; resuming goes on from now (occurrences that fell
in the pause are not sent late).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime, parse_time

from accounts.models import User
from campaigns.filters import filter_validate
from campaigns.models import Campaign, CampaignLog, DripProgress, DripStep, Segment
from campaigns.schedules import Schedule, ScheduleError, rrule_parse, zone_get
from campaigns.selectors.campaigns import campaign_schedule
from core.errors import DomainValidationError, invalid_choice_message
from interventions.models import Channel, MessageTemplate
from interventions.services.rendering import template_errors
from learning.selectors import course_list

EXIT_CONDITIONS = ("completed", "converted", "unsubscribed", "left_audience")
MAX_STEPS = 20
MAX_RATE = 100_000
_FINAL = (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED)
_EDITABLE_RUNNING = (Campaign.Status.ACTIVE, Campaign.Status.SCHEDULED, Campaign.Status.PAUSED)


def log(campaign: Campaign, actor: User | None, action: str, detail: str = "") -> None:
    CampaignLog.objects.create(campaign=campaign, actor=actor, action=action, detail=detail[:300])


# --- reading a spec -------------------------------------------------------------------------


def _segment(value: Any) -> Segment:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise DomainValidationError({"audience.segment": "Give a segment's id or slug."})
    found = (
        Segment.objects.filter(pk=value).first()
        if isinstance(value, int) or str(value).isdigit()
        else Segment.objects.filter(slug=value).first()
    )
    if found is None:
        raise DomainValidationError({"audience.segment": f"No segment {value!r}."})
    return found


def audience_read(audience: Any) -> tuple[Segment | None, dict | None]:
    """(segment, custom filter) of an audience spec, `{"segment": <id or slug>}` or
    `{"filter": {...}}`, validated."""
    if (
        not isinstance(audience, Mapping)
        or len(audience) != 1
        or not ("segment" in audience or "filter" in audience)
    ):
        raise DomainValidationError(
            {"audience": 'Give {"segment": <id or slug>} or {"filter": {...}}.'}
        )
    if "segment" in audience:
        return _segment(audience["segment"]), None
    try:
        filter_validate(audience["filter"])
    except DomainValidationError as error:
        raise DomainValidationError(
            {f"audience.{key}": value for key, value in error.fields.items()}
        ) from error
    return None, audience["filter"] or {}  # null and {} both mean every learner


def _template(value: Any, field: str) -> MessageTemplate:
    if not isinstance(value, str) or not value:
        raise DomainValidationError({field: "Give a template's slug."})
    found = MessageTemplate.objects.filter(slug=value).first()
    if found is None:
        raise DomainValidationError({field: f"No template {value!r}."})
    return found


def _aware(value: Any, field: str, tz_name: str) -> datetime.datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise DomainValidationError(
            {field: "Give a date and time in ISO 8601, e.g. 2027-01-04T09:00."}
        )
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zone_get(tz_name))
    return parsed


def _schedule_read(schedule: Any, campaign: Campaign) -> list[dict[str, Any]]:
    """Set the schedule fields of `campaign` from the spec; return the drip steps given."""
    if not isinstance(schedule, Mapping):
        raise DomainValidationError({"schedule": 'Give an object with "type".'})
    kind = schedule.get("type")
    if kind not in Campaign.Kind.values:
        raise DomainValidationError(
            {"schedule.type": invalid_choice_message(kind, Campaign.Kind.values)}
        )
    if campaign.pk and kind != campaign.kind and campaign.status != Campaign.Status.DRAFT:
        raise DomainValidationError({"schedule.type": "Only a draft can change its kind."})
    campaign.kind = kind
    tz_name = schedule.get("timezone", campaign.timezone or "UTC")
    try:
        zone_get(tz_name if isinstance(tz_name, str) else "")
    except ScheduleError as error:
        raise DomainValidationError({"schedule.timezone": error.message}) from error
    campaign.timezone = tz_name
    campaign.rrule, campaign.send_time = "", None
    if kind == Campaign.Kind.ONE_TIME:
        campaign.starts_at = _aware(schedule.get("at"), "schedule.at", tz_name)
        return []
    if kind == Campaign.Kind.RECURRING:
        time = parse_time(schedule["time"]) if isinstance(schedule.get("time"), str) else None
        if time is None:
            raise DomainValidationError({"schedule.time": 'Give the time of day, e.g. "09:00".'})
        campaign.send_time = time
        start = schedule.get("start")
        campaign.starts_at = (
            _aware(start if "T" in str(start) else f"{start}T00:00", "schedule.start", tz_name)
            if start
            else campaign.starts_at or timezone.now()
        )
        rule = schedule.get("rrule")
        try:
            rrule_parse(rule if isinstance(rule, str) else "", start=datetime.datetime(2000, 1, 1))
        except ScheduleError as error:
            raise DomainValidationError({"schedule.rrule": error.message}) from error
        campaign.rrule = rule.strip().removeprefix("RRULE:")
        return []
    anchor = schedule.get("anchor", Campaign.Anchor.ENROLLMENT)
    if anchor not in Campaign.Anchor.values:
        raise DomainValidationError(
            {"schedule.anchor": invalid_choice_message(anchor, Campaign.Anchor.values)}
        )
    campaign.anchor = anchor
    course = schedule.get("course")
    campaign.anchor_course = None
    if course not in (None, ""):
        campaign.anchor_course = course_list().filter(external_id=str(course)).first()
        if campaign.anchor_course is None:
            raise DomainValidationError({"schedule.course": f"No course {course!r}."})
    exits = schedule.get("exit", campaign.exit_conditions or [])
    if not isinstance(exits, list) or any(e not in EXIT_CONDITIONS for e in exits):
        raise DomainValidationError(
            {"schedule.exit": "A list of: " + ", ".join(EXIT_CONDITIONS) + "."}
        )
    campaign.exit_conditions = sorted(set(exits))
    steps = schedule.get("steps")
    if not isinstance(steps, list) or not steps:
        raise DomainValidationError({"schedule.steps": "Give at least one step."})
    if len(steps) > MAX_STEPS:
        raise DomainValidationError({"schedule.steps": f"At most {MAX_STEPS} steps."})
    out = []
    for i, step in enumerate(steps):
        path = f"schedule.steps[{i}]"
        if not isinstance(step, Mapping):
            raise DomainValidationError({path: 'Give {"template": <slug>, "delay_days": n}.'})
        days, hours = step.get("delay_days", 0), step.get("delay_hours", 0)
        for name, value, top in (("delay_days", days, 3650), ("delay_hours", hours, 23)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise DomainValidationError({f"{path}.{name}": f"A whole number from 0 to {top}."})
        after = step.get("after_previous", False)
        if not isinstance(after, bool):
            raise DomainValidationError({f"{path}.after_previous": "true or false."})
        out.append(
            {
                "template": _template(step.get("template"), f"{path}.template"),
                "delay_days": days,
                "delay_hours": hours,
                "after_previous": after,
            }
        )
    return out


SPEC_FIELDS = frozenset(
    {
        "name", "description", "channel", "audience", "schedule", "template", "holdout_percent",
        "learner_local_time", "rate_per_minute",
    }
)  # fmt: skip


def _apply_spec(campaign: Campaign, spec: Mapping[str, Any], *, partial: bool) -> list | None:
    """Set `campaign`'s fields from `spec` (only those given when `partial`); return the drip
    steps given, or None."""
    if not isinstance(spec, Mapping):
        raise DomainValidationError("Give the campaign as an object.")
    required = ("name", "channel", "audience", "schedule")
    missing = [key for key in required if key not in spec and not partial]
    if missing:
        raise DomainValidationError({key: "This field is required." for key in missing})
    if "name" in spec:
        name = spec["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 120:
            raise DomainValidationError({"name": "Give a name of 1 to 120 characters."})
        campaign.name = name.strip()
    if "description" in spec:
        if not isinstance(spec["description"], str) or len(spec["description"]) > 300:
            raise DomainValidationError({"description": "Text of at most 300 characters."})
        campaign.description = spec["description"]
    if "channel" in spec:
        if spec["channel"] not in Channel.values:
            raise DomainValidationError(
                {"channel": invalid_choice_message(spec["channel"], Channel.values)}
            )
        campaign.channel = spec["channel"]
    if "audience" in spec:
        campaign.segment, campaign.filter = audience_read(spec["audience"])
    if "learner_local_time" in spec:
        if not isinstance(spec["learner_local_time"], bool):
            raise DomainValidationError({"learner_local_time": "true or false."})
        campaign.learner_local_time = spec["learner_local_time"]
    if "rate_per_minute" in spec:
        rate = spec["rate_per_minute"]
        if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= MAX_RATE:
            raise DomainValidationError(
                {"rate_per_minute": f"A whole number from 0 (no limit) to {MAX_RATE}."}
            )
        campaign.rate_per_minute = rate
    if "holdout_percent" in spec:
        share = spec["holdout_percent"]
        if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 50:
            raise DomainValidationError(
                {"holdout_percent": "A whole number from 0 (contact everyone) to 50."}
            )
        campaign.holdout_percent = share
    steps = _schedule_read(spec["schedule"], campaign) if "schedule" in spec else None
    if "template" in spec:
        campaign.template = (
            None if spec["template"] in (None, "") else _template(spec["template"], "template")
        )
    if campaign.kind != Campaign.Kind.DRIP and not partial and campaign.template is None:
        raise DomainValidationError({"template": "One-time and recurring campaigns need one."})
    return steps


def _steps_write(campaign: Campaign, steps: Sequence[Mapping[str, Any]]) -> None:
    """Make the drip's steps these, by position: a step keeps its row (and so its sends) when
    edited; steps beyond the new list go. Learners past a position never get it (again)."""
    existing = {step.position: step for step in campaign.steps.all()}
    for position, spec in enumerate(steps, start=1):
        step = existing.pop(position, None) or DripStep(campaign=campaign, position=position)
        for key, value in spec.items():
            setattr(step, key, value)
        step.save()
    DripStep.objects.filter(pk__in=[step.pk for step in existing.values()]).delete()
    if campaign.status in _EDITABLE_RUNNING:
        from campaigns.services.drips import drip_reschedule

        drip_reschedule(campaign)


@transaction.atomic
def campaign_create(*, spec: Mapping[str, Any], actor: User | None) -> Campaign:
    """A draft campaign from `spec`: name, channel, audience ({"segment": ...} or
    {"filter": ...}), schedule (one_time with "at"; recurring with "rrule", "time",
    "timezone" and optional "start"; drip with "anchor", "steps" and optional "course",
    "exit"), template (a slug; one-time and recurring), learner_local_time, rate_per_minute,
    holdout_percent (default 10: that share of the eligible learners is never contacted)."""
    campaign = Campaign(created_by=actor)
    steps = _apply_spec(campaign, spec, partial=False)
    campaign.save()
    if steps:
        _steps_write(campaign, steps)
    log(campaign, actor, "created")
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, spec: Mapping[str, Any], actor: User | None) -> Campaign:
    """Change the fields `spec` gives. A running drip may change its steps: only steps not
    yet sent take effect for each learner. A finished campaign cannot change."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status in _FINAL:
        raise DomainValidationError(
            {"status": f"A {campaign.get_status_display().lower()} campaign cannot change."},
            code="conflict",
        )
    steps = _apply_spec(campaign, spec, partial=True)
    if campaign.status != Campaign.Status.DRAFT:
        campaign_check(campaign, steps=steps)
        campaign.next_run_at = _next_run(campaign, timezone.now())
    campaign.save()
    if steps is not None:
        _steps_write(campaign, steps)
    log(campaign, actor, "edited", ", ".join(sorted(SPEC_FIELDS.intersection(spec))))
    return campaign


# --- checks and state changes ---------------------------------------------------------------


def schedule_of(campaign: Campaign) -> Schedule:
    """The campaign's one-time or recurring schedule as plain values."""
    return campaign_schedule(campaign)


def _next_run(campaign: Campaign, moment: datetime.datetime) -> datetime.datetime | None:
    """When the next run after `moment` starts (drips: now, to dispatch each minute)."""
    if campaign.kind == Campaign.Kind.DRIP:
        return moment
    found = schedule_of(campaign).next_after(moment - datetime.timedelta(seconds=1))
    return found[1] if found else None


def _template_problems(template: MessageTemplate | None, field: str) -> dict[str, str]:
    if template is None:
        return {field: "Choose a template."}
    if not template.is_active:
        return {field: f"The template {template.slug!r} is switched off."}
    if not template.body.strip():
        return {field: f"The template {template.slug!r} has an empty body."}
    errors = template_errors({"subject": template.subject, "body": template.body})
    if errors:
        return {
            field: f"The template {template.slug!r} does not render: " + "; ".join(errors.values())
        }
    return {}


def campaign_check(campaign: Campaign, *, steps: Sequence[Mapping] | None = None) -> None:
    """Raise, naming each reason, if `campaign` cannot run: audience, template(s), schedule."""
    problems: dict[str, str] = {}
    if campaign.segment_id is None and campaign.filter is None:
        problems["audience"] = "Choose a segment or write a filter."
    else:
        try:
            filter_validate(campaign.segment.filter if campaign.segment_id else campaign.filter)
        except DomainValidationError as error:
            problems["audience"] = error.messages_text()
    if campaign.kind == Campaign.Kind.DRIP:
        given = (
            steps
            if steps is not None
            else [{"template": step.template} for step in campaign.steps.select_related("template")]
        )
        if not given:
            problems["schedule.steps"] = "A drip needs at least one step."
        for i, step in enumerate(given):
            problems.update(_template_problems(step["template"], f"schedule.steps[{i}].template"))
    else:
        problems.update(_template_problems(campaign.template, "template"))
        now = timezone.now()
        try:
            schedule = schedule_of(campaign)
            if campaign.kind == Campaign.Kind.ONE_TIME:
                wall = next(schedule.walls())
                if schedule.last_instant(wall) <= now:
                    problems["schedule.at"] = (
                        f"{campaign.starts_at:%Y-%m-%d %H:%M} {campaign.timezone} is in the past."
                    )
            elif schedule.next_after(now) is None:
                problems["schedule.rrule"] = "The rule has no run left after now."
        except ScheduleError as error:
            problems[f"schedule.{error.field}"] = error.message
    if problems:
        raise DomainValidationError(problems)


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _refuse(campaign: Campaign, verb: str) -> None:
    raise DomainValidationError(
        {"status": f"A {campaign.get_status_display().lower()} campaign cannot be {verb}."},
        code="conflict",
    )


@transaction.atomic
def campaign_activate(*, campaign: Campaign, actor: User | None) -> Campaign:
    """Start a draft: check it, then schedule its first run (a drip starts at the next
    dispatch)."""
    campaign = _locked(campaign)
    if campaign.status != Campaign.Status.DRAFT:
        _refuse(campaign, "activated")
    campaign_check(campaign)
    now = timezone.now()
    campaign.status = (
        Campaign.Status.SCHEDULED
        if campaign.kind == Campaign.Kind.ONE_TIME
        else Campaign.Status.ACTIVE
    )
    campaign.next_run_at = _next_run(campaign, now)
    campaign.save(update_fields=["status", "next_run_at", "updated_at"])
    log(campaign, actor, "activated", _next_text(campaign))
    return campaign


def _next_text(campaign: Campaign) -> str:
    return f"next run {campaign.next_run_at:%Y-%m-%d %H:%M} UTC" if campaign.next_run_at else ""


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor: User | None) -> Campaign:
    """Stop sending until resumed: no new runs or drip steps; a run's unsent chunks wait."""
    campaign = _locked(campaign)
    if campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.ACTIVE):
        _refuse(campaign, "paused")
    campaign.status = Campaign.Status.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    log(campaign, actor, "paused")
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor: User | None) -> Campaign:
    """Go on from now: the next occurrence after now (a one-time campaign whose time passed
    in the pause sends at once), the drip's due steps."""
    campaign = _locked(campaign)
    if campaign.status != Campaign.Status.PAUSED:
        _refuse(campaign, "resumed")
    now = timezone.now()
    if campaign.kind == Campaign.Kind.ONE_TIME:
        campaign.status = Campaign.Status.SCHEDULED
        if not campaign.runs.exists():
            campaign.next_run_at = max(campaign.next_run_at or now, now)
    else:
        campaign.status = Campaign.Status.ACTIVE
        campaign.next_run_at = _next_run(campaign, now)
    campaign.save(update_fields=["status", "next_run_at", "updated_at"])
    log(campaign, actor, "resumed", _next_text(campaign))
    from campaigns.services.dispatch import runs_resume

    runs_resume(campaign.pk)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor: User | None) -> Campaign:
    """End it for good: no more runs or steps (messages already queued still go)."""
    campaign = _locked(campaign)
    if campaign.status in _FINAL:
        _refuse(campaign, "cancelled")
    campaign.status = Campaign.Status.CANCELLED
    campaign.next_run_at = None
    campaign.save(update_fields=["status", "next_run_at", "updated_at"])
    DripProgress.objects.filter(campaign=campaign, exited_at__isnull=True).update(
        exited_at=timezone.now(), exit_reason=DripProgress.Exit.CANCELLED, next_due_at=None
    )
    log(campaign, actor, "cancelled")
    return campaign


@transaction.atomic
def campaign_duplicate(*, campaign: Campaign, actor: User | None) -> Campaign:
    """A draft copy (audience, schedule, template, steps), named "… (copy)"."""
    steps = list(campaign.steps.all())
    copy = Campaign.objects.get(pk=campaign.pk)
    copy.pk = None
    copy.name = f"{campaign.name} (copy)"[:120]
    copy.status = Campaign.Status.DRAFT
    copy.next_run_at = None
    copy.created_by = actor
    copy.created_at = timezone.now()
    copy.save()
    DripStep.objects.bulk_create(
        DripStep(
            campaign=copy,
            position=step.position,
            template_id=step.template_id,
            delay_days=step.delay_days,
            delay_hours=step.delay_hours,
            after_previous=step.after_previous,
        )
        for step in steps
    )
    log(copy, actor, "created", f"duplicate of #{campaign.pk}")
    log(campaign, actor, "duplicated", f"as #{copy.pk}")
    return copy


def campaign_spec(campaign: Campaign) -> dict[str, Any]:
    """The spec that would create `campaign` (the builder's starting point, the API's view)."""
    audience: dict[str, Any] = (
        {"segment": campaign.segment.slug} if campaign.segment_id else {"filter": campaign.filter}
    )
    schedule: dict[str, Any] = {"type": campaign.kind, "timezone": campaign.timezone}
    tz = zone_get(campaign.timezone)
    if campaign.kind == Campaign.Kind.ONE_TIME and campaign.starts_at:
        schedule["at"] = campaign.starts_at.astimezone(tz).isoformat()
    elif campaign.kind == Campaign.Kind.RECURRING:
        schedule["rrule"] = campaign.rrule
        schedule["time"] = campaign.send_time.strftime("%H:%M") if campaign.send_time else None
        if campaign.starts_at:
            schedule["start"] = campaign.starts_at.astimezone(tz).date().isoformat()
    elif campaign.kind == Campaign.Kind.DRIP:
        schedule["anchor"] = campaign.anchor
        if campaign.anchor_course_id:
            schedule["course"] = campaign.anchor_course.external_id
        schedule["exit"] = list(campaign.exit_conditions)
        schedule["steps"] = [
            {
                "template": step.template.slug,
                "delay_days": step.delay_days,
                "delay_hours": step.delay_hours,
                "after_previous": step.after_previous,
            }
            for step in campaign.steps.select_related("template")
        ]
    return {
        "name": campaign.name,
        "description": campaign.description,
        "channel": campaign.channel,
        "audience": audience,
        "schedule": schedule,
        "template": campaign.template.slug if campaign.template_id else None,
        "learner_local_time": campaign.learner_local_time,
        "rate_per_minute": campaign.rate_per_minute,
        "holdout_percent": campaign.holdout_percent,
    }
