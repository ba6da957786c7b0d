"""The collector in front of Django (config.wsgi, what gunicorn serves): heartbeats stored in
one statement with the one error shape, everything else passed on to Django."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.db import connection

from config.wsgi import application
from tests.accounts.factories import UserFactory
from tests.learning.factories import LessonFactory
from tests.video.factories import video_ready
from video.models import ReceivedHeartbeat, WatchSession
from video.services.watching import heartbeat_token
from video.tasks import process_heartbeats

# The collector commits on its own connection, as under gunicorn: no test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def call(path: str, *, method: str = "POST", body: bytes = b"", **headers: str):
    environ: dict = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(body),
        **{f"HTTP_{k.upper()}": v for k, v in headers.items()},
    }
    setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status: str, response_headers: list) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    content = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], content


def beat(seq: int, **extra) -> bytes:
    return json.dumps({"seq": seq, "start": 0, "end": 4, "position": 4, **extra}).encode()


def test_a_heartbeat_is_stored_and_applied_by_the_worker():
    video = video_ready(LessonFactory(), duration=10)
    learner = UserFactory()
    token = heartbeat_token(video=video, user=learner, view_id="view-1")

    status, headers, content = call("/video/heartbeats/", body=beat(0), x_heartbeat_token=token)

    assert (status, json.loads(content)) == (200, {"stored": True})
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    assert call("/video/heartbeats/", body=beat(0), x_heartbeat_token=token)[2] == (
        b'{"stored": false}'
    )
    assert ReceivedHeartbeat.objects.get().user == learner
    if connection.vendor == "postgresql":
        # The heartbeat's INSERT does not wait for the WAL flush; nothing else on the worker's
        # connection may inherit that.
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)
    assert process_heartbeats() == 1
    session = WatchSession.objects.get()
    assert (session.user, session.view_id, session.covered_buckets) == (learner, "view-1", 4)


def test_bad_requests_get_the_one_error_shape():
    video = video_ready(LessonFactory(), duration=10)
    token = heartbeat_token(video=video, user=UserFactory())

    status, _, content = call("/video/heartbeats/", body=beat(0, speed=9), x_heartbeat_token=token)
    assert status == 400
    body = json.loads(content)
    assert body["code"] == "invalid" and set(body["fields"]) == {"speed"}

    status, _, content = call("/video/heartbeats/", body=beat(0))
    assert status == 403 and json.loads(content)["fields"] == {
        "token": ["Send the player's heartbeat token."]
    }
    status, headers, _ = call("/video/heartbeats/", method="GET", x_heartbeat_token=token)
    assert status == 405 and headers["Allow"] == "POST"
    big = json.dumps({"seq": 0, "pad": "x" * 5000}).encode()
    assert call("/video/heartbeats/", body=big, x_heartbeat_token=token)[0] == 413
    assert not ReceivedHeartbeat.objects.exists()


def test_every_other_path_is_django():
    status, _, content = call("/healthz", method="GET")
    assert status == 200 and b"ok" in content.lower()
    status, _, _ = call("/video/heartbeats/extra/", body=beat(0))
    assert status == 404
