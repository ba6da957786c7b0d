"""Project middleware: an unreachable database answers 503, not a 500 after a long wait."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.errorviews import DATABASE_UNAVAILABLE, database_unavailable

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """Turn a database that does not answer into a 503: JSON on the API, a page on the site.

    The connect and statement timeouts (settings) make the failure come quickly; this makes
    it a clear "try again shortly" instead of a server error. Errors raised outside views
    (middleware, error pages) reach core.errorviews.server_error, which does the same.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        # The driver's message names hosts and ports: it goes to the log, never to the client.
        logger.error("database unavailable for %s", request.path, exc_info=exception)
        return database_unavailable(request)
