"""Experiments: creating and editing them from a spec, starting and stopping, assignment with
its exposure log, exposures from a template experiment's deliveries, and decisions (a
person's, or the auto-winner rule's, always with an audit record).

A spec (what the API takes):

    {"key": "reminder-tone", "name": "...", "hypothesis": "...",
     "kind": "platform" | "template" | "campaign", "template": "<slug>" (template
     experiments), "campaign": <id> (campaign experiments), "rule": <id> (rule experiments),
     "variants": [{"key": "control", "weight": 50, "variant": "<name>"}, {"key": "b", ...}],
     (a template experiment's variants name the template's "variant"; a campaign or rule
     experiment's arms each name the "template" it sends)
     "primary_metric": <metric>, "secondary_metrics": [<metric>, ...],
     "guardrail_metrics": [<metric>, ...], "auto_winner": false}

A metric is `{"kind": "binomial", "event": "<event type>", "window_days": 7}` (did the
learner do it within N days of exposure), `{"kind": "binomial", "measure": "retained"}` (any
activity 7-14 days after exposure), `{"kind": "binomial", "measure": "opened" | "clicked" |
"converted" | "unsubscribed"}` (of the experiment's messages; template and campaign
experiments), or
`{"kind": "continuous", "event": "<event type>", "window_days": 14}` (how many within N days),
each with an optional `"name"` and `"lower_is_better": true` (a guardrail such as unsubscribes).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from campaigns.models import Campaign, Experiment, ExperimentLog, Exposure
from core.assignment import variant_assign
from core.bulk import rows_insert
from core.errors import DomainValidationError, invalid_choice_message
from engagement.catalogue import EVENT_TYPES
from interventions.models import Delivery, MessageTemplate, Rule, Variant

MEASURES = ("retained", "opened", "clicked", "converted", "unsubscribed")
TEMPLATE_MEASURES = ("opened", "clicked", "converted")
MAX_VARIANTS = 10
# The kinds whose exposures are messages sent (so opened / clicked / converted make sense).
MESSAGE_KINDS = (Experiment.Kind.TEMPLATE, Experiment.Kind.CAMPAIGN, Experiment.Kind.RULE)
# The kinds whose variants are arms, each sending a template of its own.
ARM_KINDS = (Experiment.Kind.CAMPAIGN, Experiment.Kind.RULE)
MAX_WINDOW_DAYS = 90
EXPOSURE_BATCH = 5000


def log(experiment: Experiment, actor: User | None, action: str, detail: str = "") -> None:
    ExperimentLog.objects.create(experiment=experiment, actor=actor, action=action, detail=detail)


# --- reading a spec -------------------------------------------------------------------------


def metric_read(value: Any, path: str, *, kind: str) -> dict[str, Any]:
    """A metric spec, checked; every mistake is named by its path."""
    if not isinstance(value, Mapping):
        raise DomainValidationError(
            {path: 'Give {"kind": "binomial", "event": "<type>", "window_days": 7}.'}
        )
    allowed = {"kind", "event", "measure", "window_days", "name", "lower_is_better"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise DomainValidationError({f"{path}.{unknown[0]}": "Not a metric setting."})
    metric_kind = value.get("kind")
    if metric_kind not in ("binomial", "continuous"):
        raise DomainValidationError(
            {f"{path}.kind": invalid_choice_message(metric_kind, ["binomial", "continuous"])}
        )
    out: dict[str, Any] = {"kind": metric_kind}
    if "measure" in value:
        measure = value["measure"]
        if metric_kind != "binomial" or measure not in MEASURES:
            raise DomainValidationError(
                {f"{path}.measure": invalid_choice_message(measure, MEASURES)}
            )
        if measure in TEMPLATE_MEASURES and kind not in MESSAGE_KINDS:
            raise DomainValidationError(
                {f"{path}.measure": f'"{measure}" needs a template or campaign experiment.'}
            )
        out["measure"] = measure
    else:
        event = value.get("event")
        if not isinstance(event, str) or (event not in EVENT_TYPES and not event.startswith("x-")):
            raise DomainValidationError(
                {f"{path}.event": invalid_choice_message(event, list(EVENT_TYPES))}
            )
        window = value.get("window_days", 7)
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 90:
            raise DomainValidationError(
                {f"{path}.window_days": f"A whole number from 1 to {MAX_WINDOW_DAYS}."}
            )
        out.update(event=event, window_days=window)
    if "lower_is_better" in value:
        if not isinstance(value["lower_is_better"], bool):
            raise DomainValidationError({f"{path}.lower_is_better": "true or false."})
        out["lower_is_better"] = value["lower_is_better"]
    name = value.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 60):
        raise DomainValidationError({f"{path}.name": "Text of 1 to 60 characters."})
    out["name"] = name or metric_name(out)
    return out


def metric_name(metric: Mapping[str, Any]) -> str:
    """A metric's readable name: "retained", "lesson_completed in 7 d", "opened"..."""
    if "measure" in metric:
        return metric["measure"]
    count = "count of " if metric["kind"] == "continuous" else ""
    return f"{count}{metric['event']} in {metric['window_days']} d"


def _variants_read(value: Any, kind: str, template: MessageTemplate | None) -> list[dict]:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_VARIANTS:
        raise DomainValidationError(
            {"variants": f"Give 2 to {MAX_VARIANTS} variants; the first is the control."}
        )
    names = set(template.variants.values_list("name", flat=True)) if template else set()
    out, seen = [], set()
    for i, item in enumerate(value):
        path = f"variants[{i}]"
        if not isinstance(item, Mapping):
            raise DomainValidationError({path: 'Give {"key": "<key>", "weight": <number>}.'})
        key = item.get("key")
        if not isinstance(key, str) or slugify(key) != key or not 0 < len(key) <= 40:
            raise DomainValidationError(
                {f"{path}.key": "Lower-case letters, digits and hyphens, at most 40."}
            )
        if key in seen:
            raise DomainValidationError({f"{path}.key": f"{key!r} is given twice."})
        seen.add(key)
        weight = item.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
            raise DomainValidationError({f"{path}.weight": "A number above 0."})
        variant: dict[str, Any] = {"key": key, "weight": weight}
        if kind == Experiment.Kind.TEMPLATE:
            name = item.get("variant")
            if name not in names:
                raise DomainValidationError(
                    {
                        f"{path}.variant": invalid_choice_message(name, sorted(names))
                        if names
                        else "The template has no variants yet: add them in the admin."
                    }
                )
            variant["variant"] = name
        if kind in ARM_KINDS:
            slug = item.get("template")
            found = (
                MessageTemplate.objects.filter(slug=slug, is_active=True).first()
                if isinstance(slug, str)
                else None
            )
            if found is None:
                raise DomainValidationError(
                    {f"{path}.template": f"No active template {slug!r}: each arm sends one."}
                )
            if slug in {v.get("template") for v in out}:
                raise DomainValidationError(
                    {f"{path}.template": "Each arm sends a template of its own."}
                )
            variant["template"] = slug
        out.append(variant)
    return out


SPEC_FIELDS = frozenset(
    {
        "key", "name", "hypothesis", "kind", "template", "campaign", "rule", "variants",
        "primary_metric",
        "secondary_metrics", "guardrail_metrics", "auto_winner",
    }
)  # fmt: skip


def _apply(experiment: Experiment, spec: Mapping[str, Any], *, partial: bool) -> None:
    if not isinstance(spec, Mapping):
        raise DomainValidationError("Give the experiment as an object.")
    required = ("key", "variants", "primary_metric")
    missing = [key for key in required if key not in spec and not partial]
    if missing:
        raise DomainValidationError({key: "This field is required." for key in missing})
    if experiment.status != Experiment.Status.DRAFT:
        frozen = sorted(
            set(spec)
            & {"key", "kind", "template", "campaign", "rule", "variants", "primary_metric"}
        )
        if frozen:
            raise DomainValidationError(
                {frozen[0]: "A started experiment keeps its design; stop it and make another."},
                code="conflict",
            )
    if "key" in spec:
        key = spec["key"]
        if not isinstance(key, str) or slugify(key) != key or not 0 < len(key) <= 80:
            raise DomainValidationError(
                {"key": "Lower-case letters, digits and hyphens, at most 80 characters."}
            )
        if Experiment.objects.filter(key=key).exclude(pk=experiment.pk).exists():
            raise DomainValidationError({"key": f"An experiment is already called {key!r}."})
        experiment.key = key
        experiment.name = experiment.name or key
    for field, limit in (("name", 120), ("hypothesis", 2000)):
        if field in spec:
            value = spec[field]
            if not isinstance(value, str) or len(value) > limit or "\x00" in value:
                raise DomainValidationError(
                    {field: f"Text of at most {limit} characters, without NUL characters."}
                )
            setattr(experiment, field, value.strip() or (experiment.key if field == "name" else ""))
    if "kind" in spec:
        if spec["kind"] not in Experiment.Kind.values:
            raise DomainValidationError(
                {"kind": invalid_choice_message(spec["kind"], Experiment.Kind.values)}
            )
        experiment.kind = spec["kind"]
    if "template" in spec or (experiment.kind == Experiment.Kind.TEMPLATE and not partial):
        slug = spec.get("template")
        found = MessageTemplate.objects.filter(slug=slug).first() if isinstance(slug, str) else None
        if experiment.kind == Experiment.Kind.TEMPLATE and found is None:
            raise DomainValidationError({"template": f"No template {slug!r}."})
        experiment.template = found if experiment.kind == Experiment.Kind.TEMPLATE else None
    if experiment.kind == Experiment.Kind.TEMPLATE and experiment.template is None:
        raise DomainValidationError({"template": "A template experiment names its template."})
    if "campaign" in spec or (experiment.kind == Experiment.Kind.CAMPAIGN and not partial):
        experiment.campaign = _campaign_read(spec.get("campaign"), experiment.kind)
    if experiment.kind != Experiment.Kind.CAMPAIGN:
        experiment.campaign = None
    elif experiment.campaign is None:
        raise DomainValidationError({"campaign": "A campaign experiment names its campaign."})
    if "rule" in spec or (experiment.kind == Experiment.Kind.RULE and not partial):
        experiment.rule = _rule_read(spec.get("rule"), experiment.kind)
    if experiment.kind != Experiment.Kind.RULE:
        experiment.rule = None
    elif experiment.rule is None:
        raise DomainValidationError({"rule": "A rule experiment names its rule."})
    if "variants" in spec:
        experiment.variants = _variants_read(spec["variants"], experiment.kind, experiment.template)
    elif experiment.variants and ("kind" in spec or "template" in spec):
        # The kind or template changed: the variants must still fit it.
        experiment.variants = _variants_read(
            experiment.variants, experiment.kind, experiment.template
        )
    if "primary_metric" in spec:
        experiment.primary_metric = metric_read(
            spec["primary_metric"], "primary_metric", kind=experiment.kind
        )
    for field in ("secondary_metrics", "guardrail_metrics"):
        if field in spec:
            value = spec[field] if spec[field] is not None else []
            if not isinstance(value, list) or len(value) > 10:
                raise DomainValidationError({field: "A list of at most 10 metrics."})
            setattr(
                experiment,
                field,
                [
                    metric_read(m, f"{field}[{i}]", kind=experiment.kind)
                    for i, m in enumerate(value)
                ],
            )
    if "auto_winner" in spec:
        if not isinstance(spec["auto_winner"], bool):
            raise DomainValidationError({"auto_winner": "true or false."})
        experiment.auto_winner = spec["auto_winner"]


def _by_id(model: type[Any], value: Any, field: str) -> Any:
    """The `model` row whose id `value` is (a whole number), or a 400 naming `field`."""
    found = (
        model.objects.filter(pk=value).first()
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63
        else None
    )
    if found is None:
        raise DomainValidationError({field: f"No {field} {value!r}: give its id."})
    return found


def _campaign_read(value: Any, kind: str) -> Campaign | None:
    if kind != Experiment.Kind.CAMPAIGN:
        return None
    found = _by_id(Campaign, value, "campaign")
    if found.status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED):
        raise DomainValidationError(
            {"campaign": f"The campaign is {found.get_status_display().lower()}: it sends no more."}
        )
    return found


def _rule_read(value: Any, kind: str) -> Rule | None:
    if kind != Experiment.Kind.RULE:
        return None
    found = _by_id(Rule, value, "rule")
    if found.creates_outreach_task:
        raise DomainValidationError(
            {"rule": "This rule creates outreach tasks, not messages: it has no arms to compare."}
        )
    return found


@transaction.atomic
def experiment_create(*, spec: Mapping[str, Any], actor: User | None) -> Experiment:
    """A draft experiment from `spec` (see the module docstring)."""
    experiment = Experiment(created_by=actor)
    _apply(experiment, spec, partial=False)
    experiment.save()
    log(experiment, actor, "created")
    return experiment


@transaction.atomic
def experiment_update(
    *, experiment: Experiment, spec: Mapping[str, Any], actor: User | None
) -> Experiment:
    """Change what `spec` gives; once started, only its name, hypothesis, secondary and
    guardrail metrics and the auto-winner switch."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    _apply(experiment, spec, partial=True)
    experiment.save()
    log(experiment, actor, "edited", ", ".join(sorted(SPEC_FIELDS.intersection(spec))))
    return experiment


@transaction.atomic
def experiment_start(*, experiment: Experiment, actor: User | None) -> Experiment:
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status != Experiment.Status.DRAFT:
        raise DomainValidationError(
            {"status": f"A {experiment.status} experiment cannot start."}, code="conflict"
        )
    if experiment.kind == Experiment.Kind.CAMPAIGN:
        other = (
            Experiment.objects.filter(
                campaign_id=experiment.campaign_id, status=Experiment.Status.RUNNING
            )
            .exclude(pk=experiment.pk)
            .first()
        )
        if other is not None:
            raise DomainValidationError(
                {"campaign": f"Experiment {other.key!r} is already running on this campaign."},
                code="conflict",
            )
    if experiment.kind == Experiment.Kind.RULE:
        rule = Rule.objects.select_for_update().get(pk=experiment.rule_id)
        if rule.arms_key:
            raise DomainValidationError(
                {"rule": f"Experiment {rule.arms_key!r} is already running on this rule."},
                code="conflict",
            )
        templates = dict(
            MessageTemplate.objects.filter(
                slug__in=[v["template"] for v in experiment.variants]
            ).values_list("slug", "pk")
        )
        rule.arms_key = experiment.key
        rule.arms = [
            {"key": v["key"], "weight": v["weight"], "template_id": templates[v["template"]]}
            for v in experiment.variants
        ]
        rule.save(update_fields=["arms_key", "arms"])
    experiment.status = Experiment.Status.RUNNING
    experiment.started_at = timezone.now()
    experiment.save(update_fields=["status", "started_at", "updated_at"])
    log(experiment, actor, "started")
    return experiment


@transaction.atomic
def experiment_stop(
    *, experiment: Experiment, actor: User | None, winner: str = "", reason: str = ""
) -> Experiment:
    """Stop it, optionally choosing a winner (which then gets all traffic) with the reason."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status != Experiment.Status.RUNNING:
        raise DomainValidationError(
            {"status": f"A {experiment.status} experiment cannot stop."}, code="conflict"
        )
    if "\x00" in reason:
        raise DomainValidationError({"reason": "No NUL characters."})
    if winner and winner not in experiment.variant_keys:
        raise DomainValidationError(
            {"winner": invalid_choice_message(winner, experiment.variant_keys)}
        )
    experiment.status = Experiment.Status.STOPPED
    experiment.stopped_at = timezone.now()
    experiment.save(update_fields=["status", "stopped_at", "updated_at"])
    if experiment.kind == Experiment.Kind.RULE:  # the rule sends its own template again
        Rule.objects.filter(pk=experiment.rule_id, arms_key=experiment.key).update(
            arms_key="", arms=[]
        )
    log(experiment, actor, "stopped", reason)
    if winner:
        _winner_set(experiment, winner, actor=actor, reason=reason or "Chosen by staff.")
    return experiment


def _winner_set(experiment: Experiment, winner: str, *, actor: User | None, reason: str) -> None:
    """Record the decision and give the winner all traffic: assignment answers it from now on;
    a template experiment's other variants get weight 0 (interventions never picks them)."""
    experiment.winner = winner
    experiment.decision = reason
    experiment.decided_by = actor
    experiment.decided_at = timezone.now()
    experiment.save(update_fields=["winner", "decision", "decided_by", "decided_at", "updated_at"])
    if experiment.kind == Experiment.Kind.TEMPLATE and experiment.template_id:
        chosen = next(v["variant"] for v in experiment.variants if v["key"] == winner)
        Variant.objects.filter(template_id=experiment.template_id).exclude(name=chosen).update(
            weight=0
        )
    if experiment.kind in ARM_KINDS:
        # The campaign (from its next run) or the rule sends the winning arm's template to
        # everyone; the arms are no longer split.
        slug = next(v["template"] for v in experiment.variants if v["key"] == winner)
        chosen = MessageTemplate.objects.filter(slug=slug).first()
        if chosen is not None and experiment.kind == Experiment.Kind.CAMPAIGN:
            Campaign.objects.filter(pk=experiment.campaign_id).update(
                template=chosen, updated_at=timezone.now()
            )
        if chosen is not None and experiment.kind == Experiment.Kind.RULE:
            Rule.objects.filter(pk=experiment.rule_id).update(template=chosen, arms_key="", arms=[])
    log(experiment, actor, "decided", f"{winner}: {reason}")


def campaign_arms(campaign: Campaign) -> tuple[Experiment, dict[str, MessageTemplate]] | None:
    """The experiment running on `campaign`'s arms, with each arm's template, or None."""
    experiment = Experiment.objects.filter(  # decided: the winner is the campaign's template
        kind=Experiment.Kind.CAMPAIGN,
        campaign=campaign,
        status=Experiment.Status.RUNNING,
        winner="",
    ).first()
    if experiment is None:
        return None
    by_slug = MessageTemplate.objects.in_bulk(
        [v["template"] for v in experiment.variants], field_name="slug"
    )
    return experiment, {v["key"]: by_slug[v["template"]] for v in experiment.variants}


def arm_of(experiment: Experiment, user_id: int) -> str:
    """The campaign arm of the learner: deterministic and sticky (weights are fixed once the
    experiment runs)."""
    return variant_assign(
        experiment.key, user_id, [(v["key"], v["weight"]) for v in experiment.variants]
    )


# --- assignment and exposures ---------------------------------------------------------------


def assignment_get(
    *, experiment: Experiment, user: User, now: datetime.datetime | None = None
) -> str:
    """The learner's variant, logged as an exposure (once per variant). Sticky: a learner
    exposed before keeps that variant; after a decision, new learners get the winner."""
    if experiment.status == Experiment.Status.DRAFT:
        raise DomainValidationError(
            {"status": "The experiment has not started: start it first."}, code="conflict"
        )
    earlier = (
        Exposure.objects.filter(experiment=experiment, user=user)
        .order_by("exposed_at", "id")
        .values_list("variant", flat=True)
        .first()
    )
    if earlier is not None:
        return earlier
    if experiment.winner:
        variant = experiment.winner
    else:
        variant = variant_assign(
            experiment.key, user.pk, [(v["key"], v["weight"]) for v in experiment.variants]
        )
    if experiment.status == Experiment.Status.RUNNING:
        Exposure.objects.bulk_create(
            [
                Exposure(
                    experiment=experiment,
                    user=user,
                    variant=variant,
                    exposed_at=now or timezone.now(),
                    source="assignment",
                )
            ],
            ignore_conflicts=True,
        )
    return variant


def exposures_from_deliveries(*, experiment: Experiment) -> int:
    """Log the exposures of a template or campaign experiment: each learner sent a message of
    the template since the start, with the variant it carried (or, for a campaign, the arm
    whose template the campaign sent them); the first send of each. How many new. A learner
    sent two variants ends up with two rows and is left out of the results."""
    if experiment.kind not in MESSAGE_KINDS or experiment.started_at is None:
        return 0
    if experiment.kind == Experiment.Kind.TEMPLATE:
        key_of = {v["variant"]: v["key"] for v in experiment.variants}
        names = dict(
            Variant.objects.filter(template_id=experiment.template_id, name__in=key_of).values_list(
                "pk", "name"
            )
        )
        arm_of_value = {pk: key_of[name] for pk, name in names.items()}
        column = "variant_id"
        sent = Delivery.objects.filter(
            template_id=experiment.template_id, variant_id__in=arm_of_value
        )
    else:  # a campaign's or rule's arms: its sends of each arm's template
        key_of = {v["template"]: v["key"] for v in experiment.variants}
        slugs = dict(MessageTemplate.objects.filter(slug__in=key_of).values_list("pk", "slug"))
        arm_of_value = {pk: key_of[slug] for pk, slug in slugs.items()}
        column = "template_id"
        sent = Delivery.objects.filter(
            source__startswith=experiment.arm_source_prefix, template_id__in=arm_of_value
        )
    sent = sent.filter(sent_at__gte=experiment.started_at)
    if experiment.stopped_at:
        sent = sent.filter(sent_at__lte=experiment.stopped_at)
    made = 0
    rows = []
    for user_id, value, sent_at, delivery_id in (
        sent.order_by("user_id", column, "sent_at")
        .distinct("user_id", column)
        .values_list("user_id", column, "sent_at", "pk")
        .iterator(chunk_size=EXPOSURE_BATCH)
        if _distinct_on()
        else _first_sends(sent, column)
    ):
        rows.append(
            (experiment.pk, user_id, arm_of_value[value], sent_at, f"delivery:{delivery_id}")
        )
        if len(rows) >= EXPOSURE_BATCH:
            made += _exposures_insert(rows)
            rows = []
    if rows:
        made += _exposures_insert(rows)
    return made


def _distinct_on() -> bool:
    from django.db import connection

    return connection.features.can_distinct_on_fields


def _first_sends(sent: Any, column: str) -> list[tuple[int, int, datetime.datetime, int]]:
    seen: dict[tuple[int, int], tuple[int, int, datetime.datetime, int]] = {}
    for row in sent.order_by("sent_at", "pk").values_list("user_id", column, "sent_at", "pk"):
        seen.setdefault((row[0], row[1]), row)
    return list(seen.values())


def _exposures_insert(rows: list[tuple]) -> int:
    return len(
        rows_insert(
            Exposure,
            (
                ("experiment_id", "bigint"),
                ("user_id", "bigint"),
                ("variant", "text"),
                ("exposed_at", "timestamptz"),
                ("source", "text"),
            ),
            rows,
            conflict=("experiment_id", "user_id", "variant"),
            returning=("user_id",),
        )
    )


# --- decisions --------------------------------------------------------------------------------


def experiment_decide(*, experiment: Experiment, now: datetime.datetime | None = None) -> Any:
    """Bring a template experiment's exposures up to date, compute its results, and when it
    runs with the auto-winner on and the decision rule names a winner (never under a sample
    ratio mismatch or a hurt guardrail: the rule refuses those), give the winner all traffic
    with an audit record of the figures. Returns the results."""
    from campaigns.selectors.experiments import experiment_results

    exposures_from_deliveries(experiment=experiment)
    results = experiment_results(experiment=experiment, now=now)
    if (
        experiment.auto_winner
        and experiment.status == Experiment.Status.RUNNING
        and not experiment.winner
        and results.decision_winner
    ):
        with transaction.atomic():
            locked = Experiment.objects.select_for_update().get(pk=experiment.pk)
            if not locked.winner:
                winner = next(
                    v for v in results.primary.variants if v["key"] == results.decision_winner
                )
                reason = (
                    f"Auto-winner on {results.primary.name}: chance to win "
                    f"{winner['chance_to_win']:.1%}, uplift {winner['uplift']:+.1%} "
                    f"(sequential interval {winner['sequential_ci'][0]:+.1%} to "
                    f"{winner['sequential_ci'][1]:+.1%}), {sum(results.users.values())} "
                    f"learners over {results.runtime_days:g} days, SRM p = "
                    f"{results.srm_p_value:.3g}. " + " ".join(results.decision_reasons)
                )
                _winner_set(locked, results.decision_winner, actor=None, reason=reason)
                experiment.refresh_from_db()
    return results


def experiments_decide_running(*, now: datetime.datetime | None = None) -> int:
    """The auto-winner pass over every running experiment that has it on; how many decided."""
    decided = 0
    for experiment in Experiment.objects.filter(
        status=Experiment.Status.RUNNING, auto_winner=True, winner=""
    ):
        experiment_decide(experiment=experiment, now=now)
        decided += bool(experiment.winner)
    return decided
