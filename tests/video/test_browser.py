"""In headless Chromium: a learner plays a lesson's HLS video through hls.js, switches quality
and speed, and the player's heartbeats arrive as watch intervals and engagement events."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from engagement.models import Event
from tests.accounts.factories import LEARNER_PASSWORD, UserFactory
from tests.learning.factories import EnrollmentFactory, LessonFactory
from tests.video.conftest import make_clip, needs_ffmpeg
from tests.video.factories import video_transcoded
from video.models import WatchInterval, WatchSession
from video.tasks import process_heartbeats

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_ffmpeg]


def wait_until(page: Page, script: str, timeout: float = 20) -> None:
    """Poll `script` in the page (wait_for_function evaluates strings, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        page.wait_for_timeout(100)


def test_a_learner_plays_switches_quality_and_speed_and_sends_heartbeats(
    live_server, page: Page, tmp_path, settings
):
    settings.STRIDE_VIDEO_HEARTBEAT_SECONDS = 2
    clip = make_clip(tmp_path / "talk.mp4", width=1280, height=720, seconds=8)
    video = video_transcoded(LessonFactory(title="Fractions"), clip)
    learner = UserFactory()
    EnrollmentFactory(user=learner, course=video.lesson.course)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server.url}/accounts/login/?next=/me/videos/")
    page.fill("#id_username", learner.email)
    page.fill("#id_password", LEARNER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/me/videos/")
    page.get_by_role("link", name="Fractions").click()

    player = page.locator("#player")
    expect(player).to_have_attribute("data-ready", "true")
    expect(player).to_have_attribute("data-thumbnails", "4")  # 8 s, one tile per 2 s
    assert page.evaluate("window.stridePlayer.hls !== null")  # hls.js, through MSE
    page.get_by_role("button", name="Play").click()
    wait_until(page, "window.stridePlayer.video.currentTime > 1")

    page.select_option("#quality", "480p")
    expect(player).to_have_attribute("data-level", "480p")
    page.select_option("#speed", "2")
    assert page.evaluate("window.stridePlayer.video.playbackRate") == 2
    wait_until(page, "window.stridePlayer.video.currentTime > 5")
    page.keyboard.press("k")  # the pause shortcut
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    expect(player).to_have_attribute("data-last-heartbeat", "pause")
    page.goto("about:blank")  # paused: nothing more is sent

    process_heartbeats()  # the worker's beat entry, every 10 seconds
    session = WatchSession.objects.get(video=video, user=learner)
    assert session.covered_buckets >= 4
    intervals = WatchInterval.objects.filter(session=session)
    assert {i.speed for i in intervals} >= {1.0, 2.0}
    assert "480p" in {i.rendition for i in intervals}
    events = Event.objects.filter(type="video_progress", user=learner)
    assert events.count() == session.last_seq + 1
    assert {e.properties["kind"] for e in events} >= {"quality", "speed", "pause"}
    assert not [p for p in problems if "Content Security Policy" in p], problems
