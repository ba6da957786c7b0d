import datetime
import io
import re
import shutil

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from analytics.models import (
    DailyAggregate,
    DailyRevenue,
    Forecast,
    FunnelProgress,
    RetentionCell,
)
from engagement.models import Alert, EngagementScore, Event, PersonalizationProfile, ScoringRun
from gamification.models import (
    AchievementUnlock,
    LeagueMembership,
    LeagueWeek,
    LearnerGameProfile,
    Moment,
    RewardGrant,
    RewardUse,
    StreakDay,
    XpTransaction,
)
from gamification.selectors.leaderboards import key_prefix, redis_client
from gamification.selectors.leagues import week_closes_at, week_start
from gamification.selectors.summary import learner_gamification_summary
from interventions.models import Delivery
from learning.models import Course, Enrollment, Lesson, LessonProgress
from video.models import LessonVideo
from video.selectors import video_analytics

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Course.objects.count(),
        Lesson.objects.count(),
        Enrollment.objects.count(),
        Event.objects.count(),
        ScoringRun.objects.count(),
        Alert.objects.count(),
        XpTransaction.objects.count(),
        StreakDay.objects.count(),
        AchievementUnlock.objects.count(),
        LeagueMembership.objects.count(),
        RewardGrant.objects.count(),
        RewardUse.objects.count(),
        Moment.objects.count(),
    )


@pytest.fixture(autouse=True)
def _fresh_boards():
    """Redis outlives the test's rolled-back database: start with empty leaderboards."""
    client = redis_client()
    if client is not None:
        keys = list(client.scan_iter(match=f"{key_prefix()}:*", count=1000))
        if keys:
            client.unlink(*keys)


def test_seed_demo_is_idempotent_and_brings_every_page_to_life(
    capsys, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path  # the demo video's files
    # What runs after a commit (new XP handed to the leaderboards and leagues) runs too, at
    # the end of each seeding, inside the test's transaction.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--students", "60", "--days", "45", "--seed", "3")
    first = counts()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--students", "60", "--days", "45", "--seed", "3")

    assert counts() == first
    assert first[0] == 63  # 3 instructors + 60 students
    students = User.objects.filter(role="student")
    assert students.values("timezone").distinct().count() >= 4
    assert Enrollment.objects.filter(user__in=students).values("user").distinct().count() == 60
    assert Course.objects.filter(instructor__role="instructor").count() == Course.objects.count()
    # Behaviour went through ingestion and its follow-ups...
    assert Event.objects.filter(source="demo").values("type").distinct().count() >= 10
    assert LessonProgress.objects.filter(completed_at__isnull=False).exists()
    # ...and on into scores with a spread of levels, alerts and profiles.
    run = ScoringRun.objects.get()
    assert run.status == "done"
    # A model fitted on 60 learners spreads them differently from one day (and database) to the
    # next; what must hold is that it tells the fading learners from the steady ones.
    risks = sorted(EngagementScore.objects.filter(run=run).values_list("drop_off_risk", flat=True))
    levels = set(EngagementScore.objects.filter(run=run).values_list("level", flat=True))
    assert len(levels) >= 2, levels
    assert risks[-1] - risks[len(risks) // 2] >= 30, risks
    assert Alert.objects.exists()
    assert PersonalizationProfile.objects.count() >= 30
    out = capsys.readouterr().out
    assert "Demo ready" in out
    _assert_gamification(students, out)
    _assert_interventions(out)
    _assert_campaigns(out)
    _assert_video(out)
    _assert_analytics(out)


def _assert_analytics(out: str) -> None:
    """The history is aggregated, so the analytics pages have every day of it to show."""
    platform = DailyAggregate.objects.filter(course=None)
    assert platform.count() >= 45
    assert platform.filter(dau__gt=0).count() >= 40
    assert platform.order_by("-mau").first().mau >= 30
    courses = DailyAggregate.objects.exclude(course=None).values("course").distinct().count()
    assert courses == Course.objects.count()
    # Revenue in both currencies, ratings, and what the nightly run derives from them all.
    assert set(DailyRevenue.objects.values_list("currency", flat=True)) == {"EUR", "USD"}
    assert platform.filter(rating_count__gt=0).count() >= 10
    assert FunnelProgress.objects.count() == Enrollment.objects.count()
    assert RetentionCell.objects.filter(week_offset__gt=0, retained__gt=0).exists()
    # Learners signed up when they first enrolled: signup cohorts span the history.
    signup_weeks = RetentionCell.objects.filter(cohort_kind="signup", course=None, breakdown="all")
    assert signup_weeks.values("cohort_week").distinct().count() >= 6
    dau = Forecast.objects.get(course=None, metric="dau", currency="")
    assert dau.model and len(dau.points) == 30 and dau.backtest_mape is not None
    assert "Analytics:" in out and "/dashboard/analytics/" in out


def _assert_gamification(students, out: str) -> None:
    """The same behaviour earned XP, levels, streaks (some saved by freezes), achievements and
    leagues with a closed week, as a demo student would see on their pages."""
    profiles = LearnerGameProfile.objects.filter(user__in=students)
    assert profiles.filter(total_xp__gt=0).count() >= 50
    assert profiles.values("level").distinct().count() >= 3
    assert profiles.filter(level__gte=3).exists()
    assert profiles.filter(longest_streak__gte=5).exists()
    assert profiles.filter(current_streak__gt=0).exists()
    # Freezes: welcome gifts and milestone rewards, some spent on missed days.
    assert RewardGrant.objects.filter(source="welcome").count() == 15  # every fourth of 60
    assert StreakDay.objects.filter(status="frozen").exists()
    assert RewardUse.objects.filter(reward__code="streak_freeze").exists()
    # Achievements unlocked once each, with a spread of rarities.
    assert AchievementUnlock.objects.filter(achievement__code="first-steps").count() >= 20
    assert AchievementUnlock.objects.values("achievement__rarity").distinct().count() >= 2
    # Staff grants, with their reasons.
    grants = XpTransaction.objects.filter(kind="grant")
    assert grants.count() == 3
    assert all(grant.reason for grant in grants)
    # Leagues: four weeks closed in turn, with promotions that moved learners up a tier.
    assert LeagueWeek.objects.filter(status="closed").count() == 4
    assert LeagueMembership.objects.filter(outcome="promoted").exists()
    assert profiles.exclude(league_tier="bronze").exists()
    now = timezone.now()
    this_week = week_start(now.astimezone(datetime.UTC).date())
    if now >= week_closes_at(this_week - datetime.timedelta(weeks=1)):
        # This week's leagues formed with the tiers last week gave.
        members = LeagueMembership.objects.filter(week__starts_on=this_week)
        assert members.exists()
        assert all(
            m.league.tier == m.user.game_profile.league_tier
            for m in members.select_related("league", "user__game_profile")
        )
    assert Moment.objects.filter(kind="league_result").exists()
    assert Moment.objects.filter(kind="level_up").exists()

    # The busiest student is named for signing in, and their page shows what they earned.
    named = re.search(r"sign_in_link (demo-student-\d+)", out)
    assert named, out
    student = User.objects.get(external_id=named.group(1))
    summary = learner_gamification_summary(user_id=student.pk)
    assert summary.total_xp == max(p.total_xp for p in profiles)
    assert summary.level.number >= 3
    assert summary.unlocked
    client = Client()
    client.force_login(student)
    page = client.get("/me/").content.decode()
    assert f'data-stat="xp">{summary.total_xp}<' in page
    assert f'data-stat="level">{summary.level.number}<' in page
    # `make run` prints a one-time link for the same student: it signs them in.
    printed = io.StringIO()
    call_command("demo_sign_in", "--site", "http://demo.example", stdout=printed)
    link = re.search(r"open http://demo\.example(/accounts/sign-in/[^/\s]+/)", printed.getvalue())
    assert link, printed.getvalue()
    browser = Client()
    assert browser.get(link.group(1))["Location"] == "/me/"
    assert browser.session["_auth_user_id"] == str(student.pk)


def _assert_interventions(out: str) -> None:
    """Two weeks of in-app messages, sent once although the demo was seeded twice, some read,
    clicked and converted, as the delivery admin and the students' Messages pages show."""
    delivered = Delivery.objects.filter(channel="in_app").exclude(sent_at=None)
    assert delivered.count() >= 50
    assert delivered.values("user", "source").distinct().count() == delivered.count()
    statuses = set(delivered.values_list("status", flat=True))
    assert {"opened", "clicked", "converted"} <= statuses
    assert "Interventions:" in out and "in-app messages sent" in out


def _assert_campaigns(out: str) -> None:
    """The three demo campaigns, each with the history beat and the workers would have made."""
    from campaigns.models import Campaign, DripProgress

    weekly = Campaign.objects.get(name="Weekly re-engagement")
    assert weekly.status == "active" and weekly.next_run_at > timezone.now()
    assert weekly.runs.filter(status="done").count() >= 3
    assert weekly.runs.filter(queued__gt=0).exists()
    announcement = Campaign.objects.get(name="New course announcement")
    assert announcement.status == "completed"
    assert announcement.runs.get().queued > 0
    drip = Campaign.objects.get(name="Onboarding drip")
    assert drip.status == "active"
    assert DripProgress.objects.filter(campaign=drip).values("step").distinct().count() >= 2
    assert Delivery.objects.filter(source__startswith=drip.source_prefix).exists()
    assert "Campaigns:" in out
    _assert_experiments(weekly)


def _assert_experiments(weekly) -> None:
    """The weekly campaign's arms experiment sent each learner their arm and logged the sends; the
    platform experiment has two weeks of assignments with results in both variants."""
    from campaigns.models import Experiment
    from campaigns.selectors.experiments import experiment_results
    from core.assignment import variant_assign

    arms = Experiment.objects.get(key="weekly-tone", campaign=weekly, status="running")
    sent = dict(
        Delivery.objects.filter(source__startswith=weekly.source_prefix).values_list(
            "user_id", "template__slug"
        )
    )
    assert sent
    template_of = {"control": "gentle-reminder", "peers": "peer-comparison"}
    weights = [("control", 50), ("peers", 50)]
    # Each learner the weekly runs reached got their arm's message (which arms a small demo
    # fills depends on the learners' ids), and each send was logged as the exposure.
    assert sent == {uid: template_of[variant_assign(arms.key, uid, weights)] for uid in sent}
    exposed = dict(arms.exposures.values_list("user_id", "variant"))
    assert {uid: template_of[arm] for uid, arm in exposed.items()} == {
        uid: slug for uid, slug in sent.items() if uid in exposed
    }
    assert set(exposed) == set(
        Delivery.objects.filter(
            source__startswith=weekly.source_prefix, sent_at__isnull=False
        ).values_list("user_id", flat=True)
    )
    platform = Experiment.objects.get(key="lesson-recap-card", status="running")
    results = experiment_results(experiment=platform)
    assert min(results.users.values()) >= 20 and sum(results.users.values()) == 60


def _assert_video(out: str) -> None:
    """With ffmpeg, the demo lesson has a ready HLS video and views with drop-offs."""
    if not shutil.which("ffmpeg"):
        assert "Video:" not in out
        return
    video = LessonVideo.objects.get(lesson__external_id="demo-course-01-lesson-01")
    assert video.status == "ready" and video.renditions
    stats = video_analytics(video=video)
    assert stats.views >= 5 and 0 < stats.completion_rate < 1
    assert stats.retention[0] == 1.0 and stats.retention[-1] < 1.0
    assert "Video: a generated clip on lesson demo-course-01-lesson-01" in out
