"""Concurrent integrators: bulk upserts, PUTs of the same new row, and the rate limit.

Each test sends real requests from real threads, each thread on its own database connection,
released together by a barrier so that the requests overlap in the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import users_upsert
from learning.models import Course, Enrollment
from tests.accounts.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite takes its write lock at BEGIN (transaction_mode IMMEDIATE), so concurrent "
            "writers run one after the other and cannot deadlock or race; PostgreSQL can."
        )


def key_client(scopes: list[str] | None = None) -> APIClient:
    key = ApiKeyFactory(scopes=scopes or ["*"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw_key}")
    return client


def in_threads(count: int, send: Callable[[int], Any]) -> list[Any]:
    """Run send(0..count-1) in `count` threads released together; results (or errors) in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = send(index)
        except Exception as exc:  # the test asserts on it: a 500 would surface here
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def statuses(results: list[Any]) -> list[Any]:
    return [getattr(r, "status_code", repr(r)) for r in results]


# --- bulk upserts of overlapping rows ---------------------------------------------------------


def user_items(count: int) -> list[dict[str, str]]:
    return [
        {"external_id": f"u{i:04d}", "email": f"u{i:04d}@example.com", "first_name": f"U{i}"}
        for i in range(count)
    ]


def test_concurrent_overlapping_bulk_user_upserts_all_succeed_and_count_each_user_once():
    needs_postgresql()
    client = key_client()
    items = user_items(400)
    # Half the users exist already, so that both row locks (updates) and unique-index waits
    # (inserts) are taken; every request overlaps every other, half of them in reverse order.
    users_upsert(items=items[::2])

    def send(index: int) -> Any:
        chunk = items[(index % 4) * 25 : (index % 4) * 25 + 300]
        body = {"items": chunk if index % 2 else chunk[::-1]}
        return client.post("/api/v1/users/bulk/", body, format="json")

    results = in_threads(THREADS, send)

    assert statuses(results) == [200] * THREADS
    # Items 0-374 were sent; the odd ones (187) were new, and each new user is reported as
    # created by exactly one of the requests.
    assert sum(r.json()["created"] for r in results) == 187
    assert User.objects.filter(external_id__startswith="u").count() == 200 + 187


def test_concurrent_overlapping_bulk_enrollment_upserts_all_succeed():
    needs_postgresql()
    client = key_client()
    users_upsert(items=user_items(60))
    course_items = [{"external_id": f"c{i}", "title": f"Course {i}"} for i in range(5)]
    response = client.post("/api/v1/courses/bulk/", {"items": course_items}, format="json")
    assert response.status_code == 200
    pairs = [
        {"user": f"u{u:04d}", "course": f"c{c}", "status": "active"}
        for u in range(60)
        for c in range(5)
    ]

    def send(index: int) -> Any:
        body = {"items": pairs if index % 2 else pairs[::-1]}
        return client.post("/api/v1/enrollments/bulk/", body, format="json")

    results = in_threads(THREADS, send)

    assert statuses(results) == [200] * THREADS
    assert sum(r.json()["created"] for r in results) == 300
    assert Enrollment.objects.count() == 300


def test_concurrent_overlapping_bulk_course_upserts_all_succeed():
    needs_postgresql()
    client = key_client()
    items = [{"external_id": f"c{i:03d}", "title": f"Course {i}"} for i in range(300)]

    def send(index: int) -> Any:
        return client.post(
            "/api/v1/courses/bulk/", {"items": items if index % 2 else items[::-1]}, format="json"
        )

    results = in_threads(THREADS, send)

    assert statuses(results) == [200] * THREADS
    assert sum(r.json()["created"] for r in results) == 300
    assert Course.objects.count() == 300


# --- the same new row from many clients at once ------------------------------------------------


def test_concurrent_puts_of_the_same_new_user_tell_exactly_one_client_it_was_created():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "The in-memory SQLite test database fails concurrent writers with 'table is "
            "locked' instead of making them wait as a SQLite file does (there, transaction "
            "mode IMMEDIATE runs the upserts one after the other)."
        )
    client = key_client()
    results = in_threads(
        THREADS,
        lambda index: client.put(
            "/api/v1/users/lms-new/", {"email": "new@example.com"}, format="json"
        ),
    )

    assert sorted(statuses(results)) == [200] * (THREADS - 1) + [201]
    assert User.objects.filter(external_id="lms-new").count() == 1


def test_an_email_taken_by_a_concurrent_request_is_the_items_400_not_a_500():
    needs_postgresql()
    client = key_client()
    taken = threading.Event()

    def first() -> None:
        # Another request takes the email and commits only after ours has checked it.
        with transaction.atomic():
            users_upsert(items=[{"external_id": "first", "email": "shared@example.com"}])
            taken.set()
            time.sleep(1)

    def second() -> Any:
        taken.wait()
        items = [
            {"external_id": "second", "email": "shared@example.com"},
            {"external_id": "third", "email": "third@example.com"},
        ]
        return client.post("/api/v1/users/bulk/", {"items": items}, format="json")

    results = in_threads(2, lambda index: second() if index else first())

    response = results[1]
    assert getattr(response, "status_code", response) == 400
    assert response.json()["fields"] == {
        "items": {"0": {"email": ["Another user already has this email address."]}}
    }
    # All or nothing: the valid item of the refused batch was not written either.
    assert list(
        User.objects.filter(external_id__in=["first", "second", "third"]).values_list(
            "external_id", flat=True
        )
    ) == ["first"]


# --- the rate limit under concurrent requests --------------------------------------------------


def budget_test(settings) -> list[int]:
    """20 threads send 3 requests each with one key at 20/min; return every status."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "20/min"},
    }
    client = key_client()
    # One request first: it records the key's use (a write, at most once a minute), so that
    # the threads only read.
    first = client.get("/api/v1/users/").status_code

    def send(index: int) -> list[int]:
        return [client.get("/api/v1/users/").status_code for _ in range(3)]

    return [first, *(code for codes in in_threads(THREADS, send) for code in codes)]


def test_concurrent_requests_of_one_key_get_exactly_its_budget_through(settings):
    codes = budget_test(settings)

    assert codes.count(200) == 20
    assert codes.count(429) == 3 * THREADS + 1 - 20


def test_with_the_database_cache_concurrent_requests_get_exactly_the_budget(settings):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "The in-memory SQLite test database fails concurrent writers with 'table is "
            "locked' instead of making them wait as a SQLite file does."
        )
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "stride_cache",
        }
    }
    codes = budget_test(settings)

    assert codes.count(200) == 20
    assert codes.count(429) == 3 * THREADS + 1 - 20
