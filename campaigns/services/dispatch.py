"""Running campaigns, exactly once: beat's `campaigns.dispatch_due` every minute, and one
`campaigns.run_chunk` task per slice of a run's audience.

1. Due campaigns (`next_run_at` passed) are claimed with SELECT ... FOR UPDATE SKIP LOCKED;
   each gets the run of its occurrence (unique per campaign and occurrence, so a second
   worker or a redelivered task makes none more) and its next run time, in one transaction.
2. A pending run is claimed the same way and started: its audience is evaluated once, in
   one query, and kept as the run's recipients, each with the time their message is due (the
   learner's own 09:00 for learner-local schedules, spread by the campaign's rate limit);
   the recipients are cut into chunks, all in the transaction that marks the run running.
   The chunks' tasks are sent after the commit.
3. A chunk task locks its chunk (SKIP LOCKED: a second worker skips it) and, in the same
   transaction, queues the chunk's messages through interventions' `deliveries_queue`
   (source "campaign:<id>:run:<run>", unique per learner and channel there), marks the chunk
   done and counts it into the run. A worker killed mid-chunk commits nothing and its lock
   goes with its connection, so the chunk is pending again; the next dispatch sends its task
   again. No learner is queued twice and none is left out.
4. Drips are advanced by `campaigns.services.drips.drips_dispatch`.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, CampaignRun, RunChunk
from campaigns.schedules import local_due, place, zone_get
from campaigns.selectors.audience import audience_users
from campaigns.services.campaigns import log, schedule_of
from campaigns.services.experiments import arm_of, campaign_arms
from core.bulk import rows_insert
from core.errors import DomainValidationError
from core.jobs import task_enqueue
from interventions.services.deliveries import QueueResult, deliveries_queue

logger = logging.getLogger(__name__)

RUN_CHUNK_TASK = "campaigns.run_chunk"
# A chunk still pending this long after its run started lost its task (a broker restart):
# the dispatch sends it again. Sending a chunk's task twice is harmless.
CHUNK_RESEND_AFTER = datetime.timedelta(minutes=2)
_RUNNABLE = (Campaign.Status.SCHEDULED, Campaign.Status.ACTIVE)


def _audience_filter(campaign: Campaign) -> Any:
    return campaign.segment.filter if campaign.segment_id else campaign.filter


def campaigns_claim_due(*, now: datetime.datetime) -> list[int]:
    """Create the run of every due one-time or recurring campaign and move its next run time
    on (a one-time campaign's to none); return the new runs' ids."""
    made: list[int] = []
    with transaction.atomic():
        due = list(
            Campaign.objects.select_for_update(skip_locked=True)
            .filter(status__in=_RUNNABLE, next_run_at__lte=now)
            .exclude(kind=Campaign.Kind.DRIP)
            .order_by("next_run_at")[:100]
        )
        for campaign in due:
            schedule = schedule_of(campaign)
            found = schedule.next_after(campaign.next_run_at - datetime.timedelta(seconds=1))
            wall = found[0] if found else next(schedule.walls())
            occurrence = place(wall, zone_get(campaign.timezone))
            run, created = CampaignRun.objects.get_or_create(
                campaign=campaign, occurrence=occurrence
            )
            if created:
                made.append(run.pk)
            following = schedule.next_after(campaign.next_run_at)
            campaign.next_run_at = following[1] if following else None
            campaign.save(update_fields=["next_run_at", "updated_at"])
    return made


def _due_times(
    campaign: Campaign,
    wall: datetime.datetime,
    users: list[tuple[int, str]],
    now: datetime.datetime,
) -> list[datetime.datetime]:
    """Each recipient's due time, in order: the occurrence (in the learner's zone when
    learner-local; never before now), spread at `rate_per_minute` among those due together."""
    if campaign.learner_local_time:
        base = [max(local_due(wall, tz), now) for _, tz in users]
    else:
        base = [now] * len(users)
    if not campaign.rate_per_minute:
        return base
    gap = datetime.timedelta(minutes=1) / campaign.rate_per_minute
    rank: Counter[datetime.datetime] = Counter()
    out = []
    for due in base:
        out.append(due + gap * rank[due])
        rank[due] += 1
    return out


def run_start(*, run_id: int, now: datetime.datetime | None = None) -> bool:
    """Start the pending run `run_id`: keep its audience as recipients and cut it into
    chunks, then send the chunks' tasks; False if another worker has it or it is not
    pending."""
    now = now or timezone.now()
    with transaction.atomic():
        run = (
            CampaignRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("campaign", "campaign__segment")
            .filter(pk=run_id, status=CampaignRun.Status.PENDING)
            .first()
        )
        if run is None or run.campaign.status not in _RUNNABLE:
            return False
        campaign = run.campaign
        users = list(
            audience_users(filter=_audience_filter(campaign), now=now)
            .order_by("pk")
            .values_list("pk", "timezone")
        )
        wall = run.occurrence.astimezone(zone_get(campaign.timezone)).replace(tzinfo=None)
        dues = _due_times(campaign, wall, users, now)
        rows_insert(
            CampaignRecipient,
            (
                ("run_id", "bigint"),
                ("user_id", "bigint"),
                ("position", "integer"),
                ("due_at", "timestamptz"),
            ),
            [
                (run.pk, user_id, i, due)
                for i, ((user_id, _), due) in enumerate(zip(users, dues, strict=True))
            ],
            conflict=("run_id", "user_id"),
        )
        size = settings.STRIDE_CAMPAIGN_CHUNK_SIZE
        chunks = [
            RunChunk(run=run, index=k, first=first, last=min(first + size, len(users)) - 1)
            for k, first in enumerate(range(0, len(users), size))
        ]
        RunChunk.objects.bulk_create(chunks)
        run.targeted = len(users)
        run.chunks_total = len(chunks)
        run.started_at = now
        run.status = CampaignRun.Status.RUNNING if chunks else CampaignRun.Status.DONE
        if not chunks:
            run.finished_at = now
        run.save()
        if not chunks:
            _campaign_after_run(campaign, now)
        chunk_ids = [chunk.pk for chunk in chunks]
        transaction.on_commit(lambda: [task_enqueue(RUN_CHUNK_TASK, pk) for pk in chunk_ids])
    return True


def run_fail(*, run_id: int, error: Exception, now: datetime.datetime) -> None:
    """Record why run `run_id` could not start (the audience's filter no longer compiles, say):
    the run is failed with the reason, the campaign's log says so, the traceback goes to the
    log unless it is a domain error."""
    if isinstance(error, DomainValidationError):
        reason = error.messages_text()
    else:
        logger.exception("campaign run %s failed to start", run_id)
        reason = f"{type(error).__name__}: {error}"
    with transaction.atomic():
        run = CampaignRun.objects.select_related("campaign").get(pk=run_id)
        run.status = CampaignRun.Status.FAILED
        run.error = reason[:2000]
        run.finished_at = now
        run.save(update_fields=["status", "error", "finished_at"])
        log(run.campaign, None, "run failed", reason)
        _campaign_after_run(run.campaign, now)


def _campaign_after_run(campaign: Campaign, now: datetime.datetime) -> None:
    """A one-time campaign whose run finished, or a recurring one with no run left, is done."""
    if campaign.next_run_at is None and campaign.status in _RUNNABLE:
        Campaign.objects.filter(pk=campaign.pk, status__in=_RUNNABLE).update(
            status=Campaign.Status.COMPLETED, updated_at=now
        )
        log(campaign, None, "completed")


def chunk_run(*, chunk_id: int, now: datetime.datetime | None = None) -> int | None:
    """Queue the messages of chunk `chunk_id`, in one transaction with marking it done; the
    number queued, or None if another worker holds it, it is done, or its campaign is paused
    or cancelled (a paused run's chunks wait; a cancelled one's are dropped)."""
    now = now or timezone.now()
    with transaction.atomic():
        chunk = (
            RunChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("run__campaign__template")
            .filter(pk=chunk_id, status__in=[RunChunk.Status.PENDING, RunChunk.Status.RUNNING])
            .first()
        )
        if chunk is None:
            return None
        run = chunk.run
        campaign = run.campaign
        if campaign.status == Campaign.Status.PAUSED:
            return None
        if campaign.status == Campaign.Status.CANCELLED:
            result_queued, deferred, skipped = 0, 0, {"cancelled": chunk.last - chunk.first + 1}
        else:
            recipients = dict(
                CampaignRecipient.objects.filter(
                    run=run, position__gte=chunk.first, position__lte=chunk.last
                ).values_list("user_id", "due_at")
            )
            try:
                with transaction.atomic():
                    result = _queue(campaign, run, recipients, now)
            except DomainValidationError as error:
                # The template was switched off (or the channel is gone) since activation:
                # nobody of the chunk is sent anything, and the run says why.
                CampaignRun.objects.filter(pk=run.pk).update(error=error.messages_text()[:2000])
                result_queued, deferred, skipped = 0, 0, {"failed": len(recipients)}
            else:
                result_queued, deferred = len(result.queued), len(result.deferred)
                skipped = dict(Counter(result.skipped.values()))
                if result.held_out:
                    skipped["held_out"] = len(result.held_out)
        RunChunk.objects.filter(pk=chunk.pk).update(
            status=RunChunk.Status.DONE,
            claimed_at=now,
            attempts=F("attempts") + 1,
            queued=result_queued,
            deferred=deferred,
            skipped=skipped,
            finished_at=now,
        )
        _run_count(run.pk, now)
    return result_queued


def _queue(
    campaign: Campaign,
    run: CampaignRun,
    recipients: dict[int, datetime.datetime],
    now: datetime.datetime,
) -> QueueResult:
    """Queue the campaign's message for `recipients` (learner -> due time). While an
    experiment runs on the campaign's arms, each learner gets their arm's template."""
    arms = campaign_arms(campaign)
    if arms is None:
        groups = [(campaign.template, list(recipients))]
    else:
        experiment, templates = arms
        by_arm: dict[str, list[int]] = {key: [] for key in templates}
        for user_id in recipients:
            by_arm[arm_of(experiment, user_id)].append(user_id)
        groups = [(templates[key], ids) for key, ids in by_arm.items() if ids]
    result = QueueResult()
    for template, user_ids in groups:
        part = deliveries_queue(
            template=template,
            user_ids=user_ids,
            source=run.source,
            channel=campaign.channel,
            now=now,
            due_of=recipients,
            holdout_scope=campaign.holdout_scope,
            holdout_share=campaign.holdout_percent / 100,
        )
        result.queued.update(part.queued)
        result.deferred |= part.deferred
        result.skipped.update(part.skipped)
        result.replayed |= part.replayed
        result.held_out |= part.held_out
    return result


def _run_count(run_id: int, now: datetime.datetime) -> None:
    """Fold the run's done chunks into its figures; mark it done with the last one."""
    run = CampaignRun.objects.select_for_update().select_related("campaign").get(pk=run_id)
    done = list(
        RunChunk.objects.filter(run_id=run_id, status=RunChunk.Status.DONE).values(
            "queued", "deferred", "skipped"
        )
    )
    skipped: Counter[str] = Counter()
    for row in done:
        skipped.update(row["skipped"] or {})
    run.chunks_done = len(done)
    run.queued = sum(row["queued"] for row in done)
    run.deferred = sum(row["deferred"] for row in done)
    run.skipped = dict(skipped)
    if run.chunks_done >= run.chunks_total:
        run.status = CampaignRun.Status.FAILED if run.error else CampaignRun.Status.DONE
        run.finished_at = now
    run.save()
    if run.status in (CampaignRun.Status.DONE, CampaignRun.Status.FAILED):
        _campaign_after_run(run.campaign, now)


def chunks_resend(*, now: datetime.datetime, campaign_id: int | None = None) -> int:
    """Send again the tasks of chunks left pending (a lost task, a killed worker, a resumed
    campaign); how many."""
    chunks = RunChunk.objects.filter(
        status__in=[RunChunk.Status.PENDING, RunChunk.Status.RUNNING],
        run__campaign__status__in=[
            *_RUNNABLE,
            Campaign.Status.CANCELLED,
            Campaign.Status.COMPLETED,
        ],
    )
    if campaign_id is None:
        chunks = chunks.filter(run__started_at__lt=now - CHUNK_RESEND_AFTER)
    else:
        chunks = chunks.filter(run__campaign_id=campaign_id)
    ids = list(chunks.values_list("pk", flat=True)[:5000])
    transaction.on_commit(lambda: [task_enqueue(RUN_CHUNK_TASK, pk) for pk in ids])
    return len(ids)


def runs_resume(campaign_id: int) -> None:
    """After a resume: send the waiting chunks of the campaign's runs again."""
    chunks_resend(now=timezone.now(), campaign_id=campaign_id)


def campaigns_dispatch_due(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Everything due this minute: new runs, runs to start, lost chunks, drip steps."""
    from campaigns.services.drips import drips_dispatch

    now = now or timezone.now()
    created = campaigns_claim_due(now=now)
    pending = list(
        CampaignRun.objects.filter(
            status=CampaignRun.Status.PENDING, campaign__status__in=_RUNNABLE
        ).values_list("pk", flat=True)[:100]
    )
    started = 0
    for pk in pending:
        try:
            started += run_start(run_id=pk, now=now)
        except Exception as error:  # one broken run must not hold up the others
            run_fail(run_id=pk, error=error, now=now)
    with transaction.atomic():
        resent = chunks_resend(now=now)
    steps = drips_dispatch(now=now)
    return {"runs": len(created), "started": started, "chunks_resent": resent, "drip_sent": steps}
