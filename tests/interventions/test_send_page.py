"""Staff send a template from the at-risk list or a learner's page: preview, then send once."""

from __future__ import annotations

import pytest
from django.utils import timezone

from interventions.models import ChannelOptOut, Delivery
from tests.accounts.factories import UserFactory
from tests.engagement.factories import make_run, make_score
from tests.interventions.factories import default_template
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db
URL = "/dashboard/interventions/send/"


@pytest.fixture
def at_risk():
    course = CourseFactory(title="Python")
    run = make_run(timezone.localdate())
    ada, bo, cy = UserFactory(first_name="Ada"), UserFactory(), UserFactory()
    make_score(run, ada, 90, course=course)
    make_score(run, bo, 75, course=course)
    make_score(run, cy, 20, course=course)
    ChannelOptOut.objects.create(user=bo, channel="email")
    default_template("gentle-reminder")
    return {"ada": ada, "bo": bo, "cy": cy, "course": course}


def test_the_at_risk_list_links_to_sending_with_its_filters(admin_client, at_risk):
    html = admin_client.get("/dashboard/engagement/at-risk/?threshold=60").content.decode()
    assert f'href="{URL}?threshold=60' in html


def test_preview_counts_who_would_get_it_and_shows_the_message_then_sends_once(
    admin_client, at_risk
):
    query = {"threshold": "60", "template": "gentle-reminder", "channel": "email", "batch": "b1"}
    preview = admin_client.get(URL, query).content.decode()
    assert "<strong data-would-queue>1</strong> learner would get" in preview
    assert "1 skipped: turned this channel off" in preview
    assert "Ada, your next lesson is waiting" in preview
    assert not Delivery.objects.exists()  # a preview writes nothing

    for _ in range(2):  # a double submit
        response = admin_client.post(URL, query)
        assert response.status_code == 302
    assert list(Delivery.objects.values_list("user_id", flat=True)) == [at_risk["ada"].pk]
    assert Delivery.objects.get().course == at_risk["course"]


def test_one_learner_from_their_page(admin_client, at_risk):
    learner_page = admin_client.get(f"/dashboard/engagement/learners/{at_risk['cy'].pk}/")
    assert f"{URL}?user={at_risk['cy'].pk}" in learner_page.content.decode()
    query = {"user": str(at_risk["cy"].pk), "template": "gentle-reminder", "batch": "b2"}
    admin_client.post(URL, query)
    assert list(Delivery.objects.values_list("user_id", flat=True)) == [at_risk["cy"].pk]


def test_nobody_matching_says_what_to_do(admin_client, at_risk):
    html = admin_client.get(URL, {"threshold": "99"}).content.decode()
    assert "Nobody to message" in html


def test_students_cannot_send(client, at_risk):
    client.force_login(at_risk["ada"])
    assert client.get(URL).status_code == 403
    assert (
        client.post(URL, {"user": str(at_risk["bo"].pk), "template": "gentle-reminder"}).status_code
        == 403
    )
