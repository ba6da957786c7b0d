"""The segment page of the campaigns dashboard: the filter, the audience now, staff only."""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns.services.segments import segment_create
from tests.accounts.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_see_the_segments_filter_and_its_learners_now():
    berlin = UserFactory(timezone="Europe/Berlin", first_name="Bea", last_name="Berlin")
    UserFactory(timezone="Asia/Tokyo", first_name="Taro", last_name="Tokyo")
    segment = segment_create(
        spec={
            "name": "Berliners",
            "filter": {"field": "timezone", "op": "=", "value": "Europe/Berlin"},
        },
        actor=None,
    )
    response = signed_in(AdminFactory()).get(f"/dashboard/campaigns/segments/{segment.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Berliners" in html and 'data-live-count="1"' in html
    assert berlin.email in html and "Taro Tokyo" not in html
    assert "&quot;Europe/Berlin&quot;" in html  # the filter, as JSON


def test_only_staff_see_a_segment():
    segment = segment_create(spec={"name": "Everyone", "filter": {}}, actor=None)
    url = f"/dashboard/campaigns/segments/{segment.pk}/"
    assert signed_in(UserFactory()).get(url).status_code == 403
    assert Client().get(url).status_code == 302
    assert signed_in(AdminFactory()).get("/dashboard/campaigns/segments/999999/").status_code == 404
