"""The heartbeat collector: POST /video/heartbeats/ answered outside Django's request cycle.

Every viewer sends a heartbeat every ten seconds, so this is the one request whose cost sets
how many viewers a worker serves. The player's credential is the signed heartbeat token in the
`X-Heartbeat-Token` header (not a cookie, so there is nothing to forge across sites and no
session to load), and taking a heartbeat is one INSERT (`heartbeat_accept`). `with_collector`
wraps the WSGI application (config/wsgi.py, which gunicorn and runserver serve) so that this
path skips the middleware, URL resolution and response machinery, some two thirds of the
request's time; `heartbeat_collect` is the same endpoint as a Django view, for every other way
of serving Stride (ASGI, the test client, the live test server).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django import db
from django.core import signals
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.api import error_body
from core.errors import DomainValidationError
from video.services.watching import HeartbeatRefused, heartbeat_accept

PATH = "/video/heartbeats/"
MAX_BODY = 4096  # a heartbeat is about 200 bytes
TOKEN_HEADER = "HTTP_X_HEARTBEAT_TOKEN"
STATUS_TEXT = {
    200: "200 OK",
    400: "400 Bad Request",
    403: "403 Forbidden",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    503: "503 Service Unavailable",
}


def collect(*, method: str, token: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
    """The status and JSON answer to one heartbeat request (`body` None: too large)."""
    if method != "POST":
        return 405, error_body("method_not_allowed", "Send heartbeats with POST.")
    if body is None:
        return 413, error_body("too_large", f"A heartbeat is at most {MAX_BODY:,} bytes.")
    try:
        stored = heartbeat_accept(token=token, body=body)
    except HeartbeatRefused as refused:
        return 403, error_body("forbidden", str(refused), {"token": [str(refused)]})
    except DomainValidationError as error:
        return 400, error_body(error.code, error.summary(), error.fields)
    except db.Error:
        return 503, error_body("unavailable", "Heartbeats cannot be stored now; send it again.")
    return 200, {"stored": stored}


StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


def with_collector(application: WSGIApp) -> WSGIApp:
    """`application`, with POST /video/heartbeats/ answered by the collector."""

    def app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return application(environ, start_response)
        # Django's own bookends of a request (they close a stale or broken connection).
        signals.request_started.send(sender=with_collector, environ=environ)
        try:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            body = environ["wsgi.input"].read(length) if 0 <= length <= MAX_BODY else None
            status, payload = collect(
                method=environ.get("REQUEST_METHOD", ""),
                token=environ.get(TOKEN_HEADER, ""),
                body=body,
            )
        finally:
            signals.request_finished.send(sender=with_collector)
        data = json.dumps(payload).encode()
        start_response(
            STATUS_TEXT[status],
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
                *([("Allow", "POST")] if status == 405 else []),
            ],
        )
        return [data]

    return app


@csrf_exempt  # the credential is the token in a header, which another site cannot send
def heartbeat_collect(request: HttpRequest) -> JsonResponse:
    """POST /video/heartbeats/ when Stride is not served through config.wsgi."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    status, payload = collect(
        method=request.method or "",
        token=request.META.get(TOKEN_HEADER, ""),
        body=request.body if length <= MAX_BODY else None,
    )
    response = JsonResponse(payload, status=status)
    response["Cache-Control"] = "no-store"
    if status == 405:
        response["Allow"] = "POST"
    return response
