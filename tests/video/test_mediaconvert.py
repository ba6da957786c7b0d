"""The production mode at its transport: uploads by presigned S3 POST (moto's S3 in-process
mock here; test_s3_server.py sends them to moto's S3 server over HTTP) and MediaConvert job
creation and polling through botocore's Stubber (moto has no MediaConvert)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
import requests
from botocore.stub import ANY, Stubber
from moto import mock_aws

from tests.learning.factories import LessonFactory
from video import mediaconvert
from video.models import LessonVideo, TranscodeJob
from video.services.mediaconvert import mediaconvert_jobs_poll
from video.services.transcoding import transcode_job_run, video_transcode_request

pytestmark = pytest.mark.django_db
ROLE = "arn:aws:iam::123456789012:role/MediaConvert"
QUEUE = "arn:aws:mediaconvert:eu-west-1:123456789012:queues/Default"


@pytest.fixture
def stub(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.STRIDE_VIDEO_BACKEND = "mediaconvert"
    settings.STRIDE_MEDIACONVERT_ROLE_ARN = ROLE
    settings.STRIDE_MEDIACONVERT_QUEUE_ARN = QUEUE
    settings.STRIDE_VIDEO_S3_BUCKET = "stride-media"
    settings.STRIDE_MEDIACONVERT_ENDPOINT_URL = "https://abcd.mediaconvert.eu-west-1.amazonaws.com"
    settings.AWS_S3_REGION_NAME = "eu-west-1"
    mock = mock_aws()
    mock.start()
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="stride-media", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    client = mediaconvert.client(
        region=settings.STRIDE_MEDIACONVERT_REGION,
        endpoint_url=settings.STRIDE_MEDIACONVERT_ENDPOINT_URL,
    )
    try:
        with Stubber(client) as stubber:
            yield stubber
            stubber.assert_no_pending_responses()
    finally:
        mock.stop()


def uploaded(make_key, content: bytes = b"uploaded video"):
    """A lesson whose video an integrator POSTed to S3 with the presigned POST it was given."""
    lesson = LessonFactory()
    target = (
        make_key("courses:write").post(f"/api/v1/lessons/{lesson.external_id}/video/upload/").json()
    )
    response = requests.post(
        target["url"],
        data={**target["fields"], "Content-Type": "video/mp4"},
        files={"file": ("talk.mp4", content)},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    return LessonVideo.objects.get(lesson=lesson), target


def job(state: str, **extra) -> dict:
    return {"Job": {"Id": "1700000000000-abc123", "Role": ROLE, "Settings": {}, "Status": state,
                    **extra}}  # fmt: skip


def test_the_upload_url_is_a_presigned_s3_post_with_the_limits_in_its_policy(
    stub, make_key, settings
):
    settings.STRIDE_VIDEO_MAX_UPLOAD_BYTES = 10_000
    video, target = uploaded(make_key)
    assert target["url"] == "https://stride-media.s3.amazonaws.com/"
    assert target["fields"]["key"] == f"videos/{video.upload_id}/source"
    policy = json.loads(base64.b64decode(target["fields"]["policy"]))
    assert ["content-length-range", 1, 10_000] in policy["conditions"]
    assert ["starts-with", "$Content-Type", "video/"] in policy["conditions"]
    stored = boto3.client("s3", region_name="eu-west-1").get_object(
        Bucket="stride-media", Key=f"videos/{video.upload_id}/source"
    )
    assert stored["Body"].read() == b"uploaded video"


def test_transcode_before_the_file_reached_s3_is_400_naming_the_file(stub, make_key):
    lesson = LessonFactory()
    writer = make_key("courses:write")
    writer.post(f"/api/v1/lessons/{lesson.external_id}/video/upload/")
    response = writer.post(f"/api/v1/lessons/{lesson.external_id}/video/transcode/")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["file"]


def test_a_job_is_created_with_the_ladder_then_polled_to_ready(stub, make_key):
    video, _ = uploaded(make_key)
    request = video_transcode_request(video=video)
    video.refresh_from_db()
    assert video.source_size == len(b"uploaded video")
    upload = str(video.upload_id)
    expected = {
        "Role": ROLE,
        "Queue": QUEUE,
        "ClientRequestToken": upload,
        "UserMetadata": {"upload_id": upload},
        "StatusUpdateInterval": "SECONDS_10",
        "Settings": ANY,
    }
    stub.add_response("create_job", job("SUBMITTED"), expected)
    assert transcode_job_run(job_id=request.pk) == "submitted"
    request.refresh_from_db()
    assert request.external_id == "1700000000000-abc123" and request.status == "running"

    stub.add_response("get_job", job("PROGRESSING", JobPercentComplete=42),
                      {"Id": "1700000000000-abc123"})  # fmt: skip
    assert mediaconvert_jobs_poll() == {"PROGRESSING": 1}
    video.refresh_from_db()
    assert (video.status, video.progress) == ("processing", 42)

    details = [
        {"VideoDetails": {"WidthInPx": w, "HeightInPx": h}}
        for w, h in ((1920, 1080), (1280, 720), (854, 480))
    ]
    stub.add_response(
        "get_job",
        job("COMPLETE", OutputGroupDetails=[{"OutputDetails": details}]),
        {"Id": "1700000000000-abc123"},
    )
    mediaconvert_jobs_poll()
    video.refresh_from_db()
    assert video.status == LessonVideo.Status.READY and video.progress == 100
    assert [r["name"] for r in video.renditions] == ["1080p", "720p", "480p"]
    assert TranscodeJob.objects.get().status == "done"
    assert mediaconvert_jobs_poll() == {}  # nothing in flight: no call to AWS


def test_the_job_settings_hold_the_ladder_aac_and_a_fixed_gop():
    spec = mediaconvert.job_settings(
        input_uri="s3://b/videos/u/source", output_uri="s3://b/videos/u/hls/", segment_seconds=4
    )
    hls, poster = spec["OutputGroups"]
    assert hls["OutputGroupSettings"]["HlsGroupSettings"]["SegmentLength"] == 4
    heights = [o["VideoDescription"]["Height"] for o in hls["Outputs"]]
    assert heights == [1080, 720, 480]
    for output in hls["Outputs"]:
        h264 = output["VideoDescription"]["CodecSettings"]["H264Settings"]
        assert (h264["GopSize"], h264["GopSizeUnits"]) == (4.0, "SECONDS")
        aac = output["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]
        assert aac["Bitrate"] == 128000
    codec = poster["Outputs"][0]["VideoDescription"]["CodecSettings"]["Codec"]
    assert codec == "FRAME_CAPTURE"


def test_a_failed_job_fails_the_video_with_mediaconverts_reason(stub, make_key):
    video, _ = uploaded(make_key)
    request = video_transcode_request(video=video)
    stub.add_response("create_job", job("SUBMITTED"), None)
    transcode_job_run(job_id=request.pk)
    stub.add_response(
        "get_job",
        job("ERROR", ErrorCode=1010, ErrorMessage="Unable to open input file"),
        {"Id": "1700000000000-abc123"},
    )
    mediaconvert_jobs_poll()
    video.refresh_from_db()
    assert video.status == "failed"
    assert video.failure_reason == "Transcoding failed: Unable to open input file"


def test_a_refused_job_fails_the_video_cleanly(stub, make_key):
    video, _ = uploaded(make_key)
    request = video_transcode_request(video=video)
    stub.add_client_error("create_job", "BadRequestException", "Invalid role", 400)
    assert transcode_job_run(job_id=request.pk) == "failed"
    video.refresh_from_db()
    assert video.status == "failed"
    assert video.failure_reason.startswith("MediaConvert refused the job:")
    assert "Invalid role" in video.failure_reason
