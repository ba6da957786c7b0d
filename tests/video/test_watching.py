"""Heartbeats into the watch tables and engagement's ingestion; the analytics they give,
checked on a hand-built set of viewings whose retention curve is worked out by hand."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from engagement.models import Event
from learning.models import LessonProgress
from tests.accounts.factories import UserFactory
from tests.learning.factories import EnrollmentFactory, LessonFactory
from tests.video.factories import video_ready
from video.models import PendingProgressEvent, WatchInterval, WatchPosition
from video.selectors import video_analytics
from video.services.watching import Heartbeat, heartbeat_record
from video.tasks import flush_progress_events

pytestmark = pytest.mark.django_db


def beat(view: str, seq: int, start: float, end: float, **extra) -> Heartbeat:
    return Heartbeat(view_id=view, seq=seq, start=start, end=end, position=end, **extra)


@pytest.fixture
def video():
    return video_ready(LessonFactory(), duration=10)


def test_the_retention_curve_of_four_hand_built_viewings(video):
    ada, bob, cy = UserFactory(), UserFactory(), UserFactory()
    # Ada watches all of it at 2x on her phone, then 0-2 again another day (a second view).
    heartbeat_record(user=ada, video=video, beat=beat("a", 0, 0, 10, speed=2.0, device="mobile"))
    heartbeat_record(user=ada, video=video, beat=beat("d", 0, 0, 2))
    # Bob leaves at 5 s.
    heartbeat_record(user=bob, video=video, beat=beat("b", 0, 0, 5, rendition="480p"))
    # Cy watches to 5 s, seeks back to 2 s and watches to 8 s: 2-5 s re-watched.
    heartbeat_record(user=cy, video=video, beat=beat("c", 0, 0, 5, rendition="720p"))
    heartbeat_record(user=cy, video=video, beat=beat("c", 1, 2, 8, kind="seek", rendition="720p"))

    stats = video_analytics(video=video)

    assert stats.retention == [1, 1, 0.75, 0.75, 0.75, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert stats.drop_offs == [
        {"at_seconds": 2.0, "share_lost": 0.25},
        {"at_seconds": 5.0, "share_lost": 0.25},
        {"at_seconds": 8.0, "share_lost": 0.25},
    ]
    assert stats.rewatched == [{"from_seconds": 2.0, "to_seconds": 5.0, "rewatches": 3}]
    assert (stats.views, stats.unique_viewers) == (4, 3)
    assert stats.total_watch_seconds == 28  # 10 + 2 + 5 + 5 + 6
    assert stats.average_watch_seconds == 7
    assert stats.average_share_watched == pytest.approx((10 + 2 + 5 + 8) / 4 / 10)
    assert stats.completion_rate == 0.25  # only Ada's first view saw 90%
    assert stats.speeds == {"1x": round(18 / 28, 4), "2x": round(10 / 28, 4)}
    assert stats.renditions == {"480p": round(5 / 28, 4), "720p": round(11 / 28, 4),
                                "auto": round(12 / 28, 4)}  # fmt: skip
    assert stats.devices == {"desktop": 3, "mobile": 1}


def test_a_resent_heartbeat_is_stored_once_here_and_in_engagement(video):
    learner = UserFactory()
    first = heartbeat_record(user=learner, video=video, beat=beat("v1", 0, 0, 4))
    again = heartbeat_record(user=learner, video=video, beat=beat("v1", 0, 0, 4))

    assert first.stored and not again.stored
    assert first.percent == 40.0
    assert WatchInterval.objects.count() == 1
    # Engagement hears of it at the next flush (the worker's beat entry, every minute).
    assert not Event.objects.exists()
    assert flush_progress_events() == 1
    assert flush_progress_events() == 0
    event = Event.objects.get(type="video_progress")
    assert event.client_id == "video-v1-0"
    assert event.user_id == learner.pk and event.lesson_id == video.lesson_id
    assert event.properties["percent"] == 40.0
    assert event.properties["position_seconds"] == 4
    assert WatchPosition.objects.get(user=learner, video=video).position_seconds == 4


def test_the_flush_ingests_many_heartbeats_at_once_and_a_repeat_flush_stores_nothing(video):
    learners = [UserFactory() for _ in range(3)]
    for learner in learners:
        EnrollmentFactory(user=learner, course=video.lesson.course)
        for seq in range(4):
            heartbeat_record(
                user=learner, video=video, beat=beat(f"v{learner.pk}", seq, 2 * seq, 2 * seq + 2)
            )
    assert PendingProgressEvent.objects.count() == 12
    first = PendingProgressEvent.objects.order_by("id").values("client_id", "item")[0]

    assert flush_progress_events() == 12

    assert not PendingProgressEvent.objects.exists()
    events = Event.objects.filter(type="video_progress")
    assert events.count() == 12
    assert sorted(e.properties["percent"] for e in events.filter(user=learners[0])) == [
        20.0, 40.0, 60.0, 80.0
    ]  # fmt: skip
    # The learner's lesson progress moves as ingestion's follow-ups say.
    assert LessonProgress.objects.get(user=learners[0], lesson=video.lesson).percent == 80
    # A flush that died after ingesting leaves its batch to be sent again: stored once.
    PendingProgressEvent.objects.create(**first)
    assert flush_progress_events() == 1
    assert events.count() == 12


def test_the_end_of_the_video_resets_the_resume_point(video):
    learner = UserFactory()
    heartbeat_record(user=learner, video=video, beat=beat("v", 0, 0, 6))
    assert WatchPosition.objects.get().position_seconds == 6
    heartbeat_record(user=learner, video=video, beat=beat("v", 1, 6, 10, kind="ended"))
    assert WatchPosition.objects.get().position_seconds == 0


def post(client: Client, video, body) -> dict:
    response = client.post(
        f"/me/videos/{video.lesson.external_id}/heartbeat/",
        data=json.dumps(body),
        content_type="application/json",
    )
    return response.status_code, response.json()


def test_the_heartbeat_endpoint_names_each_bad_field(video):
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=video.lesson.course)
    client = Client()
    client.force_login(learner)
    good = {"view_id": "v", "seq": 0, "start": 0, "end": 4, "position": 4, "speed": 1}
    status, body = post(client, video, {**good, "device": "desktop"})
    assert (status, body) == (200, {"stored": True, "percent": 40.0})

    status, body = post(client, video, {**good, "seq": "1"})
    assert status == 400
    assert set(body["fields"]) == {"seq"}
    status, body = post(client, video, {"view_id": "v", "seq": 1, "start": 5, "end": 3,
                                        "position": 99, "speed": 3, "device": "fridge",
                                        "rendition": "4k"})  # fmt: skip
    assert status == 400
    assert set(body["fields"]) == {"end", "position", "speed", "device", "rendition"}
    assert body["fields"]["speed"] == [
        '"3" is not a valid choice. Choose one of: 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2.'
    ]
    status, body = post(client, video, [1, 2])
    assert status == 400 and body["fields"] == {"non_field_errors": ["Send a JSON object."]}


def test_an_unenrolled_learner_cannot_send_heartbeats(video):
    client = Client()
    client.force_login(UserFactory())
    response = client.post(
        f"/me/videos/{video.lesson.external_id}/heartbeat/",
        data=json.dumps({"view_id": "v", "seq": 0, "start": 0, "end": 4, "position": 4}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not WatchInterval.objects.exists()


def test_long_videos_count_per_percent(settings):
    video = video_ready(LessonFactory(), duration=3600)
    assert video.bucket_seconds == 36 and video.bucket_count == 100
    heartbeat_record(user=UserFactory(), video=video, beat=beat("v", 0, 0, 360))
    stats = video_analytics(video=video)
    assert stats.retention[:10] == [1.0] * 10 and stats.retention[10] == 0
    assert stats.average_share_watched == 0.1


def test_analytics_api_and_dashboard(video, make_key, staff_client):
    heartbeat_record(user=UserFactory(), video=video, beat=beat("v", 0, 0, 10))
    body = (
        make_key("courses:read")
        .get(f"/api/v1/lessons/{video.lesson.external_id}/video/analytics/")
        .json()
    )
    assert body["views"] == 1 and body["completion_rate"] == 1.0
    assert body["retention"] == [1.0] * 10
    assert (
        make_key("events:write")
        .get(f"/api/v1/lessons/{video.lesson.external_id}/video/analytics/")
        .status_code
        == 403
    )

    listing = staff_client.get("/dashboard/videos/")
    assert listing.status_code == 200
    assert video.lesson.title in listing.content.decode()
    page = staff_client.get(f"/dashboard/videos/{video.lesson.external_id}/").content.decode()
    assert 'data-stat="views">1<' in page and 'data-stat="completion">100%<' in page
    assert 'id="retention-chart"' in page and "vendor/plotly/plotly.min.js" in page
    learner = Client()
    learner.force_login(UserFactory())
    assert learner.get("/dashboard/videos/").status_code == 403


def test_analytics_take_a_fixed_number_of_queries(video, django_assert_num_queries):
    for i in range(5):
        heartbeat_record(user=UserFactory(), video=video, beat=beat(f"v{i}", 0, 0, 2 + i))
    with django_assert_num_queries(6):
        video_analytics(video=video)
