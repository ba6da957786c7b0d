"""Celery entry points for accounts."""

from celery import shared_task

from accounts.services import sessions_clear_expired


@shared_task(name="accounts.clear_expired_sessions")
def clear_expired_sessions() -> int:
    """Delete expired login sessions; return how many went."""
    return sessions_clear_expired()
