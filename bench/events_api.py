"""Benchmark the batch events API (POST /api/v1/events/) under gunicorn on PostgreSQL.

How to run (PostgreSQL must be up; the role needs CREATEDB):

    DATABASE_URL=postgres://stride:stride@127.0.0.1:5432/stride \\
        .venv/bin/python bench/events_api.py [--requests 200] [--batch 1000] [--clients 4]

It (re)creates its own database, `stride_bench_api`, on the server of DATABASE_URL, migrates
it, creates an API key with the events:write scope, starts gunicorn (2 workers,
config.wsgi with config.settings.local and DEBUG=0) on 127.0.0.1, sends a bounded number of
batches of events from a few client threads (urllib, loopback only), prints events/s and the
latency p50/p95 per request, and stops the server. Target: >= 10,000 events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "stride_bench_api"
TYPES = [
    ("page_view", 30, {"path": "/courses/1"}),
    ("login", 8, {}),
    ("lesson_started", 14, {}),
    ("lesson_completed", 10, {}),
    ("video_progress", 20, {"percent": 50, "position_seconds": 300}),
    ("quiz_submitted", 8, {"score": 7, "max_score": 10}),
    ("discussion_reply", 5, {}),
    ("resource_download", 4, {}),
    ("x-note-taken", 1, {"chars": 120}),
]
LESSON_TYPES = {"lesson_started", "lesson_completed", "video_progress", "quiz_submitted"}


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bodies(requests: int, batch: int) -> list[bytes]:
    """Pre-serialised request bodies, so that the clients spend their time waiting."""
    rng = random.Random(7)
    names = [t for t, _, _ in TYPES]
    weights = [w for _, w, _ in TYPES]
    props = {t: p for t, _, p in TYPES}
    start = datetime(2026, 6, 1, tzinfo=UTC)
    out = []
    for r in range(requests):
        events = []
        for i, event_type in enumerate(rng.choices(names, weights, k=batch)):
            n = r * batch + i
            course = rng.randrange(20)
            event = {
                "id": f"api-{n:09d}",
                "type": event_type,
                "user": f"learner-{rng.randrange(5000):05d}",
                "course": f"course-{course:02d}",
                "occurred_at": (start + timedelta(seconds=n)).isoformat(),
                "device": "mobile" if n % 3 else "desktop",
                "session_id": f"s-{n // 40}",
                "properties": props[event_type],
            }
            if event_type in LESSON_TYPES:
                event["lesson"] = f"course-{course:02d}-lesson-{rng.randrange(12):02d}"
            events.append(event)
        out.append(json.dumps(events).encode())
    return out


def post(url: str, key: str, body: bytes) -> tuple[float, int, dict]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            payload = json.loads(response.read())
            status = response.status
    except urllib.error.HTTPError as exc:
        payload, status = {"error": exc.read()[:300].decode(errors="replace")}, exc.code
    return time.perf_counter() - started, status, payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the benchmark makes its own database).")

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    env = {
        **os.environ,
        "DATABASE_URL": with_database(url, BENCH_DB),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",
        "STRIDE_VAR_DIR": str(ROOT / "var" / "bench"),
        "API_THROTTLE_RATE": "1000000/min",
    }
    env.pop("REDIS_URL", None)  # throttling uses the database cache: nothing shared outside

    def manage(*command: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ).stdout

    manage("migrate", "--verbosity", "0")
    manage("createcachetable")
    key = manage(
        "create_api_key", "--name", "bench", "--scopes", "events:write", "--source", "bench"
    ).split()[-1]
    payloads = bodies(args.requests, args.batch)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    base + "/api/v1/events/types/", headers={"Authorization": f"Bearer {key}"}
                )
                with urllib.request.urlopen(request, timeout=5):
                    break
            except OSError:  # refused, reset or timed out while the workers boot
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("gunicorn did not come up")
                time.sleep(0.3)

        # Warm-up: both workers connect, create their temporary table and the first users.
        for body in payloads[:2]:
            post(base + "/api/v1/events/", key, body)
        work: queue.Queue[bytes] = queue.Queue()
        for body in payloads[2:]:
            work.put(body)
        latencies: list[float] = []
        failures: list[tuple[int, dict]] = []
        accepted = 0
        lock = threading.Lock()

        def client() -> None:
            nonlocal accepted
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                seconds, status, payload = post(base + "/api/v1/events/", key, body)
                with lock:
                    latencies.append(seconds)
                    if status == 200:
                        accepted += payload["accepted"]
                    else:
                        failures.append((status, payload))

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started

        replay_seconds, _, replay = post(base + "/api/v1/events/", key, payloads[2])
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{len(latencies)} requests of {args.batch} events from {args.clients} clients "
        f"in {elapsed:.1f} s: {accepted / elapsed:,.0f} events/s stored "
        f"({accepted} accepted, {len(failures)} failed requests)"
    )
    p50, p95 = quantiles[49] * 1000, quantiles[94] * 1000
    print(f"latency per request: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    print(
        f"replayed batch: {replay['accepted']} accepted, {len(replay['duplicates'])} duplicates "
        f"in {replay_seconds * 1000:.0f} ms"
    )
    for status, payload in failures[:3]:
        print(f"  failed: {status} {payload}")


if __name__ == "__main__":
    main()
