"""The video API as an integrator uses it: an upload URL in S3's shape, the file streamed to
it, transcode, then the status with signed URLs; scopes; clear errors."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from tests.learning.factories import LessonFactory
from tests.video.conftest import needs_ffmpeg
from video.models import LessonVideo
from video.services import storage

pytestmark = pytest.mark.django_db


def upload(client, lesson, content: bytes, name: str = "lesson.mp4"):
    answer = client.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/")
    assert answer.status_code == 200, answer.content
    target = answer.json()
    file = io.BytesIO(content)
    file.name = name
    response = Client().post(target["url"], data={**target["fields"], "file": file})
    return target, response


@needs_ffmpeg
def test_upload_then_transcode_then_read_the_ready_video(
    make_key, clips, eager, django_capture_on_commit_callbacks
):
    lesson = LessonFactory()
    writer = make_key("courses:write")
    content = clips["720p"].read_bytes()
    target, response = upload(writer, lesson, content)

    assert set(target) == {"url", "fields"}
    assert target["url"].startswith("http://testserver/video/upload/")
    assert target["fields"]["key"].startswith("videos/") and "file" not in target["fields"]
    assert response.status_code == 204
    video = LessonVideo.objects.get(lesson=lesson)
    assert storage.absolute(video.source_path).read_bytes() == content  # stored as sent
    assert video.status == "uploading"

    with django_capture_on_commit_callbacks(execute=True):
        answer = writer.post(f"/api/v1/lessons/{lesson.external_id}/video/transcode/")
    assert answer.status_code == 202
    assert answer.json()["status"] == "processing"  # as the worker found it when queued

    reader = make_key("courses:read")
    body = reader.get(f"/api/v1/lessons/{lesson.external_id}/video/").json()
    assert body["status"] == "ready" and body["progress"] == 100
    assert body["duration_seconds"] == pytest.approx(3, abs=0.1)
    assert [r["name"] for r in body["renditions"]] == ["720p", "480p"]
    assert body["hls_url"].startswith("http://testserver/video/hls/")
    assert body["hls_url"].endswith("/master.m3u8")
    assert body["thumbnail_url"].endswith("/poster.jpg")

    # An integrator's URL is a bearer URL: it plays for whoever holds it, briefly.
    playlist = Client().get(body["hls_url"])
    assert playlist.status_code == 200
    assert playlist["Content-Type"] == "application/vnd.apple.mpegurl"
    assert b"720p/index.m3u8" in b"".join(playlist.streaming_content)


def test_an_upload_over_the_limit_is_refused_with_413_and_leaves_nothing(make_key, settings):
    settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES = 10_000
    lesson = LessonFactory()
    writer = make_key("courses:write")

    _, response = upload(writer, lesson, b"x" * 50_000)  # read in chunks, stopped past the limit
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_large"
    assert body["fields"]["file"] == ["The file is larger than the limit of 10,000 bytes."]
    video = LessonVideo.objects.get(lesson=lesson)
    assert not storage.upload_folder(video.upload_id).exists() or not any(
        storage.upload_folder(video.upload_id).iterdir()
    )
    assert video.source_path == ""

    _, response = upload(writer, lesson, b"x" * (2 * 2**20))  # refused by its Content-Length
    assert response.status_code == 413


def test_an_upload_url_that_expired_or_was_tampered_with_is_refused(make_key, settings):
    lesson = LessonFactory()
    writer = make_key("courses:write")
    target = writer.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/").json()

    tampered = target["url"].replace("/upload/", "/upload/x")
    response = Client().post(tampered, data={"file": io.BytesIO(b"video")})
    assert response.status_code == 403
    assert response.json()["fields"]["token"] == ["This upload URL is not valid."]

    settings.STRIDE_VIDEO_UPLOAD_URL_SECONDS = -1
    response = Client().post(target["url"], data={"file": io.BytesIO(b"video")})
    assert response.status_code == 403
    assert response.json()["code"] == "expired"


def test_a_replaced_upload_url_no_longer_takes_a_file(make_key):
    lesson = LessonFactory()
    writer = make_key("courses:write")
    first = writer.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/").json()
    writer.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/")

    response = Client().post(first["url"], data={"file": io.BytesIO(b"old video")})
    assert response.status_code == 410
    assert response.json()["fields"]["token"] == ["This upload was replaced by a newer one."]


def test_a_form_without_the_file_field_is_400_naming_it(make_key):
    lesson = LessonFactory()
    target = (
        make_key("courses:write").post(f"/api/v1/lessons/{lesson.external_id}/video/upload/").json()
    )
    response = Client().post(target["url"], data={"video": io.BytesIO(b"x")})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["file"]


def test_transcode_before_any_file_is_400_naming_the_file(make_key):
    lesson = LessonFactory()
    writer = make_key("courses:write")
    writer.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/")
    response = writer.post(f"/api/v1/lessons/{lesson.external_id}/video/transcode/")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "file": ["No file has been uploaded yet: POST it to the upload URL first."]
    }


def test_scopes_read_and_write(make_key):
    lesson = LessonFactory()
    reader = make_key("courses:read")
    assert reader.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/").status_code == 403
    assert (
        make_key("events:write").get(f"/api/v1/lessons/{lesson.external_id}/video/").status_code
        == 403
    )
    # A lesson without a video, and an unknown lesson, are 404s that say which.
    missing = reader.get(f"/api/v1/lessons/{lesson.external_id}/video/")
    assert missing.status_code == 404
    assert "no video" in missing.json()["detail"]
    assert reader.get("/api/v1/lessons/nope/video/").status_code == 404
    assert make_key("courses:write").post("/api/v1/lessons/nope/video/upload/").status_code == 404


def test_the_schema_documents_the_video_endpoints(staff_client):
    schema = staff_client.get("/api/schema/?format=json").json()
    for path in ("", "upload/", "transcode/", "analytics/"):
        assert f"/api/v1/lessons/{{external_id}}/video/{path}" in schema["paths"]
