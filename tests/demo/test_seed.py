import pytest
from django.core.management import call_command

from accounts.models import User
from learning.models import Course, Enrollment, Lesson

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        Course.objects.count(),
        Lesson.objects.count(),
        Enrollment.objects.count(),
    )


def test_seed_demo_is_idempotent_and_spans_timezones(capsys):
    call_command("seed_demo", "--students", "40", "--seed", "3")
    first = counts()
    call_command("seed_demo", "--students", "40", "--seed", "3")

    assert counts() == first
    assert first[0] == 43  # 3 instructors + 40 students
    students = User.objects.filter(role="student")
    assert students.values("timezone").distinct().count() >= 4
    assert Enrollment.objects.filter(user__in=students).values("user").distinct().count() == 40
    assert Course.objects.filter(instructor__role="instructor").count() == Course.objects.count()
    assert "Demo ready" in capsys.readouterr().out
