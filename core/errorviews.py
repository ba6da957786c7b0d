"""Error answers outside the API views' own handler: JSON for the API, styled pages elsewhere.

Django calls these for what never reaches a DRF view or escapes it (config.urls wires them):
an unknown path, an exception in a view or a middleware, a request Django itself refuses.
Under /api/ every answer is the one error shape of core.api (`{"code", "detail", "fields"}`),
never HTML and never a traceback; the site gets templates that extend base.html.

The 500 and 503 pages are rendered without the request: building its context would read the
session and the user, which is exactly what fails when the database is down.
"""

from __future__ import annotations

import logging
import sys

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

from core.api import error_body, too_large_body

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Database errors that mean "not reachable now" (refused, timed out, dropped, cancelled by the
# statement timeout, locked): the client should retry later, nothing is wrong with its request.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def is_api(request: HttpRequest) -> bool:
    """Whether the request is for the API (JSON answers) rather than the site (pages)."""
    return request.path_info.startswith(API_PREFIX)


def _api_error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(code, detail), status=status)


def _page_without_request(template_name: str, status: int) -> HttpResponse:
    try:
        body = loader.get_template(template_name).render()
    except Exception:  # a broken template must not hide the original error
        logger.exception("cannot render %s", template_name)
        body = "<h1>Stride is having trouble</h1><p>Please try again in a minute.</p>"
    return HttpResponse(body, status=status)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503: the database did not answer; JSON `unavailable` for the API, a page for the site."""
    if is_api(request):
        response: HttpResponse = _api_error(
            503, "unavailable", "The service is temporarily unavailable; try again shortly."
        )
    else:
        response = _page_without_request("503.html", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 for requests Django refuses (bad hosts, ...); 413 for bodies over the upload limit."""
    if not is_api(request):
        # Without the request: it may be the very thing that is wrong (a disallowed host).
        return _page_without_request("400.html", 400)
    if isinstance(exception, RequestDataTooBig):  # read outside a DRF view
        return JsonResponse(too_large_body(), status=413)
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return _api_error(400, "too_large", "The request has too many fields or files.")
    return _api_error(400, "bad_request", "The request is malformed.")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403 for a PermissionDenied raised outside the API views (e.g. staff-only pages)."""
    if is_api(request):
        return _api_error(
            403, "permission_denied", "You do not have permission to perform this action."
        )
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for unknown paths: under /api/ it points at the index of the API's resources."""
    if is_api(request):
        return _api_error(
            404,
            "not_found",
            f"There is no API endpoint at {request.path}. GET /api/v1/ lists the API's resources.",
        )
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 for an unhandled exception (503 when it was the database failing), never a trace."""
    exception = sys.exc_info()[1]  # Django calls this handler while handling the exception
    if isinstance(exception, DATABASE_UNAVAILABLE):
        return database_unavailable(request)
    if is_api(request):
        return _api_error(
            500, "server_error", "Something went wrong on our side; it has been logged."
        )
    return _page_without_request("500.html", 500)
