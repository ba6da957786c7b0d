"""`GET /healthz`: is the database answering, is the broker reachable.

Each part is "ok" or "unavailable", nothing more: the reason (a driver error naming hosts and
ports) is logged for operators and never shown to callers, who are anonymous. The database
check gives up after DB_CONNECT_TIMEOUT / DB_STATEMENT_TIMEOUT (settings), so a database that
accepts connections but never answers makes this a quick 503 rather than a hung request.
"""

import logging

from celery import current_app as celery_app  # config.celery, set as current at start-up
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

OK, UNAVAILABLE = "ok", "unavailable"


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any driver error means "down"; the log says which
        logger.warning("health check: the database does not answer", exc_info=True)
        return False
    return True


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:  # kombu raises transport-specific errors
        logger.warning("health check: the broker does not answer", exc_info=True)
        return False
    return True


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with each part "ok" when everything answers, 503 marking what does not."""
    parts = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(parts.values())
    return JsonResponse(
        {
            "status": OK if healthy else UNAVAILABLE,
            **{name: OK if up else UNAVAILABLE for name, up in parts.items()},
        },
        status=200 if healthy else 503,
    )
