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
from tests.video.factories import accept_beat, send_beat, video_ready
from video.models import ReceivedHeartbeat, WatchInterval, WatchPosition
from video.selectors import video_analytics
from video.services.watching import heartbeat_token
from video.tasks import process_heartbeats

pytestmark = pytest.mark.django_db


@pytest.fixture
def video():
    return video_ready(LessonFactory(), duration=10)


def test_the_retention_curve_of_four_hand_built_viewings(video):
    ada, bob, cy = UserFactory(), UserFactory(), UserFactory()
    # Ada watches all of it at 2x on her phone, then 0-2 again another day (a second view).
    send_beat(ada, video, "a", 0, 0, 10, speed=2.0, device="mobile")
    send_beat(ada, video, "d", 0, 0, 2)
    # Bob leaves at 5 s.
    send_beat(bob, video, "b", 0, 0, 5, rendition="480p")
    # Cy watches to 5 s, seeks back to 2 s and watches to 8 s: 2-5 s re-watched.
    send_beat(cy, video, "c", 0, 0, 5, rendition="720p")
    send_beat(cy, video, "c", 1, 2, 8, kind="seek", rendition="720p")

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
    assert accept_beat(learner, video, "v1", 0, 0, 4)
    assert not accept_beat(learner, video, "v1", 0, 0, 4)  # waiting already
    # Nothing is applied until the worker's pass (beat, every 10 seconds).
    assert not WatchInterval.objects.exists() and not Event.objects.exists()

    assert process_heartbeats() == 1
    assert process_heartbeats() == 0

    assert WatchInterval.objects.count() == 1
    event = Event.objects.get(type="video_progress")
    assert event.client_id == "video-v1-0"
    assert event.user_id == learner.pk and event.lesson_id == video.lesson_id
    assert event.properties["percent"] == 40.0
    assert event.properties["position_seconds"] == 4
    assert WatchPosition.objects.get(user=learner, video=video).position_seconds == 4
    # Sent again after it was applied (a retry whose answer was lost): nothing changes.
    assert accept_beat(learner, video, "v1", 0, 0, 4)
    assert process_heartbeats() == 1
    assert WatchInterval.objects.count() == 1 and Event.objects.count() == 1
    assert not ReceivedHeartbeat.objects.exists()


def test_one_pass_applies_many_views_in_order(video, django_assert_max_num_queries):
    learners = [UserFactory() for _ in range(3)]
    for learner in learners:
        EnrollmentFactory(user=learner, course=video.lesson.course)
        # Sent out of order (as keepalive requests may arrive): applied by number.
        for seq in (1, 0, 3, 2):
            accept_beat(learner, video, f"v{learner.pk}", seq, 2 * seq, 2 * seq + 2)
    assert ReceivedHeartbeat.objects.count() == 12

    # Bulk: a pass costs the same queries (63, ingestion's follow-ups included) for 3
    # learners' 12 heartbeats as for one learner's 4, and as for 9 learners' 36.
    with django_assert_max_num_queries(63):
        assert process_heartbeats() == 12

    events = Event.objects.filter(type="video_progress")
    assert events.count() == 12
    assert sorted(e.properties["percent"] for e in events.filter(user=learners[0])) == [
        20.0, 40.0, 60.0, 80.0
    ]  # fmt: skip
    assert WatchInterval.objects.filter(rewatch=True).count() == 0
    # The learner's lesson progress moves as ingestion's follow-ups say.
    assert LessonProgress.objects.get(user=learners[0], lesson=video.lesson).percent == 80


def test_the_end_of_the_video_resets_the_resume_point(video):
    learner = UserFactory()
    send_beat(learner, video, "v", 0, 0, 6)
    assert WatchPosition.objects.get().position_seconds == 6
    send_beat(learner, video, "v", 1, 6, 10, kind="ended")
    assert WatchPosition.objects.get().position_seconds == 0


def post(token: str, body, *, client: Client | None = None) -> tuple[int, dict]:
    response = (client or Client()).post(
        "/video/heartbeats/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_X_HEARTBEAT_TOKEN=token,
    )
    return response.status_code, response.json()


GOOD = {"seq": 0, "start": 0, "end": 4, "position": 4, "speed": 1}


def test_the_heartbeat_endpoint_names_each_bad_field(video):
    token = heartbeat_token(video=video, user=UserFactory())
    status, body = post(token, {**GOOD, "device": "desktop"})
    assert (status, body) == (200, {"stored": True})

    status, body = post(token, {**GOOD, "seq": "1"})
    assert status == 400
    assert set(body["fields"]) == {"seq"}
    status, body = post(token, {"seq": 1, "start": 5, "end": 3, "position": 99, "speed": 3,
                                "device": "fridge", "rendition": "4k"})  # fmt: skip
    assert status == 400
    assert set(body["fields"]) == {"end", "position", "speed", "device", "rendition"}
    assert body["fields"]["speed"] == [
        '"3" is not a valid choice. Choose one of: 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2.'
    ]
    status, body = post(token, [1, 2])
    assert status == 400 and body["fields"] == {"non_field_errors": ["Send a JSON object."]}
    assert Client().get("/video/heartbeats/", HTTP_X_HEARTBEAT_TOKEN=token).status_code == 405
    assert ReceivedHeartbeat.objects.count() == 1


def test_only_the_players_own_token_is_taken(video, settings):
    learner = UserFactory()
    token = heartbeat_token(video=video, user=learner)
    # No token, a forged signature, a payload changed under its signature: refused.
    for bad in ("", token[:-2] + "xx", token.replace(token.split(":")[0], "e30")):
        status, body = post(bad, GOOD)
        assert status == 403 and set(body["fields"]) == {"token"}, bad
    # The session cookie is not a credential here: signed in, still no token, refused.
    client = Client()
    client.force_login(learner)
    assert post("", GOOD, client=client)[0] == 403
    settings.STRIDE_VIDEO_TOKEN_SECONDS = -1  # the page was opened too long ago
    status, body = post(token, GOOD)
    assert status == 403 and body["fields"]["token"] == [
        "This player has expired; reload the page."
    ]
    assert not ReceivedHeartbeat.objects.exists()


def test_the_token_names_the_learner_and_the_view_not_the_request(video):
    ada, eve = UserFactory(), UserFactory()
    token = heartbeat_token(video=video, user=ada, view_id="ada-view")
    # Whoever sends it, the heartbeat is Ada's, in Ada's view: a token cannot be aimed at
    # another learner's data.
    client = Client()
    client.force_login(eve)
    assert post(token, GOOD, client=client)[0] == 200
    process_heartbeats()
    assert WatchPosition.objects.get().user == ada


def test_a_video_that_is_not_ready_takes_no_heartbeats():
    video = video_ready(LessonFactory(), duration=10)
    video.status = video.Status.PROCESSING
    video.save()
    status, body = post(heartbeat_token(video=video, user=UserFactory()), GOOD)
    assert status == 400 and body["fields"] == {"video": ["This video is not ready to play."]}


def test_an_unenrolled_learner_gets_no_player_and_so_no_token(video):
    client = Client()
    client.force_login(UserFactory())
    response = client.get(f"/me/videos/{video.lesson.external_id}/")
    assert response.status_code == 403
    assert b"heartbeatToken" not in response.content


def test_long_videos_count_per_percent(settings):
    video = video_ready(LessonFactory(), duration=3600)
    assert video.bucket_seconds == 36 and video.bucket_count == 100
    send_beat(UserFactory(), video, "v", 0, 0, 360)
    stats = video_analytics(video=video)
    assert stats.retention[:10] == [1.0] * 10 and stats.retention[10] == 0
    assert stats.average_share_watched == 0.1


def test_analytics_api_and_dashboard(video, make_key, staff_client):
    send_beat(UserFactory(), video, "v", 0, 0, 10)
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
        send_beat(UserFactory(), video, f"v{i}", 0, 0, 2 + i)
    with django_assert_num_queries(6):
        video_analytics(video=video)
