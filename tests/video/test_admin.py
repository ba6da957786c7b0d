"""The admin pages of every video model, and the transcode action."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.learning.factories import LessonFactory
from tests.video.conftest import needs_ffmpeg
from tests.video.factories import send_beat, video_ready, video_transcoded, video_uploaded
from video.ffmpeg import progress_percents
from video.models import LessonVideo

pytestmark = pytest.mark.django_db


def test_every_video_admin_page_opens(admin_client, admin_user):
    video = video_ready(LessonFactory())
    send_beat(admin_user, video, "v", 0, 0, 3)
    models = ("lessonvideo", "transcodejob", "watchsession", "watchinterval", "watchposition")
    for model in (*models, "receivedheartbeat"):
        assert admin_client.get(f"/admin/video/{model}/").status_code == 200, model
    assert admin_client.get(f"/admin/video/lessonvideo/{video.pk}/change/").status_code == 200


@needs_ffmpeg
def test_the_admin_action_transcodes_an_upload_and_says_so(
    admin_client, clips, eager, django_capture_on_commit_callbacks
):
    video = video_uploaded(LessonFactory(), clips["720p"])
    empty, _ = LessonVideo.objects.get_or_create(lesson=LessonFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/video/lessonvideo/",
            {"action": "transcode", "_selected_action": [video.pk, empty.pk]},
            follow=True,
        )
    text = response.content.decode()
    assert "transcoding queued" in text
    assert "No file has been uploaded yet" in text
    video.refresh_from_db()
    assert video.status == LessonVideo.Status.READY


@needs_ffmpeg
def test_attached_captions_are_offered_and_served(clips, staff_client):
    video = video_transcoded(LessonFactory(), clips["720p"])
    video.captions.save(
        "talk.vtt", SimpleUploadedFile("talk.vtt", b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n")
    )
    page = staff_client.get(f"/me/videos/{video.lesson.external_id}/").content.decode()
    assert 'kind="captions"' in page
    src = page.split('kind="captions" src="')[1].split('"')[0]
    served = staff_client.get(src)
    assert served.status_code == 200 and b"Hello" in b"".join(served.streaming_content)


def test_progress_is_read_from_ffmpegs_progress_lines():
    lines = ["frame=10", "out_time_us=1000000", "progress=continue", "out_time_us=2500000",
             "out_time_us=N/A", "out_time_ms=9900000", "progress=end"]  # fmt: skip
    assert list(progress_percents(iter(lines), 10.0)) == [10, 25, 99]


@needs_ffmpeg
def test_staff_attach_a_video_from_the_admin_and_it_is_transcoded(
    admin_client, clips, eager, django_capture_on_commit_callbacks
):
    lesson = LessonFactory()
    with clips["720p"].open("rb") as file, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/video/lessonvideo/add/",
            {
                "lesson": lesson.pk,
                "file": file,
                "jobs-TOTAL_FORMS": 0,
                "jobs-INITIAL_FORMS": 0,
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    video = LessonVideo.objects.get(lesson=lesson)
    assert video.status == LessonVideo.Status.READY
    assert [r["name"] for r in video.renditions] == ["720p", "480p"]
