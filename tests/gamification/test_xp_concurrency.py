"""Concurrent awards for one learner: real threads, each on its own PostgreSQL connection,
released together by a barrier so that the awards overlap in the database."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from gamification.models import LearnerGameProfile, XpRefusal, XpTransaction
from gamification.services.xp import XpAwardResult, xp_award
from tests.accounts.factories import UserFactory
from tests.gamification.factories import XpActionFactory, install_defaults
from tests.locks import needs_postgresql

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50


def in_threads(count: int, call: Callable[[int], Any]) -> list[Any]:
    """Run call(0..count-1) in `count` threads released together; results (or errors) in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call(index)
        except Exception as exc:  # asserted on below: an error must not hide in a thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def ledger_sum(user) -> int:
    return sum(XpTransaction.objects.filter(user=user).values_list("amount", flat=True))


def test_50_concurrent_awards_with_distinct_keys_end_at_the_exact_sum():
    needs_postgresql()
    install_defaults()
    action = XpActionFactory(amount=7)
    user = UserFactory()  # no profile yet: the awards race to create it too

    results = in_threads(
        THREADS,
        lambda i: xp_award(
            user_id=user.pk, action_code=action.code, reference=f"r{i}", idempotency_key=f"k{i}"
        ),
    )

    assert all(isinstance(r, XpAwardResult) for r in results), results
    assert [r.awarded for r in results] == [7] * THREADS
    assert LearnerGameProfile.objects.get(user=user).total_xp == 7 * THREADS == ledger_sum(user)
    # Serialised per learner: every award saw the one before it, so the balances are 7..350.
    assert sorted(r.total_xp for r in results) == [7 * n for n in range(1, THREADS + 1)]


def test_50_concurrent_replays_of_one_key_pay_once_and_answer_alike():
    needs_postgresql()
    install_defaults()
    action = XpActionFactory(amount=40)
    user = UserFactory()

    results = in_threads(
        THREADS,
        lambda i: xp_award(user_id=user.pk, action_code=action.code, idempotency_key="once"),
    )

    assert all(isinstance(r, XpAwardResult) for r in results), results
    assert XpTransaction.objects.filter(user=user).count() == 1
    assert LearnerGameProfile.objects.get(user=user).total_xp == 40
    assert {(r.awarded, r.total_xp, r.level) for r in results} == {(40, 40, 1)}
    assert Counter(r.replayed for r in results) == {True: THREADS - 1, False: 1}


def test_concurrent_awards_cannot_race_past_the_burst_limit_or_the_daily_cap():
    needs_postgresql()
    install_defaults()
    bursty = XpActionFactory(amount=5, burst_limit=10, burst_window_seconds=60)
    capped = XpActionFactory(amount=3, daily_cap=4)
    user = UserFactory()

    results = in_threads(
        THREADS,
        lambda i: xp_award(
            user_id=user.pk,
            action_code=(bursty if i % 2 else capped).code,
            reference=f"r{i}",
            idempotency_key=f"k{i}",
        ),
    )

    assert all(isinstance(r, XpAwardResult) for r in results), results
    paid = Counter(XpTransaction.objects.filter(user=user).values_list("action__code", flat=True))
    assert paid == {bursty.code: 10, capped.code: 4}
    assert Counter(XpRefusal.objects.filter(user=user).values_list("reason", flat=True)) == {
        "burst": 25 - 10,
        "daily_cap": 25 - 4,
    }
    assert LearnerGameProfile.objects.get(user=user).total_xp == 10 * 5 + 4 * 3
