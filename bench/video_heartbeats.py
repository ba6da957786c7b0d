"""Benchmark player heartbeats (POST /video/heartbeats/) under gunicorn on PostgreSQL.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    .venv/bin/python bench/video_heartbeats.py [--rate 1000] [--seconds 20] [--learners 400]

It (re)creates its own database, `stride_video3_bench_heartbeats` (BENCH_PG_URL's server),
migrates it, makes one ready 10-minute video in a course, `--learners` enrolled students and a
signed-in session for each. It starts gunicorn (2 workers, config.wsgi with
config.settings.local and DEBUG=0), loads the player page once per learner through it (as the
browser does: the page hands player.js the view's heartbeat token, the heartbeats' only
credential; a learner's later views get the token a reload of the page would give), then sends
real player heartbeats at a fixed rate for `--seconds` (open loop: each client sends on a
schedule, not when the previous answer came back; one learner's heartbeats in order, ten media
seconds each, a new view after the end of the video). It prints the load average, the achieved
rate, latency p50/p95/p99 and errors, then applies the received heartbeats (as the worker does
every 10 seconds: watch tables and `video_progress` events into engagement's ingestion), timed,
and checks that every accepted heartbeat stored exactly one event and one watched interval.
Target: 1,000 heartbeats/s sustained with p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from _setup import ROOT, copy_learners, recreate_database

DB = "stride_video3_bench_heartbeats"
DURATION = 600  # seconds of video
STEP = 10  # media seconds per heartbeat, as STRIDE_VIDEO_HEARTBEAT_SECONDS
BEATS_PER_VIEW = DURATION // STEP
LESSON = "bench-lesson"
HEARTBEAT = "/video/heartbeats/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(
    port: int, method: str, path: str, headers: dict, body: bytes | None = None
) -> tuple[int, bytes, list[tuple[str, str]]]:
    """One request on a new connection (gunicorn's sync workers close after each answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), response.getheaders()
    finally:
        conn.close()


def open_player(port: int, cookie: str) -> dict:
    """Load the player page as the browser does; return the heartbeat headers player.js sends."""
    status, body, _ = request(
        port, "GET", f"/me/videos/{LESSON}/", {"Cookie": f"sessionid={cookie}"}
    )
    if status != 200:
        raise RuntimeError(f"player page answered {status}: {body[:200]!r}")
    config = json.loads(
        re.search(rb'<script id="player-config" type="application/json">(.*?)</script>', body, re.S)
        .group(1)
        .decode()
    )
    assert config["heartbeat"] == HEARTBEAT, config["heartbeat"]
    return beat_headers(config["heartbeatToken"])


def beat_headers(token: str) -> dict:
    return {"Content-Type": "application/json", "X-Heartbeat-Token": token}


def client(port: int, learners: list[dict], rate: float, seconds: float, start_at: float) -> dict:
    """One client process: a few threads, each sending its learners' heartbeats on schedule."""
    cpu_started = time.process_time()
    threads_n = max(1, min(len(learners), 32))
    per_thread = rate / threads_n
    latencies: list[float] = []
    lag: list[float] = []
    statuses: dict[int, int] = {}
    stored = not_stored = 0
    errors: list[str] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        nonlocal stored, not_stored
        mine = learners[index::threads_n]
        count = int(per_thread * seconds)
        offset = index / rate  # spread the threads' sends over the interval
        state = [{"beat": 0, "view": 0} for _ in mine]
        local_lat, local_lag = [], []
        for i in range(count):
            due = start_at + offset + i / per_thread
            now = time.time()
            if due > now:
                time.sleep(due - now)
            k = i % len(mine)
            learner, s = mine[k], state[k]
            seq = s["beat"] % BEATS_PER_VIEW
            if seq == 0 and s["beat"]:
                s["view"] += 1  # the page reloaded: its next view's token
            start = seq * STEP
            beat = {
                "seq": seq, "start": start, "end": start + STEP,
                "position": start + STEP, "speed": 1, "rendition": "720p", "device": "desktop",
                "kind": "ended" if seq == BEATS_PER_VIEW - 1 else "tick",
            }  # fmt: skip
            s["beat"] += 1
            sent = time.time()
            local_lag.append(sent - due)
            try:
                status, body, _ = request(
                    port, "POST", HEARTBEAT, learner["views"][s["view"]], json.dumps(beat).encode()
                )
            except OSError as error:
                status, body = 0, str(error).encode()
            local_lat.append(time.time() - sent)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    if json.loads(body)["stored"]:
                        stored += 1
                    else:
                        not_stored += 1
                elif len(errors) < 3:
                    errors.append(f"{status} {body[:200]!r}")
        with lock:
            latencies.extend(local_lat)
            lag.extend(local_lag)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "latencies": latencies,
        "lag": lag,
        "statuses": statuses,
        "stored": stored,
        "not_stored": not_stored,
        "errors": errors,
        "finished": time.time(),
        "cpu": time.process_time() - cpu_started,
    }


def _client_entry(args: tuple) -> dict:
    return client(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000, help="heartbeats per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--learners", type=int, default=400)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    args = parser.parse_args()
    base = os.environ.get("BENCH_PG_URL", "postgres://stride:stride@127.0.0.1:5432/postgres")
    db_url = recreate_database(base, DB)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",
        "STRIDE_VAR_DIR": str(ROOT / "var" / "bench"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)  # nothing shared outside this database
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG")})
    os.environ["STRIDE_VAR_DIR"] = env["STRIDE_VAR_DIR"]
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from engagement.models import Event
    from learning.models import Lesson
    from learning.services import courses_upsert, enrollments_upsert, lessons_upsert
    from video.models import LessonVideo, ReceivedHeartbeat, WatchInterval, WatchSession
    from video.services.watching import heartbeat_token, heartbeats_process

    call_command("migrate", verbosity=0)
    call_command("createcachetable")
    courses_upsert(items=[{"external_id": "bench-course", "title": "Bench"}])
    lessons_upsert(items=[{"external_id": LESSON, "course": "bench-course", "title": "Bench"}])
    video = LessonVideo.objects.create(
        lesson=Lesson.objects.get(external_id=LESSON),
        status=LessonVideo.Status.READY,
        progress=100,
        duration_seconds=DURATION,
        bucket_seconds=1.0,
        renditions=[{"name": n} for n in ("1080p", "720p", "480p")],
        hls_path="videos/hls/bench",
    )
    with connection.cursor() as wrapper:
        ids = copy_learners(wrapper.cursor, args.learners, now=timezone.now())
    enrollments_upsert(
        items=[{"user": f"ext-{i}", "course": "bench-course"} for i in range(args.learners)]
    )
    users = list(User.objects.filter(pk__in=ids).order_by("pk"))
    # The views a learner starts after the first (each from a reload of the player page).
    views = math.ceil(args.rate * args.seconds / args.learners / BEATS_PER_VIEW) + 1
    later_views = [
        [beat_headers(heartbeat_token(video=video, user=user)) for _ in range(views)]
        for user in users
    ]
    cookies = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(session.session_key)
    connection.close()

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning",
         "--backlog", "4096"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request(port, "GET", "/api/v1/", {})
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("gunicorn did not come up")
                time.sleep(0.3)
        learners = [
            {"views": [open_player(port, cookie), *later]}
            for cookie, later in zip(cookies, later_views, strict=True)
        ]
        load = os.getloadavg()[0]  # after set-up, before the load
        start_at = time.time() + 1.0
        shares = [learners[i :: args.processes] for i in range(args.processes)]
        jobs = [
            (port, share, args.rate / args.processes, args.seconds, start_at) for share in shares
        ]
        with multiprocessing.get_context("fork").Pool(args.processes) as pool:
            results = pool.map(_client_entry, jobs)
        elapsed = max(r["finished"] for r in results) - start_at
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    latencies = sorted(x for r in results for x in r["latencies"])
    lag = sorted(x for r in results for x in r["lag"])
    statuses: dict[int, int] = {}
    for r in results:
        for status, n in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    sent = len(latencies)
    ok = statuses.get(200, 0)
    stored = sum(r["stored"] for r in results)
    not_stored = sum(r["not_stored"] for r in results)
    q = statistics.quantiles(latencies, n=100)
    pending = ReceivedHeartbeat.objects.count()
    flush_started = time.perf_counter()
    flushed = heartbeats_process()  # what the worker's beat entry runs every 10 seconds
    flush_seconds = time.perf_counter() - flush_started
    events = Event.objects.filter(type="video_progress").count()
    distinct_events = Event.objects.filter(type="video_progress").values("client_id").distinct()
    intervals = WatchInterval.objects.filter(video=video).count()
    seqs = sum(s.last_seq + 1 for s in WatchSession.objects.filter(video=video))
    print(f"load average (1 min) before the run: {load:.2f} on {os.cpu_count()} CPUs")
    print(
        f"the load generator itself used {sum(r['cpu'] for r in results):.1f} CPU-seconds "
        f"({args.processes} processes)"
    )
    print(
        f"{sent} heartbeats from {args.learners} learners at a target of {args.rate:,.0f}/s "
        f"for {args.seconds:.0f} s: {sent / elapsed:,.0f}/s sent, {ok / elapsed:,.0f}/s "
        f"answered 200 over {elapsed:.1f} s"
    )
    print(
        f"latency: p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, "
        f"p99 {q[98] * 1000:.1f} ms, max {latencies[-1] * 1000:.0f} ms; "
        f"send lag behind schedule p99 {statistics.quantiles(lag, n=100)[98] * 1000:.0f} ms"
    )
    errors = sent - ok
    print(f"errors: {errors} ({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))})")
    print(
        f"applying them (watch tables + engagement's ingestion): {pending} received, {flushed} "
        f"applied in {flush_seconds:.1f} s ({flushed / max(flush_seconds, 1e-9):,.0f} "
        "heartbeats/s, one worker)"
    )
    print(
        f"stored: {stored} accepted, {not_stored} answered as repeats; {events} video_progress "
        f"events ({distinct_events.count()} distinct ids), {intervals} watched intervals, "
        f"{seqs} heartbeats recorded on the sessions"
    )
    exact = events == intervals == seqs == stored and distinct_events.count() == events
    print("nothing lost or duplicated" if exact else "MISMATCH: something was lost or duplicated")
    for r in results:
        for error in r["errors"]:
            print(f"  failed: {error}")


if __name__ == "__main__":
    main()
