"""The analytics admin: staff read the aggregates and runs; nobody edits them there."""

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from analytics.services.aggregates import aggregates_refresh
from tests.accounts.factories import AdminFactory, UserFactory
from tests.analytics.history import DAY
from tests.engagement.factories import make_events
from tests.learning.factories import CourseFactory

pytestmark = pytest.mark.django_db

ADMIN = "/admin/analytics"


@pytest.fixture
def admin_client() -> Client:
    superuser: User = AdminFactory(
        email="root@example.com", password="pw-root-12345", is_superuser=True
    )
    client = Client()
    client.force_login(superuser)
    return client


def test_the_aggregates_list_shows_the_days_and_is_read_only(admin_client):
    course = CourseFactory(title="Python 101")
    learner = UserFactory()
    make_events(learner, [("login", timezone.now() - 2 * DAY)], course=course)
    aggregates_refresh()

    page = admin_client.get(f"{ADMIN}/dailyaggregate/")
    runs = admin_client.get(f"{ADMIN}/aggregaterun/")

    assert page.status_code == 200 and runs.status_code == 200
    html = page.content.decode()
    assert "Python 101" in html
    assert "100%" in html  # the active day's stickiness: 1 of 1 monthly learner
    assert "Incremental refresh" in runs.content.decode()
    assert admin_client.get(f"{ADMIN}/dailyaggregate/add/").status_code == 403


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the activity store is PostgreSQL's",
)
def test_the_stored_activity_is_listed_per_course_and_word(admin_client):
    course = CourseFactory(title="Python 101")
    make_events(UserFactory(), [("login", timezone.now() - 2 * DAY)], course=course)
    aggregates_refresh()

    page = admin_client.get(f"{ADMIN}/activitybitmap/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Python 101" in html
    assert admin_client.get(f"{ADMIN}/activitybitmap/add/").status_code == 403


def test_every_analytics_model_has_an_admin_page_that_opens_after_a_night(admin_client):
    from django.apps import apps
    from django.contrib import admin

    from analytics.services.nightly import analytics_derive

    course = CourseFactory(title="Python 101")
    make_events(UserFactory(), [("login", timezone.now() - 2 * DAY)], course=course)
    aggregates_refresh()
    analytics_derive()

    models = apps.get_app_config("analytics").get_models()
    missing = [m.__name__ for m in models if m not in admin.site._registry]
    assert missing == []
    for model in apps.get_app_config("analytics").get_models():
        url = f"{ADMIN}/{model._meta.model_name}/"
        assert admin_client.get(url).status_code == 200, url
