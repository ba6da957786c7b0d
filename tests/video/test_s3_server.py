"""MediaConvert mode's upload against a real S3 endpoint over HTTP: moto's server
(ThreadedMotoServer, `moto[server]`) on a local port, reached by the project's own boto3
client through AWS_S3_ENDPOINT_URL, and the integrator's POST sent by `requests` as any
client would send it.

moto's server stores what a presigned POST sends but does not enforce the policy's conditions
(size range, content type): those are checked here in the signed policy document, and S3
itself enforces them in production.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime

import boto3
import pytest
import requests
from django.utils import timezone

from tests.learning.factories import LessonFactory
from video.models import LessonVideo, TranscodeJob

pytest.importorskip("flask", reason="moto's S3 server needs moto[server] (Flask)")
from moto.server import ThreadedMotoServer

pytestmark = pytest.mark.django_db
BUCKET = "stride-media"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@pytest.fixture(scope="module")
def s3_endpoint():
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("s3", region_name="eu-west-1", endpoint_url=endpoint).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def s3(settings, monkeypatch, s3_endpoint):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    settings.STRIDE_VIDEO_BACKEND = "mediaconvert"
    settings.STRIDE_VIDEO_S3_BUCKET = BUCKET
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "eu-west-1"
    return boto3.client("s3", region_name="eu-west-1", endpoint_url=s3_endpoint)


def test_an_integrator_posts_the_file_to_s3_and_the_transcode_finds_it(s3, s3_endpoint, make_key):
    api = make_key("courses:write")
    lesson = LessonFactory()
    target = api.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/").json()
    assert target["url"] == f"{s3_endpoint}/{BUCKET}"
    video = LessonVideo.objects.get(lesson=lesson)
    key = f"videos/{video.upload_id}/source"
    assert target["fields"]["key"] == key

    content = os.urandom(50_000)
    response = requests.post(
        target["url"],
        data={**target["fields"], "Content-Type": "video/mp4"},
        files={"file": ("talk.mp4", content)},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == content

    answer = api.post(f"/api/v1/lessons/{lesson.external_id}/video/transcode/")
    assert answer.status_code == 202 and answer.json()["status"] == "processing"
    video.refresh_from_db()
    assert (video.source_path, video.source_size) == (key, len(content))
    assert TranscodeJob.objects.get(upload_id=video.upload_id).backend == "mediaconvert"


def test_transcoding_before_the_file_is_in_s3_is_a_400_naming_the_file(s3, make_key):
    api = make_key("courses:write")
    lesson = LessonFactory()
    api.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/")

    answer = api.post(f"/api/v1/lessons/{lesson.external_id}/video/transcode/")

    assert answer.status_code == 400
    assert answer.json()["fields"] == {
        "file": ["No file has been uploaded yet: POST it to the upload URL first."]
    }
    assert not TranscodeJob.objects.exists()


def test_the_signed_policy_carries_the_limits_and_the_expiry(s3, make_key, settings):
    settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES = 123_456
    settings.STRIDE_VIDEO_UPLOAD_URL_SECONDS = 900
    lesson = LessonFactory()
    issued = timezone.now()
    target = (
        make_key("courses:write").post(f"/api/v1/lessons/{lesson.external_id}/video/upload/").json()
    )
    policy = json.loads(base64.b64decode(target["fields"]["policy"]))

    assert ["content-length-range", 1, 123_456] in policy["conditions"]
    assert ["starts-with", "$Content-Type", "video/"] in policy["conditions"]
    assert {"key": target["fields"]["key"]} in policy["conditions"]
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((expiration - issued).total_seconds() - 900) < 5
