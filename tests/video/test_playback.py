"""Who may play a lesson's video, and how long and where its signed links work."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.accounts.factories import AdminFactory, UserFactory
from tests.learning.factories import EnrollmentFactory, LessonFactory
from tests.video.conftest import needs_ffmpeg
from tests.video.factories import video_transcoded

pytestmark = [pytest.mark.django_db, needs_ffmpeg]


@pytest.fixture
def ready(clips):
    lesson = LessonFactory()
    return video_transcoded(lesson, clips["720p"])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def player_config(client: Client, video) -> dict:
    import json

    page = client.get(f"/me/videos/{video.lesson.external_id}/")
    assert page.status_code == 200
    raw = re.search(
        r'<script id="player-config" type="application/json">(.*?)</script>', page.content.decode()
    )
    return json.loads(raw.group(1))


def test_an_enrolled_learner_plays_every_file_of_the_ladder(ready):
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=ready.lesson.course)
    client = signed_in(learner)
    config = player_config(client, ready)

    master = client.get(config["src"])
    assert master.status_code == 200
    base = config["src"].rsplit("/", 1)[0]
    playlist = client.get(f"{base}/720p/index.m3u8")
    assert playlist.status_code == 200
    segment = client.get(f"{base}/720p/segment_000.ts")
    assert segment.status_code == 200 and segment["Content-Type"] == "video/mp2t"
    assert client.get(config["poster"])["Content-Type"] == "image/jpeg"
    assert client.get(config["thumbnails"])["Content-Type"].startswith("text/vtt")
    assert client.get(f"{base}/../../source").status_code in (403, 404)
    assert client.get(f"{base}/nothing.ts").status_code == 404


def test_an_unenrolled_learner_gets_no_page_and_no_files(ready):
    enrolled = UserFactory()
    EnrollmentFactory(user=enrolled, course=ready.lesson.course)
    outsider = signed_in(UserFactory())

    assert outsider.get(f"/me/videos/{ready.lesson.external_id}/").status_code == 403
    assert (
        outsider.get("/me/videos/").content.count(
            b"/me/videos/" + ready.lesson.external_id.encode()
        )
        == 0
    )
    # Even with a link copied from an enrolled learner's page.
    src = player_config(signed_in(enrolled), ready)["src"]
    refused = outsider.get(src)
    assert refused.status_code == 403
    assert refused.content == b"This video link was made for someone else."


def test_a_copied_link_stops_working_in_another_session_and_after_unenrolling(ready):
    learner = UserFactory()
    enrollment = EnrollmentFactory(user=learner, course=ready.lesson.course)
    first = signed_in(learner)
    src = player_config(first, ready)["src"]

    other_browser = signed_in(learner)  # the same learner, another session
    refused = other_browser.get(src)
    assert refused.status_code == 403
    assert b"another session" in refused.content
    assert Client().get(src).status_code == 403  # nobody signed in

    enrollment.status = "withdrawn"
    enrollment.save()
    assert first.get(src).status_code == 403


def test_an_expired_link_is_refused(ready, settings):
    staff = signed_in(AdminFactory())
    src = player_config(staff, ready)["src"]
    assert staff.get(src).status_code == 200

    settings.STRIDE_VIDEO_TOKEN_SECONDS = -1
    refused = staff.get(src)
    assert refused.status_code == 403
    assert refused.content == b"This video link has expired; reload the page."


def test_the_player_page_offers_each_rendition_and_the_resume_point(ready):
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=ready.lesson.course)
    client = signed_in(learner)
    page = client.get(f"/me/videos/{ready.lesson.external_id}/").content.decode()
    assert '<option value="auto">Auto</option>' in page
    assert '<option value="720p">720p</option>' in page and "1080p" not in page
    assert "vendor/hls/hls.min.js" in page
    assert player_config(client, ready)["resume"] == 0
    listing = client.get("/me/videos/").content.decode()
    assert ready.lesson.title in listing
