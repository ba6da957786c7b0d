"""Benchmark campaigns: a one-time campaign to N learners, end to end, exactly once.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    .venv/bin/python bench/campaigns_send.py [--learners 100000]

It (re)creates its own database, `stride_bench_campaigns`, migrates it, COPies in
`--learners` students, creates and activates a one-time campaign to the predefined "all
learners" segment through the services, and then times, in one run, what beat and the
workers do:

* the dispatch: the due campaign claimed, its run started (the audience evaluated in one
  query and kept as recipients, cut into chunks);
* `--workers` processes (default 2, one per core), each doing what a Celery worker does with
  the tasks it takes: every chunk's task (`chunk_run`: a chunk another process holds is
  skipped, as a second worker skips it) queueing the chunk's deliveries through interventions,
  then sending (`deliveries_send_due`, batches claimed with SKIP LOCKED) through Django's
  in-memory email backend (locmem: every message is built and "sent" as to an ESP, without a
  network; each process has its own outbox).

It prints messages/s end to end and checks that every learner got exactly one message, however
the processes shared the work. Target: >= 1,000 messages/s end to end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from _setup import copy_learners, recreate_database

DB = "stride_bench_campaigns"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    base = os.environ.get("BENCH_PG_URL", "postgres://stride:stride@127.0.0.1:5432/postgres")
    os.environ["DATABASE_URL"] = recreate_database(base, DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    from celery import current_app
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test.utils import setup_test_environment

    settings.STRIDE_QUIET_HOURS = (0, 0)  # measure sending, not waiting for mornings
    setup_test_environment()
    call_command("migrate", verbosity=0)
    from accounts.models import User
    from campaigns.models import CampaignRun, RunChunk
    from campaigns.services.campaigns import campaign_activate, campaign_create
    from campaigns.services.dispatch import campaigns_claim_due, run_start
    from interventions.models import Delivery, Holdout

    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        ids = copy_learners(cursor.cursor, args.learners, now=now)
    print(f"{len(ids):,} learners copied into {DB}")
    campaign = campaign_create(
        spec={
            "name": "Bench announcement",
            "channel": "email",
            "audience": {"segment": "all-learners"},
            "schedule": {
                "type": "one_time",
                "at": (now + timedelta(minutes=1)).isoformat(),
                "timezone": "UTC",
            },
            "template": "gentle-reminder",
        },
        actor=None,
    )
    campaign = campaign_activate(campaign=campaign, actor=None)
    due = campaign.next_run_at
    current_app.loader.import_default_modules()  # as a worker has, long before

    started = time.perf_counter()
    (run_id,) = campaigns_claim_due(now=due)
    run_start(run_id=run_id, now=due)
    started_at = time.perf_counter()
    chunks = list(RunChunk.objects.filter(run_id=run_id).values_list("pk", flat=True))
    connections.close_all()  # each process opens its own
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = pool.starmap(_work, [(chunks, due)] * args.workers)
    done = time.perf_counter()
    sent = sum(n for n, _ in results)
    recipients = [address for _, outbox in results for address in outbox]
    run = CampaignRun.objects.get(pk=run_id)
    print(
        f"run started (audience of {run.targeted:,}, {len(chunks)} chunks) in "
        f"{started_at - started:.2f} s; {args.workers} worker process(es) queued "
        f"{run.queued:,} and sent {sent:,} in {done - started_at:.2f} s "
        f"(each sent {', '.join(f'{n:,}' for n, _ in results)})"
    )
    print(
        f"{sent / (done - started):,.0f} messages/s end to end over {done - started:.1f} s "
        "(target >= 1,000)"
    )
    held = set(
        User.objects.filter(pk__in=Holdout.objects.values("user_id")).values_list(
            "email", flat=True
        )
    )
    deliveries = Delivery.objects.count()
    print(
        f"  emails in the outbox: {len(recipients):,}, distinct recipients: "
        f"{len(set(recipients)):,}, deliveries: {deliveries:,}, held out (the campaign's "
        f"{campaign.holdout_percent}% holdout, not contacted): {len(held):,}; exactly once: "
        f"{len(recipients) == len(set(recipients)) == sent == deliveries}, every learner "
        f"either sent to or held out: {sent + len(held) == len(ids)}, none held out "
        f"contacted: {not held & set(recipients)}"
    )
    print(
        f"(load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores)"
    )


def _work(chunks: list[int], due: datetime) -> tuple[int, list[str]]:
    """One worker process: the chunks' tasks (those another process holds are skipped), then
    sending what is due; what it sent and to whom."""
    from django.core import mail

    from campaigns.services.dispatch import chunk_run
    from interventions.services.deliveries import deliveries_send_due

    mail.outbox = []
    for chunk_id in chunks:
        chunk_run(chunk_id=chunk_id, now=due)
    sent = deliveries_send_due(now=due, limit=500)
    return sent, [message.to[0] for message in mail.outbox]


if __name__ == "__main__":
    main()
