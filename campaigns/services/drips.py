"""Drip sequences: learners enter when they are in the audience and have an anchor, receive
the steps in order at their delays, and leave when they finish or meet an exit condition.

Each minute, per active drip (claimed with SKIP LOCKED, so one worker at a time):

* **Enter.** Audience members without progress enter, anchored at their signup, enrolment
  (in the campaign's course, or their first), first activity, or now ("joining the
  audience"); those with no such anchor yet wait. A *late entrant*, whose first step's
  delay passed before they entered, starts at the first step now: their anchor is moved up
  so that the first step is due on entry and the later steps keep their spacing.
* **Exit.** Learners who completed the course, converted on any of the drip's messages,
  turned the channel off, or left the audience leave (each only when the campaign lists
  that exit condition), with the reason.
* **Advance.** Learners whose next step is due are locked (SKIP LOCKED) and, in the same
  transaction, their step is queued through interventions (source
  "campaign:<id>:step:<step>", unique per learner and channel) and their progress moved to
  the following step, or finished. A step counted as sent though interventions skipped it
  (capped, opted out) is not retried: the drip goes on at its pace.

Editing a running drip's steps (`drip_reschedule`) recomputes when each learner's *next*
step is due; what they were sent stays as it was, and a learner past a position never gets
the step now there.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping

from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from accounts.models import User
from campaigns.models import Campaign, CampaignLog, CampaignRun, DripProgress, DripStep
from campaigns.selectors.audience import audience_users
from core.bulk import rows_insert
from core.errors import DomainValidationError
from engagement.models import Event
from interventions.models import ChannelOptOut, Delivery
from interventions.services.deliveries import deliveries_queue
from learning.models import Enrollment

logger = logging.getLogger(__name__)

ADVANCE_BATCH = 2000


def _delay(step: DripStep) -> datetime.timedelta:
    return datetime.timedelta(days=step.delay_days, hours=step.delay_hours)


def step_due(
    step: DripStep, *, anchor_at: datetime.datetime, previous_at: datetime.datetime | None
) -> datetime.datetime:
    """When `step` is due for a learner anchored at `anchor_at` whose previous step went at
    `previous_at` (the first step: the anchor)."""
    base = previous_at if step.after_previous and previous_at is not None else anchor_at
    return base + _delay(step)


def _anchors(
    campaign: Campaign, user_ids: list[int], now: datetime.datetime
) -> dict[int, datetime.datetime]:
    """Each learner's anchor time (none: not anchored yet), in one query."""
    anchor = campaign.anchor
    if anchor == Campaign.Anchor.AUDIENCE:
        return dict.fromkeys(user_ids, now)
    if anchor == Campaign.Anchor.SIGNUP:
        return dict(User.objects.filter(pk__in=user_ids).values_list("pk", "date_joined"))
    if anchor == Campaign.Anchor.FIRST_ACTIVITY:
        rows = (
            Event.objects.filter(user_id__in=user_ids)
            .values("user_id")
            .annotate(at=Min("occurred_at"))
        )
        return {row["user_id"]: row["at"] for row in rows}
    enrolments = Enrollment.objects.filter(user_id__in=user_ids)
    if campaign.anchor_course_id:
        enrolments = enrolments.filter(course_id=campaign.anchor_course_id)
    rows = enrolments.values("user_id").annotate(at=Min("enrolled_at"))
    return {row["user_id"]: row["at"] for row in rows}


def drip_enter(campaign: Campaign, steps: list[DripStep], now: datetime.datetime) -> int:
    """Enter the audience members who have no progress yet and have an anchor; how many."""
    if not steps:
        return 0
    audience = audience_users(filter=_filter(campaign), now=now)
    new = list(
        audience.exclude(pk__in=DripProgress.objects.filter(campaign=campaign).values("user_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not new:
        return 0
    first = _delay(steps[0])
    rows = []
    for user_id, anchor_at in _anchors(campaign, new, now).items():
        if anchor_at is None or anchor_at > now:
            continue  # not anchored yet (no enrolment, no activity so far)
        anchor_at = max(anchor_at, now - first)  # a late entrant starts at the first step now
        rows.append((campaign.pk, user_id, now, anchor_at, 0, anchor_at + first, ""))
    made = rows_insert(
        DripProgress,
        (
            ("campaign_id", "bigint"),
            ("user_id", "bigint"),
            ("entered_at", "timestamptz"),
            ("anchor_at", "timestamptz"),
            ("step", "integer"),
            ("next_due_at", "timestamptz"),
            ("exit_reason", "text"),
        ),
        rows,
        conflict=("campaign_id", "user_id"),
        returning=("user_id",),
    )
    return len(made)


def _filter(campaign: Campaign) -> object:
    return campaign.segment.filter if campaign.segment_id else campaign.filter


def drip_exits(campaign: Campaign, now: datetime.datetime) -> dict[str, int]:
    """Take out the learners who meet one of the campaign's exit conditions; count by reason."""
    active = DripProgress.objects.filter(campaign=campaign, exited_at__isnull=True)
    counts: dict[str, int] = {}
    conditions = set(campaign.exit_conditions or [])

    def leave(queryset: object, reason: str) -> None:
        counts[reason] = active.filter(user_id__in=queryset).update(
            exited_at=now, exit_reason=reason, next_due_at=None
        )

    if "completed" in conditions:
        done = Enrollment.objects.filter(status=Enrollment.Status.COMPLETED)
        if campaign.anchor_course_id:
            done = done.filter(course_id=campaign.anchor_course_id)
        leave(done.values("user_id"), DripProgress.Exit.COMPLETED)
    if "converted" in conditions:
        leave(
            Delivery.objects.filter(
                source__startswith=campaign.source_prefix, converted_at__isnull=False
            ).values("user_id"),
            DripProgress.Exit.CONVERTED,
        )
    if "unsubscribed" in conditions:
        leave(
            ChannelOptOut.objects.filter(channel=campaign.channel).values("user_id"),
            DripProgress.Exit.UNSUBSCRIBED,
        )
    if "left_audience" in conditions:
        counts[DripProgress.Exit.LEFT_AUDIENCE] = active.exclude(
            user_id__in=audience_users(filter=_filter(campaign), now=now).values("pk")
        ).update(exited_at=now, exit_reason=DripProgress.Exit.LEFT_AUDIENCE, next_due_at=None)
    return {reason: n for reason, n in counts.items() if n}


def drip_advance(
    campaign: Campaign, steps: list[DripStep], now: datetime.datetime
) -> tuple[int, int, int, Counter[str]]:
    """Send the due steps (a batch of learners, locked); (learners, queued, deferred,
    skipped by reason)."""
    by_position = {step.position: step for step in steps}
    with transaction.atomic():
        due = list(
            DripProgress.objects.select_for_update(skip_locked=True)
            .filter(campaign=campaign, exited_at__isnull=True, next_due_at__lte=now)
            .order_by("next_due_at")[:ADVANCE_BATCH]
        )
        groups: dict[int, list[DripProgress]] = defaultdict(list)
        for progress in due:
            groups[progress.step + 1].append(progress)
        queued = deferred = 0
        skipped: Counter[str] = Counter()
        for position, members in groups.items():
            step = by_position.get(position)
            if step is not None:
                result = deliveries_queue(
                    template=step.template,
                    user_ids=[p.user_id for p in members],
                    source=step.source,
                    channel=campaign.channel,
                    now=now,
                    holdout_scope=campaign.holdout_scope,
                    holdout_share=campaign.holdout_percent / 100,
                )
                queued += len(result.queued)
                deferred += len(result.deferred)
                skipped.update(result.skipped.values())
                if result.held_out:
                    skipped["held_out"] += len(result.held_out)
            following = _next_step(by_position, position)
            for progress in members:
                if step is not None:
                    progress.step = position
                    progress.last_sent_at = now
                if following is None:
                    progress.next_due_at = None
                    progress.exited_at = now
                    progress.exit_reason = DripProgress.Exit.FINISHED
                else:
                    progress.next_due_at = step_due(
                        following, anchor_at=progress.anchor_at, previous_at=progress.last_sent_at
                    )
        DripProgress.objects.bulk_update(
            due, ["step", "last_sent_at", "next_due_at", "exited_at", "exit_reason"], batch_size=500
        )
        if due:
            _tick_record(campaign, now, len(due), queued, deferred, skipped)
    return len(due), queued, deferred, skipped


def _next_step(by_position: Mapping[int, DripStep], position: int) -> DripStep | None:
    later = [p for p in by_position if p > position]
    return by_position[min(later)] if later else None


def _tick_record(
    campaign: Campaign,
    now: datetime.datetime,
    targeted: int,
    queued: int,
    deferred: int,
    skipped: Counter[str],
) -> None:
    """Count this minute's sends into the drip's run of the minute (a run per minute with
    sends, so the history shows when steps went)."""
    minute = now.replace(second=0, microsecond=0)
    run, _ = CampaignRun.objects.select_for_update().get_or_create(
        campaign=campaign,
        occurrence=minute,
        defaults={"status": CampaignRun.Status.DONE, "started_at": now, "finished_at": now},
    )
    merged = Counter(run.skipped or {})
    merged.update(skipped)
    CampaignRun.objects.filter(pk=run.pk).update(
        targeted=F("targeted") + targeted,
        queued=F("queued") + queued,
        deferred=F("deferred") + deferred,
        skipped=dict(merged),
        finished_at=now,
    )


def drip_reschedule(campaign: Campaign) -> int:
    """After the steps changed: recompute each active learner's next due time from the
    steps as they are now; how many rows changed."""
    steps = {step.position: step for step in campaign.steps.all()}
    rows = list(DripProgress.objects.filter(campaign=campaign, exited_at__isnull=True))
    changed = []
    for progress in rows:
        following = _next_step(steps, progress.step)
        due = (
            None
            if following is None
            else step_due(
                following, anchor_at=progress.anchor_at, previous_at=progress.last_sent_at
            )
        )
        if following is None:
            # Steps after theirs were removed: the next dispatch finishes them.
            due = progress.next_due_at or timezone.now()
        if due != progress.next_due_at:
            progress.next_due_at = due
            changed.append(progress)
    DripProgress.objects.bulk_update(changed, ["next_due_at"], batch_size=500)
    return len(changed)


def drips_dispatch(*, now: datetime.datetime | None = None) -> int:
    """One minute of every active drip: enter, exit, advance; how many learners got a step."""
    now = now or timezone.now()
    total = 0
    ids = list(
        Campaign.objects.filter(kind=Campaign.Kind.DRIP, status=Campaign.Status.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    for campaign_id in ids:
        try:
            total += drip_dispatch_one(campaign_id=campaign_id, now=now)
        except Exception as error:  # one broken drip must not hold up the others
            _drip_error(campaign_id, error)
    return total


def _drip_error(campaign_id: int, error: Exception) -> None:
    """Say in the drip's log why this minute failed (once until it works again)."""
    if isinstance(error, DomainValidationError):
        reason = error.messages_text()
    else:
        logger.exception("drip %s failed", campaign_id)
        reason = f"{type(error).__name__}: {error}"
    last = CampaignLog.objects.filter(campaign_id=campaign_id).order_by("-at", "-id").first()
    if last is None or last.action != "error" or last.detail != reason[:300]:
        CampaignLog.objects.create(campaign_id=campaign_id, action="error", detail=reason[:300])


def drip_dispatch_one(*, campaign_id: int, now: datetime.datetime) -> int:
    """Enter, exit and advance one drip, holding its row so no other worker does it too."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("segment")
            .filter(pk=campaign_id, status=Campaign.Status.ACTIVE)
            .first()
        )
        if campaign is None:
            return 0
        steps = list(campaign.steps.select_related("template"))
        drip_enter(campaign, steps, now)
        drip_exits(campaign, now)
        sent = 0
        while True:
            learners, queued, _, _ = drip_advance(campaign, steps, now)
            sent += queued
            if learners < ADVANCE_BATCH:
                break
    return sent
