"""The student's own pages under /me/: what a learner sees, and who may see it."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from gamification.models import LearnerGameProfile, Moment
from gamification.selectors.leaderboards import key_prefix, redis_client
from gamification.services.moments import moment_record
from gamification.services.rewards import reward_grant
from gamification.services.streaks import streak_record_activity
from tests.accounts.factories import AdminFactory, UserFactory
from tests.gamification.factories import award, learner_with_xp, next_key
from tests.learning.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_boards():
    """Redis outlives each test's rolled-back database: start every test with empty boards."""
    client = redis_client()
    if client is not None:
        keys = list(client.scan_iter(match=f"{key_prefix()}:*", count=1000))
        if keys:
            client.unlink(*keys)


PAGES = ("/me/", "/me/achievements/", "/me/leaderboards/", "/me/league/", "/me/xp/")
DAY = datetime.timedelta(days=1)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _text(response) -> str:
    """The page's visible text, roughly: tags dropped, whitespace squeezed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def ada(django_capture_on_commit_callbacks):
    """Ada: 390 XP (level 2), a two-day streak at risk today, a freeze, and a level-up moment."""
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        user = learner_with_xp(300, first_name="Ada", last_name="Lopez", external_id="ext-ada")
        streak_record_activity(user_id=user.pk, occurred_at=now - 2 * DAY)
        streak_record_activity(user_id=user.pk, occurred_at=now - DAY)
        award(user, "lesson_completed", reference="lesson:1", at=now - DAY)
    reward_grant(
        user_id=user.pk,
        reward_code="streak_freeze",
        source="staff",
        reason="welcome",
        idempotency_key=next_key("freeze"),
    )
    return user


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", PAGES)
def test_a_new_learner_sees_empty_states_that_say_what_to_do(path):
    response = _client(UserFactory(first_name="Ada")).get(path)

    assert response.status_code == 200
    text = _text(response)
    assert "My progress" in text
    assert 'aria-current="page"' in response.content.decode()
    hints = {
        "/me/": "You have no XP yet. Complete a lesson",
        "/me/achievements/": "None unlocked yet: complete your first lesson",
        "/me/leaderboards/": "Nobody has earned XP this week yet",
        "/me/league/": "Earn XP this week to join a league",
        "/me/xp/": "No XP yet. Every lesson you complete",
    }
    assert hints[path] in text


def test_the_overview_shows_level_streak_freezes_and_news(ada):
    response = _client(ada).get("/me/")

    text = _text(response)
    html = response.content.decode()
    assert 'data-stat="level">2<' in html
    assert 'data-stat="xp">390<' in html
    assert "Apprentice" in text
    assert "235 XP to go: 390 of 625 XP" in text
    assert 'data-stat="streak">2 ' in html
    assert "Your 2-day streak ends tonight unless you study today" in text
    assert "1 of 2 freezes" in text
    assert 'progress id="level-progress"' in html and 'value="37"' in html
    # The heat-map: twelve weeks of days, yesterday and the day before active, and its text.
    assert html.count("data-date=") == 84
    yesterday = (timezone.now() - DAY).date().isoformat()
    assert f'data-date="{yesterday}" data-status="active"' in html
    assert "The calendar as a list (2 days)" in text
    assert "You reached level 2" in text  # the level-up moment, as a notice
    assert "Dismiss" in text
    assert "#1" in text and "Bronze" in text  # rank this week, league


def test_the_achievements_page_shows_progress_rarity_and_dates(ada):
    text = _text(_client(ada).get("/me/achievements/"))

    assert "Unlocked (0)" in text
    assert "Still to earn (12)" in text
    assert "level 2 of 5" in text  # the Level 5 achievement, at level 2
    for label in ("Bronze", "Silver", "Gold", "Platinum", "Common"):
        assert label in text


def test_the_leaderboard_marks_the_learners_row_and_hides_those_who_opted_out(
    ada, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ben = learner_with_xp(900, first_name="Ben", last_name="Okafor")
        cy = learner_with_xp(100, first_name="Cy", last_name="Novak")
    _client(ben).post("/me/leaderboards/visibility/", {"next": "/me/leaderboards/"})

    response = _client(ada).get("/me/leaderboards/", {"period": "all_time"})

    html = response.content.decode()
    text = _text(response)
    assert "You are #2 of 3 with 390 XP in all" in text
    mine = re.search(r'<tr class="is-me" aria-current="true" data-rank="2">(.*?)</tr>', html, re.S)
    assert mine and "Ada L." in mine.group(1)
    assert "Ben" not in text  # opted out: "a learner" to others
    assert "a learner" in text
    assert "Cy N." in text
    # Ben still sees himself, by name, with a note that others do not.
    ben_text = _text(_client(ben).get("/me/leaderboards/", {"period": "all_time"}))
    assert "Ben O. (you; others see “a learner”)" in ben_text
    assert LearnerGameProfile.objects.get(user=cy).show_on_leaderboards


def test_the_visibility_toggle_needs_csrf_and_acts_on_the_signed_in_learner(ada):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ada)
    assert strict.post("/me/leaderboards/visibility/", {}).status_code == 403
    assert LearnerGameProfile.objects.get(user=ada).show_on_leaderboards

    client = _client(ada)
    hidden = client.post("/me/leaderboards/visibility/", {"next": "/me/leaderboards/"})
    assert hidden.status_code == 302
    assert hidden["Location"] == "/me/leaderboards/"
    assert not LearnerGameProfile.objects.get(user=ada).show_on_leaderboards
    page = _text(client.get("/me/leaderboards/"))
    assert "Others see you as “a learner”" in page
    assert "Others now see you as “a learner”" in page  # the confirmation message
    shown = client.post(
        "/me/leaderboards/visibility/", {"show": "on", "next": "https://evil.example/"}
    )
    assert shown["Location"] == "/me/"  # never off the site
    assert LearnerGameProfile.objects.get(user=ada).show_on_leaderboards


def test_the_league_page_shows_the_zones(ada, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(6):
            learner_with_xp(50 * (n + 1), first_name=f"L{n}", last_name="Test")

    response = _client(ada).get("/me/league/")

    html = response.content.decode()
    text = _text(response)
    assert "Bronze league" in text
    # Seven members: ceil(7/6) = 2 promoted, floor(7/6) = 1 demoted (none below Bronze).
    assert "You are #1 of 7 with 390 XP this week" in text
    assert "in the promotion zone" in text
    assert html.count("zone-row zone-promotion") == 2
    assert 'class="zone-row zone-promotion is-me" aria-current="true"' in html


def test_the_xp_history_is_paginated(django_capture_on_commit_callbacks):
    now = timezone.now()
    ada = UserFactory(external_id="ext-ada")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(30):
            award(ada, "lesson_completed", reference=f"lesson:{n}", at=now - n * DAY)
    client = _client(ada)

    first = client.get("/me/xp/")
    second = client.get("/me/xp/", {"page": 2})

    assert "30 entries" in _text(first)
    assert _text(first).count("Lesson completed") == 25
    assert 'href="?page=2"' in first.content.decode()
    assert _text(second).count("Lesson completed") == 5
    assert "Page 2 of 2" in _text(second)


def test_dismissing_a_moment_touches_only_the_learners_own(ada):
    ben = UserFactory()
    theirs = moment_record(user_id=ben.pk, kind="level_up", title="Ben up", dedupe_key="b:1")
    mine = Moment.objects.filter(user=ada, kind="level_up").get()

    _client(ada).post("/me/moments/seen/", {"moment": theirs.id})
    assert Moment.objects.get(pk=theirs.id).seen_at is None
    response = _client(ada).post("/me/moments/seen/", {"moment": mine.pk, "next": "/me/"})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.seen_at is not None
    assert "You reached level 2" not in _text(_client(ada).get("/me/"))


@pytest.mark.parametrize("path", PAGES)
def test_a_student_cannot_open_another_learners_pages(path, ada):
    ben = UserFactory(first_name="Ben", email="ben@example.com")
    response = _client(ben).get(path, {"as": ada.external_id})
    assert response.status_code == 403
    main = re.search(r"<main>(.*)</main>", response.content.decode(), re.S).group(1)
    assert "Ada" not in main
    assert "390" not in main


@pytest.mark.parametrize("path", PAGES)
def test_staff_see_a_learners_pages_as_the_learner_does(path, ada):
    staff = AdminFactory()
    response = _client(staff).get(path, {"as": "ext-ada"})

    assert response.status_code == 200
    text = _text(response)
    assert "Viewing as Ada Lopez" in text
    assert "Ada Lopez\u2019s progress" in text
    assert "Level 2 · Apprentice · 390 XP" in text
    html = response.content.decode()
    # Links keep to the learner; the learner's own controls are not offered.
    assert 'href="/me/achievements/?as=ext-ada"' in html
    assert 'action="/me/moments/seen/"' not in html
    assert 'action="/me/leaderboards/visibility/"' not in html


def test_staff_asking_for_an_unknown_learner_get_a_404_and_a_lookup_form():
    staff = AdminFactory()
    assert _client(staff).get("/me/", {"as": "nobody"}).status_code == 404
    own = _text(_client(staff).get("/me/"))
    assert "See a learner\u2019s pages" in own


def test_the_navigation_offers_students_their_progress():
    student_home = _client(UserFactory()).get("/").content.decode()
    staff_home = _client(AdminFactory()).get("/").content.decode()
    assert '<a href="/me/">My progress</a>' in student_home
    assert '<a href="/me/">My progress</a>' not in staff_home
    assert "At-risk" in staff_home


def test_the_pages_run_no_inline_script(ada):
    for path in PAGES:
        html = _client(ada).get(path).content.decode()
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], path
        assert " style=" not in html, path


def test_staff_browse_moments_in_the_admin_and_open_the_learners_pages(ada):
    staff = _client(AdminFactory(is_superuser=True))
    moment = Moment.objects.filter(user=ada, kind="level_up").get()

    listing = staff.get("/admin/gamification/moment/", {"q": "ext-ada"})
    detail = staff.get(f"/admin/gamification/moment/{moment.pk}/change/")

    assert listing.status_code == 200
    assert "Level 2: Apprentice" in _text(listing)
    assert 'href="/me/?as=ext-ada"' in detail.content.decode()
    assert staff.get("/admin/gamification/moment/add/").status_code == 403


def test_a_leaderboard_of_a_course_the_learner_is_not_in_falls_back_to_all_courses(ada):
    other = CourseFactory(title="Someone else's course")

    response = _client(ada).get("/me/leaderboards/", {"period": "monthly", "course": other.pk})

    assert response.status_code == 200
    text = _text(response)
    assert "Leaderboard · This month" in text
    assert "Someone else's course" not in text
    # The board is the all-courses one, where Ada has XP (none in the other course's).
    assert 'data-my-rank="1"' in response.content.decode()


def test_a_learner_sees_the_board_of_a_course_they_are_in(ada, django_capture_on_commit_callbacks):
    course = CourseFactory(title="Python 101")
    EnrollmentFactory(user=ada, course=course)
    with django_capture_on_commit_callbacks(execute=True):
        award(ada, "lesson_completed", reference="lesson:py-1", course_id=course.pk)

    response = _client(ada).get("/me/leaderboards/", {"period": "all_time", "course": course.pk})

    text = _text(response)
    assert "Leaderboard · All time · Python 101" in text
    assert "You are #1 of 1 with 50 XP in all" in text  # only the course's XP counts
    assert f'<option value="{course.pk}" selected>Python 101</option>' in response.content.decode()
