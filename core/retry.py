"""Running a transaction again from the start when a concurrent transaction made it fail.

Two failures are worth a second try because the next attempt sees the other transaction's
committed work and so does the right thing:

* a deadlock, which PostgreSQL breaks by failing one of the transactions (SQLSTATE 40P01);
  the victim was rolled back entirely, so running it again is safe;
* a `ConcurrentWriteError`, raised by a write that noticed it raced another transaction
  (`core.bulk.upsert_rows`: a row prepared as new was created meanwhile by someone else).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection, transaction

DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for a detected deadlock
ATTEMPTS = 5

P = ParamSpec("P")
R = TypeVar("R")


class ConcurrentWriteError(Exception):
    """A write lost a race with a concurrent transaction; rerunning the whole call fixes it."""


def is_deadlock(exc: BaseException) -> bool:
    """Whether `exc` is PostgreSQL failing this transaction to break a deadlock."""
    cause = exc.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return isinstance(exc, OperationalError) and code == DEADLOCK


def retry_on_deadlock(func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` in `transaction.atomic`, again (up to ATTEMPTS times) after a lost race.

    Outside any transaction each attempt is a transaction of its own, and a deadlock or a
    `ConcurrentWriteError` runs it again from the start. Inside a caller's transaction a
    deadlock is not retried: the caller's earlier statements and locks belong to the failed
    transaction, so only the caller can start over. A `ConcurrentWriteError` is still retried
    there, inside a savepoint: the rows of the other transaction are committed by then, and
    READ COMMITTED shows them to the next attempt's statements.
    """

    @functools.wraps(func)
    def attempt(*args: P.args, **kwargs: P.kwargs) -> R:
        outermost = not connection.in_atomic_block
        for number in range(1, ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except OperationalError as exc:
                if not (outermost and is_deadlock(exc)) or number == ATTEMPTS:
                    raise
            except ConcurrentWriteError:
                if number == ATTEMPTS:
                    raise
            # A short random pause, so that the transactions that collided do not meet again.
            time.sleep(random.uniform(0.01, 0.05) * number)
        raise AssertionError("unreachable")

    return attempt
