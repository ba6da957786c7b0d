"""Watching PostgreSQL lock waits, so that a concurrency test can line real transactions up.

A test that needs transaction B to be waiting on transaction A before A's next statement
(to make a real deadlock, or a real race past a check) asks PostgreSQL, instead of sleeping
and hoping: `pg_locks` shows a backend's lock requests that have not been granted.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection


def needs_postgresql() -> None:
    """Skip on SQLite, whose writers take the database's one write lock at BEGIN (transaction
    mode IMMEDIATE) and so queue up: they never deadlock or race past each other's checks."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs concurrent writers one after the other")


def backend_pid() -> int:
    """The server process of this thread's connection (opening it if need be)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def wait_until_blocked(pid: int, *, timeout: float = 20.0) -> None:
    """Return once backend `pid` waits for a lock that another transaction holds.

    Call it from a thread other than the one that blocks, outside any transaction.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid]
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.005)
    raise AssertionError(f"backend {pid} did not block on a lock within {timeout} s")
