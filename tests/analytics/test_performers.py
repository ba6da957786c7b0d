"""Star performers end to end on a generated history: what is stored, reruns, the command, the
nightly task, the API and the page with who may see what."""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import User
from analytics import tasks
from analytics.models import PerformerFactor, PerformerMember, PerformerRun
from analytics.selectors.performers import performer_members, performers_snapshot
from analytics.services.performers import performers_compute
from tests.accounts.factories import AdminFactory, UserFactory
from tests.analytics.performers_history import LEARNERS, make_performers_history
from tests.analytics.test_pages_overview import signed_in, staff

pytestmark = pytest.mark.django_db

PAGE = "/dashboard/analytics/performers/"
API = "/api/v1/analytics/performers/"


@pytest.fixture
def history():
    return make_performers_history()


@pytest.fixture
def computed(history):
    performers_compute()
    return history


def _ids(users):
    return [u.external_id for u in users]


def test_each_course_is_segmented_into_its_top_and_bottom_ten_percent(computed):
    h = computed
    run = PerformerRun.objects.get(scope="course", course=h.algebra)
    assert run.population == LEARNERS and run.star_count == run.lagging_count == 5
    snapshot = performers_snapshot(course=h.algebra)
    # Five of the strongest (the last made; the very top ones tie, the smaller id first) are
    # the stars, five of the weakest lag.
    stars, lagging = snapshot.segments["star"].learners, snapshot.segments["lagging"].learners
    assert len(stars) == len(lagging) == 5
    assert set(stars) <= set(_ids(h.learners[-8:]))
    assert set(lagging) <= set(_ids(h.learners[:8]))
    assert len(snapshot.segments["average"].learners) == 40
    assert run.star_threshold == snapshot.segments["star"].min_score
    assert run.lagging_threshold == snapshot.segments["lagging"].max_score
    assert run.star_threshold >= snapshot.segments["average"].max_score  # ties: by id
    assert run.lagging_threshold <= snapshot.segments["average"].min_score
    # 12 learners in Biology, none active there: still 1 star and 1 lagging, by id.
    biology = PerformerRun.objects.get(scope="course", course=h.biology)
    assert (biology.population, biology.star_count) == (12, 1)
    # Two in Chemistry: too few to segment.
    chemistry = PerformerRun.objects.get(scope="course", course=h.chemistry)
    assert (chemistry.population, chemistry.star_count, chemistry.star_threshold) == (2, 0, None)


def test_the_planted_difference_is_a_presented_factor_with_a_recommendation(computed):
    factors = {f.signal: f for f in performers_snapshot(course=computed.algebra).factors}
    video = factors["video_28d"]
    assert video.star_mean > 40 and video.lagging_mean == 0
    assert video.p_value_holm < 0.05 and video.cohen_d >= 0.2
    assert "star performers" in video.sentence and "videos watched" in video.sentence
    assert "video" in video.recommendation.lower()
    # The score's own ingredients are never offered as a factor.
    assert not {"progress", "recency_days", "active_days_28d"} & set(factors)
    stored = PerformerFactor.objects.filter(run__course=computed.algebra)
    assert stored.filter(significant=False).exists()  # compared, not presented


def test_overall_every_learner_once_and_instructors_among_themselves(computed):
    h = computed
    overall = PerformerRun.objects.get(scope="overall")
    assert overall.population == LEARNERS
    first = PerformerMember.objects.get(run=overall, user=h.learners[0])
    assert first.enrollments == 2  # Algebra and Biology: the mean of both
    instructors = PerformerRun.objects.get(scope="instructors")
    members = {m.user_id: m for m in PerformerMember.objects.filter(run=instructors)}
    assert members[h.instructors[0].pk].segment == "star"
    assert members[h.instructors[0].pk].enrollments == LEARNERS
    assert members[h.instructors[0].pk].components["star_share"] == pytest.approx(0.1)
    assert members[h.instructors[2].pk].segment == "lagging"  # ties Biology at 0, later id


def test_a_rerun_replaces_the_snapshot_instead_of_adding_one(computed):
    counts = (
        PerformerRun.objects.count(),
        PerformerMember.objects.count(),
        PerformerFactor.objects.count(),
    )
    performers_compute()
    performers_compute(course=computed.algebra)
    assert counts == (
        PerformerRun.objects.count(),
        PerformerMember.objects.count(),
        PerformerFactor.objects.count(),
    )
    assert counts[0] == 5  # three courses, all learners, all instructors


def test_the_snapshot_and_the_members_read_without_a_query_per_learner(
    computed, django_assert_num_queries
):
    with django_assert_num_queries(4):  # run, segment sizes, the learners, factors
        snapshot = performers_snapshot(course=computed.algebra)
    assert snapshot.factors
    with django_assert_num_queries(1):
        members = performer_members(run=snapshot.run)
        names = [m.user.get_full_name() for m in members]
    assert len(names) == LEARNERS


def test_the_command_analyses_one_course_or_says_it_is_unknown(history):
    out = io.StringIO()
    call_command("analyse_performers", "--course", "algebra-1", stdout=out)
    assert "1 scopes" in out.getvalue() and "courses: 1/1" in out.getvalue()
    assert PerformerRun.objects.filter(scope="course").count() == 1
    with pytest.raises(CommandError, match="no-such"):
        call_command("analyse_performers", "--course", "no-such")
    call_command("analyse_performers", stdout=io.StringIO())
    assert PerformerRun.objects.count() == 5


def test_the_nightly_task_is_on_the_beat_and_stores_every_scope(history, eager):
    assert settings.CELERY_BEAT_SCHEDULE["analytics.performers"]["task"] == "analytics.performers"
    assert tasks.performers.delay().get() == 5
    assert PerformerRun.objects.count() == 5


def test_the_api_answers_segments_and_factors(computed, make_key):
    body = make_key("analytics:read").get(f"{API}?course=algebra-1").json()
    assert body["course"] == "algebra-1" and body["population"] == LEARNERS
    star = body["segments"]["star"]
    assert (
        star["learners"] == performers_snapshot(course=computed.algebra).segments["star"].learners
    )
    assert star["count"] == 5
    assert star["threshold"] == star["min_score"]
    assert body["segments"]["lagging"]["threshold"] == body["segments"]["lagging"]["max_score"]
    video = next(f for f in body["factors"] if f["signal"] == "video_28d")
    assert set(video) >= {"star_mean", "lagging_mean", "cohen_d", "p_value", "p_value_holm"}
    assert all(f["p_value_holm"] < 0.05 for f in body["factors"])
    overall = make_key("analytics:read").get(API).json()
    assert overall["course"] is None and overall["population"] == LEARNERS


def test_the_api_lists_the_first_learners_of_each_segment_and_counts_them_all(computed, make_key):
    client = make_key("analytics:read")
    whole = client.get(f"{API}?course=algebra-1&limit=1000").json()["segments"]
    short = client.get(f"{API}?course=algebra-1&limit=2").json()["segments"]
    for name in ("star", "average", "lagging"):
        assert short[name]["learners"] == whole[name]["learners"][:2]
        assert short[name]["count"] == whole[name]["count"] == len(whole[name]["learners"])
    assert whole["average"]["count"] > 2
    default = client.get(API).json()["segments"]["average"]
    assert len(default["learners"]) == min(default["count"], 100)
    for bad in ("0", "1001", "many"):
        response = client.get(f"{API}?limit={bad}")
        assert response.status_code == 400 and "limit" in str(response.json())


def test_the_api_before_any_run_and_its_errors(history, make_key):
    client = make_key("analytics:read")
    empty = client.get(API).json()
    assert empty["computed_at"] is None and empty["segments"]["star"]["learners"] == []
    response = client.get(f"{API}?course=no-such")
    assert response.status_code == 400 and "course" in response.json()["fields"]
    assert make_key("events:write").get(API).status_code == 403


def test_an_instructor_reads_their_own_course_only(computed, api_client):
    api_client.force_login(computed.instructors[0])
    assert api_client.get(f"{API}?course=algebra-1").status_code == 200
    assert api_client.get(f"{API}?course=biology-1").status_code == 403
    assert api_client.get(API).status_code == 403
    api_client.force_login(computed.learners[0])
    assert api_client.get(f"{API}?course=algebra-1").status_code == 403


def test_staff_see_segments_factors_stars_and_instructors(computed):
    response = staff().get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page">Performers' in html
    assert 'data-segment="star">5<' in html and 'data-segment="lagging">5<' in html
    assert 'id="score-distribution"' in html and 'id="factor-effects"' in html
    # The strongest signal of each recommendation is spelled out (each advice once), the
    # other significant signals are listed below them.
    shown = re.findall(r"<p>Recommendation: ([^<]+)</p>", html)
    assert 1 <= len(shown) <= 6 and len(set(shown)) == len(shown)
    assert "more significant signals measuring the same behaviours" in html
    assert "star performers" in html and "on average, lagging ones" in html
    assert any(
        f'href="/dashboard/engagement/learners/{u.pk}/"' in html for u in computed.learners[-4:]
    )
    assert "Ada Teacher" in html and 'id="instructors"' in html
    assert 'Progress</th><td class="num">30%' in html  # the definition, on the page


def test_an_instructor_sees_their_course_and_no_one_elses(computed):
    client = signed_in(computed.instructors[1])
    html = client.get(f"{PAGE}?course=algebra-1").content.decode()
    assert "Biology" in html and 'data-segment="star">1<' in html  # their own, not Algebra's
    assert 'id="instructors"' not in html and "/dashboard/engagement/learners/" not in html
    assert "Performers" in html


def test_students_get_403_and_visitors_the_login_page(computed):
    assert signed_in(UserFactory(role=User.Role.STUDENT)).get(PAGE).status_code == 403
    response = Client().get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_empty_state_says_what_to_do(history):
    html = staff().get(PAGE).content.decode()
    assert "No performers computed yet" in html and "manage.py analyse_performers" in html


def test_the_members_export_as_csv(computed):
    response = staff().get(f"{PAGE}?course=algebra-1&format=csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("rank,learner,segment,score,progress,quiz")
    assert len(lines) == 1 + LEARNERS
    assert lines[1].startswith("1,") and ",star," in lines[1]
    scores = [float(line.split(",")[3]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)


def test_the_admin_shows_runs_with_their_factors_and_members_read_only(computed):
    client = signed_in(AdminFactory(email="root@example.com", is_superuser=True))
    run = PerformerRun.objects.get(scope="course", course=computed.algebra)
    runs = client.get("/admin/analytics/performerrun/")
    detail = client.get(f"/admin/analytics/performerrun/{run.pk}/change/")
    members = client.get("/admin/analytics/performermember/?segment=star")
    assert runs.status_code == detail.status_code == members.status_code == 200
    assert "Algebra I" in runs.content.decode()
    assert "video_28d" in detail.content.decode()
    assert "/admin/analytics/performerrun/add/" not in runs.content.decode()
