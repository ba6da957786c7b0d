"""Delivery statistics: counted from the deliveries, on the dashboard and through the API."""

from __future__ import annotations

import datetime

import plotly.graph_objects as go
import pytest
from django.utils import timezone

from interventions import charts
from interventions.models import Delivery
from interventions.selectors.stats import delivery_stats, delivery_trend
from interventions.services.conversions import delivery_conversion_record
from interventions.services.deliveries import deliveries_queue, deliveries_send_due
from interventions.services.tracking import delivery_link_click
from tests.accounts.factories import UserFactory
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    """Ten in-app messages of one template sent an hour ago: 4 clicked (so opened), of which 1
    converted; five emails of another to five other learners, none opened."""
    now = timezone.now() - datetime.timedelta(hours=1)
    nudge = MessageTemplateFactory(slug="nudge", name="Nudge", channel="in_app")
    mail = MessageTemplateFactory(slug="mail", name="Mail", channel="email")
    learners, readers = UserFactory.create_batch(10), UserFactory.create_batch(5)
    ids = deliveries_queue(template=nudge, user_ids=[u.pk for u in learners], source="a", now=now)
    deliveries_queue(template=mail, user_ids=[u.pk for u in readers], source="b", now=now)
    deliveries_send_due(now=now)
    clicked = list(ids.queued.values())[:4]
    for delivery_id in clicked:
        delivery_link_click(delivery_id=delivery_id, position=0)
    delivery_conversion_record(delivery_id=clicked[0], at=timezone.now())
    return nudge, mail


def test_counts_and_rates_per_template(history):
    rows = {row.key: row for row in delivery_stats(by="template", days=7)}
    nudge, mail = rows["nudge"], rows["mail"]
    assert (nudge.sent, nudge.delivered, nudge.opened, nudge.clicked, nudge.converted) == (
        10,
        10,
        4,
        4,
        1,
    )
    assert (nudge.open_rate, nudge.click_rate, nudge.conversion_rate) == (0.4, 0.4, 0.1)
    assert nudge.median_minutes_to_open is not None and nudge.median_minutes_to_open >= 59
    assert (mail.sent, mail.opened, mail.open_rate, mail.median_minutes_to_open) == (
        5,
        0,
        0.0,
        None,
    )
    channels = {row.key: row.sent for row in delivery_stats(by="channel", days=7)}
    assert channels == {"in_app": 10, "email": 5}


def test_the_trend_has_every_day_and_the_charts_are_valid_plotly(history):
    trend = delivery_trend(days=7)
    assert len(trend) == 7 and sum(d.sent for d in trend) == 15
    go.Figure(charts.delivery_trend_figure(trend))
    go.Figure(charts.rates_figure(delivery_stats(days=7)))


def test_the_dashboard_shows_the_figures_and_an_empty_state(admin_client, history):
    page = admin_client.get("/dashboard/interventions/?by=template&days=7")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-stat="sent">15<' in html and 'data-key="nudge"' in html
    assert "trend-chart" in html and "rates-chart" in html
    Delivery.objects.all().delete()
    empty = admin_client.get("/dashboard/interventions/").content.decode()
    assert "No messages sent in the last 30 days" in empty


def test_students_cannot_open_the_dashboard(client):
    client.force_login(UserFactory())
    assert client.get("/dashboard/interventions/").status_code == 403


def test_the_stats_api_needs_its_scope_and_names_bad_parameters(make_key, history):
    reader = make_key("interventions:read")
    body = reader.get("/api/v1/interventions/stats/", {"by": "channel", "days": 7}).json()
    assert {row["key"]: row["sent"] for row in body["rows"]} == {"in_app": 10, "email": 5}
    assert len(body["trend"]) == 7
    bad = reader.get("/api/v1/interventions/stats/", {"by": "colour"})
    assert bad.status_code == 400 and "by" in bad.json()["fields"]
    assert reader.get("/api/v1/interventions/stats/", {"days": "0"}).status_code == 400
    assert make_key("users:read").get("/api/v1/interventions/stats/").status_code == 403


def test_gamification_notices_are_not_counted_as_interventions(
    history, django_capture_on_commit_callbacks
):
    from gamification.services.moments import moment_record

    learner = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        moment_record(user_id=learner.pk, kind="level_up", title="Level 2", dedupe_key="l2")
    assert Delivery.objects.filter(template__slug="gamification-moment").count() == 1
    assert sum(row.sent for row in delivery_stats(days=7)) == 15
    assert sum(day.sent for day in delivery_trend(days=7)) == 15
