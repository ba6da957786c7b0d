"""Rate limits per API key (and per user for browser sessions).

DRF's SimpleRateThrottle keeps a list of request times in the cache and reads, appends to and
writes it back: concurrent requests all read the same list and all get through (10 clients
passed 1,888 requests in 6 s at 1,200/min). Here every request adds one to an atomic counter
per window instead: `cache.add` + `cache.incr` on Redis (INCR is atomic) and on the in-memory
cache (under its lock, and private to one process anyway), one INSERT ... ON CONFLICT DO
UPDATE of a ThrottleCounter row when the cache is the database cache, whose `incr` is not
atomic. A window starts at a key's first request and lasts the rate's period; a request past
the budget gets 429 with `Retry-After` saying when the window ends.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.db import connection
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey, ThrottleCounter

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

# A window's counter outlives the window's start key a little, so that a request that read the
# start just before it expired still finds its counter (Redis INCR of a missing key would
# create one that never expires).
COUNTER_GRACE_SECONDS = 10


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Throttle each key on its own budget (rate `api_key`), sessions per user, others per IP."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read at each request rather than once at import (DRF's THROTTLE_RATES), so that the
        # rate follows the settings (API_THROTTLE_RATE, or a test's override).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        cache = caches["default"]
        if isinstance(cache, DatabaseCache):
            hits, started = _count_in_database(self.key, now=now, duration=self.duration)
        else:
            hits, started = _count_in_cache(cache, self.key, now=now, duration=self.duration)
        self.retry_after = max(1, math.ceil(started + self.duration - now))
        return hits <= self.num_requests

    def wait(self) -> float:
        """Seconds until the current window ends (the 429's Retry-After)."""
        return self.retry_after


def _count_in_cache(cache: BaseCache, key: str, *, now: float, duration: int) -> tuple[int, float]:
    """Count one request in `key`'s window; return the window's count and start."""
    start_key = f"{key}:start"
    # Only the first request of a window succeeds in adding its start; the others read it.
    started = now if cache.add(start_key, now, duration) else cache.get(start_key, now)
    counter_key = f"{key}:{started!r}"
    cache.add(counter_key, 0, duration + COUNTER_GRACE_SECONDS)
    try:
        return cache.incr(counter_key), started
    except ValueError:  # the counter expired between add and incr: this request opens anew
        cache.add(counter_key, 0, duration + COUNTER_GRACE_SECONDS)
        return cache.incr(counter_key), started


def _count_in_database(key: str, *, now: float, duration: int) -> tuple[int, float]:
    """Count one request in `key`'s window with one atomic upsert; return count and start.

    Runs in autocommit (API views are not atomic), so the row lock lasts one statement.
    """
    qn = connection.ops.quote_name
    table = qn(ThrottleCounter._meta.db_table)
    key_col, started_col, hits_col = (qn(name) for name in ("key", "window_started", "hits"))
    current = f"{table}.{started_col} > %s"  # the stored window has not ended yet
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key_col}, {started_col}, {hits_col}) VALUES (%s, %s, 1) "
            f"ON CONFLICT ({key_col}) DO UPDATE SET "
            f"{hits_col} = CASE WHEN {current} THEN {table}.{hits_col} + 1 ELSE 1 END, "
            f"{started_col} = CASE WHEN {current} THEN {table}.{started_col} "
            f"ELSE excluded.{started_col} END "
            f"RETURNING {hits_col}, {started_col}",
            [key, now, now - duration, now - duration],
        )
        hits, started = cursor.fetchone()
    return hits, started
