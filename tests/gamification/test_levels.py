"""Levels: the curves, progress to the next level, and re-deriving learners' levels."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import DomainValidationError
from gamification.models import LearnerGameProfile, Level, LevelScheme, Moment
from gamification.selectors.levels import level_progress, level_table
from gamification.services.levels import level_scheme_update, level_thresholds
from tests.gamification.factories import learner_with_xp

pytestmark = pytest.mark.django_db


def thresholds() -> list[int]:
    return list(Level.objects.order_by("number").values_list("threshold_xp", flat=True))


def level_of(user) -> int:
    return LearnerGameProfile.objects.get(user=user).level


# --- curves ----------------------------------------------------------------------------------


def test_the_curves_give_the_thresholds_they_promise():
    assert level_thresholds(curve="flat", base=100, factor=1, count=5) == [0, 100, 200, 300, 400]
    assert level_thresholds(curve="linear", base=100, factor=1, count=5) == [0, 100, 300, 600, 1000]
    # Level Up XP's defaults: base 120, factor 1.3.
    assert level_thresholds(curve="snowball", base=120, factor="1.3", count=10) == [
        0, 120, 276, 479, 743, 1086, 1532, 2112, 2866, 3846,
    ]  # fmt: skip


# --- progress --------------------------------------------------------------------------------


def test_progress_knows_the_way_to_the_next_level():
    start = level_progress(0)
    middle = level_progress(400)  # Apprentice spans 250..625
    exact = level_progress(625)

    assert (start.level, start.name, start.xp_into_level, start.share) == (1, "Novice", 0, 0.0)
    assert (start.next_level, start.next_threshold_xp, start.xp_to_next) == (2, 250, 250)
    assert (middle.level, middle.name, middle.xp_into_level, middle.xp_for_next) == (
        2,
        "Apprentice",
        150,
        375,
    )
    assert middle.xp_to_next == 225 and middle.share == pytest.approx(0.4)
    assert (exact.level, exact.name, exact.xp_into_level) == (3, "Explorer", 0)
    assert not middle.is_top_level


def test_the_top_level_says_so():
    top = level_progress(50_000)
    assert (top.level, top.name, top.is_top_level, top.share) == (10, "Grandmaster", True, 1.0)
    assert (top.next_level, top.xp_for_next, top.xp_to_next) == (None, None, None)
    assert top.xp_into_level == 50_000 - 18_729


def test_progress_reads_the_table_in_one_query_or_none(django_assert_num_queries):
    with django_assert_num_queries(1):
        table = level_table()
    with django_assert_num_queries(0):
        assert level_progress(700, table=table).level == 3


# --- changing the scheme ---------------------------------------------------------------------


def test_a_new_curve_recomputes_thresholds_and_rederives_every_learner_in_one_update():
    learners = [learner_with_xp(xp) for xp in (10, 120, 450, 900, 5000)]
    before = [level_of(user) for user in learners]
    moments_before = Moment.objects.count()

    with CaptureQueriesContext(connection) as queries:
        level_scheme_update(curve="flat", base=100, factor=1)

    assert before == [1, 1, 2, 3, 6]
    assert thresholds() == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]
    assert [level_of(user) for user in learners] == [1, 2, 5, 10, 10]
    updates = [q["sql"] for q in queries.captured_queries if "learnergameprofile" in q["sql"]]
    assert len(updates) == 1 and updates[0].startswith("UPDATE")
    scheme = LevelScheme.objects.get()
    assert (scheme.curve, scheme.base) == ("flat", 100)
    assert Moment.objects.count() == moments_before  # nobody earned anything


def test_manual_thresholds_must_start_at_zero_and_rise():
    user = learner_with_xp(1000)
    wanted = dict(enumerate([0, 10, 20, 30, 40, 50, 60, 70, 80, 900], start=1))

    level_scheme_update(curve="manual", base=1, factor=1, thresholds=wanted, names={10: "Legend"})

    assert thresholds() == list(wanted.values())
    assert level_of(user) == 10
    assert Level.objects.get(number=10).name == "Legend"
    for bad in ({1: 5}, {4: 20}):
        with pytest.raises(DomainValidationError) as caught:
            level_scheme_update(curve="manual", base=1, factor=1, thresholds={**wanted, **bad})
        assert list(caught.value.fields) == ["thresholds"]
    assert thresholds() == list(wanted.values())


def test_a_bad_curve_or_factor_is_refused_naming_the_field():
    for fields, field in (
        ({"curve": "zigzag", "base": 10, "factor": 1}, "curve"),
        ({"curve": "snowball", "base": 10, "factor": "0.5"}, "factor"),
        ({"curve": "flat", "base": 0, "factor": 1}, "base"),
    ):
        with pytest.raises(DomainValidationError) as caught:
            level_scheme_update(**fields)
        assert list(caught.value.fields) == [field]
