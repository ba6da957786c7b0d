"""Exactly once, on PostgreSQL: a second worker skips what the first holds, a worker killed
in the middle of a chunk commits nothing and its chunk is sent again, and a real Celery
worker runs a campaign from beat's task to the last delivery."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun, RunChunk
from campaigns.services.dispatch import (
    CHUNK_RESEND_AFTER,
    campaigns_claim_due,
    chunk_run,
    chunks_resend,
    run_start,
)
from config.celery import app as celery_app
from interventions.models import Delivery
from tests.accounts.factories import UserFactory
from tests.campaigns.conftest import make_campaign, one_time_spec
from tests.interventions.factories import MessageTemplateFactory
from tests.locks import backend_pid, needs_postgresql

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def started_run():
    """A one-time campaign to five learners whose run has started: one pending chunk."""
    needs_postgresql()
    MessageTemplateFactory(slug="nudge")
    UserFactory.create_batch(5)
    campaign = make_campaign(one_time_spec())
    (run_id,) = campaigns_claim_due(now=campaign.starts_at)
    run_start(run_id=run_id, now=campaign.starts_at)
    return CampaignRun.objects.get(pk=run_id)


def _hold(target, ready: threading.Event, release: threading.Event, out: dict) -> None:
    """Run `target` inside a transaction on this thread's own connection and keep the
    transaction open until `release` (a worker in the middle of its work)."""
    try:
        with transaction.atomic():
            out["pid"] = backend_pid()
            out["result"] = target()
            ready.set()
            release.wait(20)
    except OperationalError as error:  # its connection was killed under it
        out["error"] = error
    finally:
        ready.set()
        connection.close()


def test_a_second_worker_skips_the_chunk_the_first_is_sending(started_run):
    chunk = RunChunk.objects.get(run=started_run)
    ready, release, out = threading.Event(), threading.Event(), {}
    first = threading.Thread(
        target=_hold, args=(lambda: chunk_run(chunk_id=chunk.pk), ready, release, out)
    )
    first.start()
    ready.wait(20)
    assert out["result"] == 5  # the first worker queued them, not yet committed

    assert chunk_run(chunk_id=chunk.pk) is None  # the second skips the locked chunk at once
    release.set()
    first.join(20)
    assert chunk_run(chunk_id=chunk.pk) is None  # and after the commit it is done
    assert Delivery.objects.count() == 5
    started_run.refresh_from_db()
    assert (started_run.status, started_run.queued) == ("done", 5)


def test_two_dispatchers_make_one_run_of_a_due_campaign():
    needs_postgresql()
    MessageTemplateFactory(slug="nudge")
    campaign = make_campaign(one_time_spec())
    ready, release, out = threading.Event(), threading.Event(), {}
    first = threading.Thread(
        target=_hold,
        args=(lambda: campaigns_claim_due(now=campaign.starts_at), ready, release, out),
    )
    first.start()
    ready.wait(20)
    assert campaigns_claim_due(now=campaign.starts_at) == []
    release.set()
    first.join(20)
    assert len(out["result"]) == 1
    assert campaigns_claim_due(now=campaign.starts_at) == []
    assert CampaignRun.objects.filter(campaign=campaign).count() == 1


def test_a_worker_killed_mid_chunk_commits_nothing_and_the_chunk_is_sent_again(started_run):
    chunk = RunChunk.objects.get(run=started_run)
    ready, release, out = threading.Event(), threading.Event(), {}
    worker = threading.Thread(
        target=_hold, args=(lambda: chunk_run(chunk_id=chunk.pk), ready, release, out)
    )
    worker.start()
    ready.wait(20)
    with connection.cursor() as cursor:  # the worker process dies: its connection goes
        cursor.execute("SELECT pg_terminate_backend(%s)", [out["pid"]])
    release.set()
    worker.join(20)
    assert "error" in out
    assert Delivery.objects.count() == 0
    chunk.refresh_from_db()
    assert chunk.status == RunChunk.Status.PENDING

    # The next dispatch finds the chunk left pending and sends its task again.
    later = started_run.started_at + CHUNK_RESEND_AFTER + datetime.timedelta(seconds=1)
    with transaction.atomic():
        assert chunks_resend(now=later) == 1
    assert chunk_run(chunk_id=chunk.pk) == 5
    assert Delivery.objects.count() == 5
    assert Delivery.objects.values("user_id").distinct().count() == 5


@pytest.mark.celery_worker
@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="needs the Redis broker that `make test` provides",
)
def test_a_real_worker_runs_a_due_campaign_in_parallel_chunks(settings):
    needs_postgresql()
    settings.STRIDE_CAMPAIGN_CHUNK_SIZE = 4
    MessageTemplateFactory(slug="nudge")
    learners = UserFactory.create_batch(10)
    soon = timezone.now() + datetime.timedelta(seconds=2)
    campaign = make_campaign(
        one_time_spec(schedule={"type": "one_time", "at": soon.isoformat(), "timezone": "UTC"})
    )
    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.1)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        celery_app.tasks["campaigns.dispatch_due"].delay().get(timeout=30)
        run = CampaignRun.objects.get(campaign=campaign)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status == CampaignRun.Status.DONE:
                break
            time.sleep(0.1)
        # Beat's next minute, and a redelivered chunk task, change nothing.
        celery_app.tasks["campaigns.dispatch_due"].delay().get(timeout=30)
        celery_app.tasks["campaigns.run_chunk"].delay(run.chunks.first().pk).get(timeout=30)

    assert (run.status, run.chunks_total, run.chunks_done, run.queued) == ("done", 3, 3, 10)
    assert sorted(Delivery.objects.values_list("user_id", flat=True)) == sorted(
        u.pk for u in learners
    )
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED
