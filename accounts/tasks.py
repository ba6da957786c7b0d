"""Celery entry points for accounts."""

from celery import shared_task

from accounts.services import (
    sessions_clear_expired,
    sign_in_links_delete_spent,
    throttle_counters_delete_stale,
)


@shared_task(name="accounts.clear_expired_sessions")
def clear_expired_sessions() -> int:
    """Delete expired login sessions; return how many went."""
    return sessions_clear_expired()


@shared_task(name="accounts.delete_spent_rows")
def delete_spent_rows() -> dict[str, int]:
    """Delete spent sign-in links and ended throttle windows; return how many of each went."""
    return {
        "sign_in_links": sign_in_links_delete_spent(),
        "throttle_counters": throttle_counters_delete_stale(),
    }
