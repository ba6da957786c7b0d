"""The production transcoder at its transport: MediaConvert job creation and polling through
botocore's Stubber (moto has no MediaConvert), with the real client and our code around it."""

from __future__ import annotations

import pytest
from botocore.stub import ANY, Stubber

from tests.learning.factories import LessonFactory
from tests.video.factories import video_uploaded
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
    client = mediaconvert.client(
        region=settings.STRIDE_MEDIACONVERT_REGION,
        endpoint_url=settings.STRIDE_MEDIACONVERT_ENDPOINT_URL,
    )
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def job(state: str, **extra) -> dict:
    return {"Job": {"Id": "1700000000000-abc123", "Role": ROLE, "Settings": {}, "Status": state,
                    **extra}}  # fmt: skip


def test_a_job_is_created_with_the_ladder_then_polled_to_ready(stub, tmp_path):
    source = tmp_path / "in.mp4"
    source.write_bytes(b"uploaded")
    video = video_uploaded(LessonFactory(), source)
    request = video_transcode_request(video=video)
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


def test_a_failed_job_fails_the_video_with_mediaconverts_reason(stub, tmp_path):
    source = tmp_path / "in.mp4"
    source.write_bytes(b"uploaded")
    video = video_uploaded(LessonFactory(), source)
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


def test_a_refused_job_fails_the_video_cleanly(stub, tmp_path):
    source = tmp_path / "in.mp4"
    source.write_bytes(b"uploaded")
    video = video_uploaded(LessonFactory(), source)
    request = video_transcode_request(video=video)
    stub.add_client_error("create_job", "BadRequestException", "Invalid role", 400)
    assert transcode_job_run(job_id=request.pk) == "failed"
    video.refresh_from_db()
    assert video.status == "failed"
    assert video.failure_reason.startswith("MediaConvert refused the job:")
    assert "Invalid role" in video.failure_reason
