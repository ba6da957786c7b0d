import pytest
from django.core.management import call_command

from accounts.models import User
from engagement.models import Alert, EngagementScore, Event, PersonalizationProfile, ScoringRun
from learning.models import Course, Enrollment, Lesson, LessonProgress

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
    )


def test_seed_demo_is_idempotent_and_brings_every_page_to_life(capsys):
    call_command("seed_demo", "--students", "60", "--days", "45", "--seed", "3")
    first = counts()
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
    assert "Demo ready" in capsys.readouterr().out
