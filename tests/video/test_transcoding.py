"""Real ffmpeg on generated clips: the HLS ladder, its codecs, segments and thumbnails as
ffprobe reads them; no upscaling; a corrupt upload fails cleanly; a redelivered task does not
transcode twice."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.learning.factories import LessonFactory
from tests.video.conftest import needs_ffmpeg
from tests.video.factories import video_transcoded, video_uploaded
from video.models import LessonVideo, TranscodeJob
from video.services import storage
from video.services.transcoding import (
    transcode_job_run,
    transcode_jobs_reclaim,
    video_transcode_request,
)

pytestmark = [pytest.mark.django_db, needs_ffmpeg]


def ffprobe(path: Path, *entries: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_entries", ",".join(entries),
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def segment_durations(playlist: Path) -> list[float]:
    return [
        float(line.split(":")[1].rstrip(","))
        for line in playlist.read_text().splitlines()
        if line.startswith("#EXTINF:")
    ]


def test_a_1080p_upload_becomes_a_three_rung_hls_ladder_with_thumbnails(clips, settings):
    video = video_transcoded(LessonFactory(), clips["1080p"])

    assert video.status == LessonVideo.Status.READY and video.progress == 100
    assert video.failure_reason == ""
    assert video.duration_seconds == pytest.approx(5, abs=0.1)
    assert [(r["name"], r["width"], r["height"]) for r in video.renditions] == [
        ("1080p", 1920, 1080),
        ("720p", 1280, 720),
        ("480p", 854, 480),
    ]
    hls = storage.absolute(video.hls_path)
    master = (hls / "master.m3u8").read_text()
    assert master.count("#EXT-X-STREAM-INF") == 3
    for name in ("1080p/index.m3u8", "720p/index.m3u8", "480p/index.m3u8"):
        assert name in master
    segment = settings.STRIDE_VIDEO_SEGMENT_SECONDS
    for rung in video.renditions:
        playlist = hls / rung["name"] / "index.m3u8"
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist.read_text()
        durations = segment_durations(playlist)
        # Fixed GOP aligned to the segment length: every segment but the last is exactly one.
        assert durations[:-1] == [pytest.approx(segment, abs=0.01)] * (len(durations) - 1)
        assert sum(durations) == pytest.approx(5, abs=0.1)
        first = hls / rung["name"] / "segment_000.ts"
        streams = ffprobe(first, "stream=codec_name,codec_type,width,height,bit_rate,sample_rate")
        by_type = {s["codec_type"]: s for s in streams["streams"]}
        assert by_type["video"]["codec_name"] == "h264"
        assert (by_type["video"]["width"], by_type["video"]["height"]) == (
            rung["width"],
            rung["height"],
        )
        assert by_type["audio"]["codec_name"] == "aac"
        # Keyframes only at segment starts: the first frame of every segment is a keyframe.
        frames = ffprobe(first, "frame=key_frame,pict_type")["frames"]
        assert frames[0]["key_frame"] == 1
    audio = ffprobe(hls / "720p" / "segment_000.ts", "stream=codec_type,bit_rate")
    # AAC at 128 kbit/s (the ADTS stream reports the encoder's nominal rate or none).
    assert any(s["codec_type"] == "audio" for s in audio["streams"])

    poster = ffprobe(hls / "poster.jpg", "stream=width,height")["streams"][0]
    assert (poster["width"], poster["height"]) == (640, 360)
    sprite = ffprobe(hls / "sprite.jpg", "stream=width,height")["streams"][0]
    assert (sprite["width"], sprite["height"]) == (1600, 90)  # 10 tiles of 160x90 in a row
    vtt = (hls / "sprite.vtt").read_text()
    assert vtt.startswith("WEBVTT")
    assert "00:00:00.000 --> 00:00:02.000\nsprite.jpg#xywh=0,0,160,90" in vtt
    assert "00:00:04.000 --> 00:00:05.000\nsprite.jpg#xywh=320,0,160,90" in vtt


def test_a_720p_source_is_not_upscaled_and_a_redelivered_task_does_not_transcode_again(clips):
    video = video_uploaded(LessonFactory(), clips["720p"])
    job = video_transcode_request(video=video)
    assert video_transcode_request(video=video).pk == job.pk  # asking twice: one job

    assert transcode_job_run(job_id=job.pk) == "done"
    video.refresh_from_db()
    assert [r["name"] for r in video.renditions] == ["720p", "480p"]
    hls = storage.absolute(video.hls_path)
    assert not (hls / "1080p").exists()
    assert "1080p" not in (hls / "master.m3u8").read_text()
    written = (hls / "720p" / "segment_000.ts").stat().st_mtime_ns

    # The broker delivers the same message again (acks_late after a lost ack): nothing runs.
    assert transcode_job_run(job_id=job.pk) == "skipped"
    assert (hls / "720p" / "segment_000.ts").stat().st_mtime_ns == written
    job.refresh_from_db()
    assert job.status == TranscodeJob.Status.DONE and job.attempts == 1
    assert TranscodeJob.objects.count() == 1


def test_a_corrupt_upload_fails_with_a_reason_on_the_lesson(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    video = video_transcoded(LessonFactory(), broken)

    assert video.status == LessonVideo.Status.FAILED
    assert video.failure_reason.startswith("The file is not a readable video")
    assert video.renditions == [] and video.hls_path == ""
    assert TranscodeJob.objects.get().status == TranscodeJob.Status.FAILED


def test_an_audio_only_file_fails_for_lack_of_a_video_stream(tmp_path):
    audio = tmp_path / "talk.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac",
         str(audio)],
        check=True,
    )  # fmt: skip
    video = video_transcoded(LessonFactory(), audio)
    assert video.status == LessonVideo.Status.FAILED
    assert video.failure_reason == "The file has no video stream."


def test_limits_from_settings_fail_the_video_with_the_limit_named(clips, settings):
    settings.STRIDE_VIDEO_MAX_HEIGHT = 720
    settings.STRIDE_VIDEO_MAX_WIDTH = 1280
    video = video_transcoded(LessonFactory(), clips["1080p"])
    assert video.status == LessonVideo.Status.FAILED
    assert video.failure_reason == "The video is 1920x1080; at most 1280x720 is accepted."

    settings.STRIDE_VIDEO_MAX_DURATION_SECONDS = 2
    video = video_transcoded(LessonFactory(), clips["720p"])
    assert video.failure_reason == "The video lasts 3 s; at most 2 s are accepted."


def test_a_failed_job_is_retried_by_asking_again(clips, tmp_path, settings):
    settings.STRIDE_VIDEO_MAX_DURATION_SECONDS = 2
    video = video_transcoded(LessonFactory(), clips["720p"])
    assert video.status == LessonVideo.Status.FAILED

    settings.STRIDE_VIDEO_MAX_DURATION_SECONDS = 3600
    job = video_transcode_request(video=video)
    video.refresh_from_db()
    assert video.status == LessonVideo.Status.PROCESSING and video.failure_reason == ""
    transcode_job_run(job_id=job.pk)
    video.refresh_from_db()
    assert video.status == LessonVideo.Status.READY
    job.refresh_from_db()
    assert job.attempts == 2


def test_a_stale_running_job_is_reclaimed_and_finished(clips, eager):
    import datetime

    from django.utils import timezone

    video = video_uploaded(LessonFactory(), clips["720p"])
    job = TranscodeJob.objects.create(
        video=video,
        upload_id=video.upload_id,
        status=TranscodeJob.Status.RUNNING,
        attempts=1,
        heartbeat_at=timezone.now() - datetime.timedelta(hours=1),
    )
    assert transcode_jobs_reclaim() == [job.pk]  # eager: the task ran at once
    job.refresh_from_db()
    video.refresh_from_db()
    assert job.status == TranscodeJob.Status.DONE and job.attempts == 2
    assert video.status == LessonVideo.Status.READY
