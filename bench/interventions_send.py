"""Benchmark interventions: queue and send N emails end to end, then the tracking endpoints.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    .venv/bin/python bench/interventions_send.py [--learners 10000] [--hits 2000]

It (re)creates its own database, `stride_bench_interventions`, migrates it, COPies in
`--learners` students, then times, in one run:

* queueing the default "gentle-reminder" template for all of them (one `deliveries_queue`),
  then sending them all (`deliveries_send_due`, as the Celery task does) through Django's
  in-memory email backend (locmem: every message is built and "sent" as to an ESP, without a
  network): messages/s end to end, and that every learner got exactly one;
* `--hits` requests each of the open pixel and a click redirect through Django's test client
  (the whole view stack and its database writes, in process: no network), p50/p95/p99.

Targets: >= 1,000 messages/s end to end; pixel and click under 10 ms at p99.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime

from _setup import copy_learners, recreate_database

DB = "stride_bench_interventions"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--hits", type=int, default=2_000)
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
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    settings.STRIDE_QUIET_HOURS = (0, 0)  # measure sending, not waiting for mornings
    setup_test_environment()  # mail.outbox for the locmem backend; ALLOWED_HOSTS testserver
    call_command("migrate", verbosity=0)
    from interventions.models import Delivery
    from interventions.selectors.templates import template_get
    from interventions.services.deliveries import deliveries_queue, deliveries_send_due
    from interventions.services.tracking import click_url, open_url

    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        ids = copy_learners(cursor.cursor, args.learners, now=now)
    template = template_get(slug="gentle-reminder")
    print(f"{len(ids):,} learners copied into {DB}")

    # A worker or web process has imported the apps' tasks modules once, long before; do it
    # here too, so that the first enqueue's import is not timed as sending.
    current_app.loader.import_default_modules()
    started = time.perf_counter()
    result = deliveries_queue(template=template, user_ids=ids, source="bench:1", now=now)
    queued_at = time.perf_counter()
    sent = deliveries_send_due(now=now, limit=500)
    done = time.perf_counter()
    recipients = [m.to[0] for m in mail.outbox]
    print(
        f"queued {len(result.queued):,} in {queued_at - started:.2f} s; sent {sent:,} in "
        f"{done - queued_at:.2f} s: {sent / (done - started):,.0f} messages/s end to end "
        f"(target >= 1,000)"
    )
    print(
        f"  emails in the outbox: {len(recipients):,}, distinct recipients: "
        f"{len(set(recipients)):,}, deliveries sent: "
        f"{Delivery.objects.filter(status='sent').count():,} (no duplicates: "
        f"{len(recipients) == len(set(recipients)) == sent})"
    )

    client = Client()
    deliveries = list(Delivery.objects.values_list("id", flat=True)[: args.hits])
    rng = random.Random(1)
    for name, url_of, expected in (
        ("open pixel", open_url, 200),
        ("click redirect", lambda d: click_url(d, 0), 302),
    ):
        timings = []
        for _ in range(args.hits):
            path = url_of(rng.choice(deliveries)).split("127.0.0.1:8000", 1)[1]
            t0 = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == expected, response.status_code
        print(
            f"{name:15s} p50 {statistics.median(timings):.2f} ms  p95 "
            f"{percentile(timings, 95):.2f} ms  p99 {percentile(timings, 99):.2f} ms "
            f"(target < 10 ms at p99)"
        )
    print(
        f"(load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
