"""The campaigns API: create, read, edit, the state actions, runs, segments and the preview,
with scopes and the one error shape."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Segment
from tests.accounts.factories import UserFactory
from tests.campaigns.conftest import run_due
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(make_key):
    return make_key("campaigns:read", "campaigns:write")


def _weekly() -> dict:
    return {
        "name": "Monday nudge",
        "channel": "email",
        "audience": {"filter": {"field": "timezone", "op": "=", "value": "Europe/Paris"}},
        "schedule": {
            "type": "recurring",
            "rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR",
            "time": "09:00",
            "timezone": "Europe/Paris",
        },
        "template": "nudge",
        "learner_local_time": True,
        "holdout_percent": 0,
    }


def test_create_a_recurring_campaign_and_see_its_next_runs(writer, template):
    response = writer.post("/api/v1/campaigns/", _weekly(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert body["kind"] == "recurring"
    assert body["schedule"]["rrule"] == "FREQ=WEEKLY;BYDAY=MO,WE,FR"
    assert body["learner_local_time"] is True
    assert len(body["next_runs"]) == 5
    for moment in body["next_runs"]:
        parsed = datetime.datetime.fromisoformat(moment)
        assert parsed.weekday() in (0, 2, 4)
    assert body["figures"]["sent"] == 0


def test_activate_and_pause_in_one_call_each(writer, template):
    created = writer.post("/api/v1/campaigns/", _weekly(), format="json").json()
    activated = writer.post(f"/api/v1/campaigns/{created['id']}/activate/")
    assert activated.status_code == 200
    assert activated.json()["status"] == "active"
    assert activated.json()["next_run_at"] is not None
    paused = writer.post(f"/api/v1/campaigns/{created['id']}/pause/")
    assert paused.json()["status"] == "paused"
    again = writer.post(f"/api/v1/campaigns/{created['id']}/pause/")
    assert again.status_code == 409
    assert "cannot be paused" in again.json()["fields"]["status"][0]


def test_activation_refused_names_why(writer, template):
    spec = _weekly()
    spec["schedule"] = {"type": "one_time", "at": "2020-01-01T09:00", "timezone": "UTC"}
    created = writer.post("/api/v1/campaigns/", spec, format="json").json()
    response = writer.post(f"/api/v1/campaigns/{created['id']}/activate/")
    assert response.status_code == 400
    assert "in the past" in response.json()["fields"]["schedule.at"][0]
    assert Campaign.objects.get().status == "draft"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ([1, 2], "non_field_errors"),
        ({**_weekly(), "audience": {"filter": {"field": "risk", "op": "~", "value": 1}}}, None),
        ({**_weekly(), "schedule": {"type": "drip", "steps": "soon"}}, "schedule.steps"),
        ({**_weekly(), "template": "nope"}, "template"),
    ],
)
def test_bad_specs_answer_400_naming_the_field(writer, template, body, field):
    response = writer.post("/api/v1/campaigns/", body, format="json")
    assert response.status_code == 400
    fields = response.json()["fields"]
    if field is None:
        assert any(key.startswith("audience.") for key in fields), fields
    else:
        assert field in fields, fields
    assert not Campaign.objects.exists()


def test_edit_a_draft_and_duplicate_it(writer, template):
    created = writer.post("/api/v1/campaigns/", _weekly(), format="json").json()
    edited = writer.patch(
        f"/api/v1/campaigns/{created['id']}/", {"name": "Renamed"}, format="json"
    ).json()
    assert edited["name"] == "Renamed"
    copy = writer.post(f"/api/v1/campaigns/{created['id']}/duplicate/")
    assert copy.status_code == 201
    assert copy.json()["name"] == "Renamed (copy)"
    assert copy.json()["status"] == "draft"


def test_runs_list_what_each_run_did(writer, template):
    UserFactory.create_batch(3, timezone="Europe/Paris")
    UserFactory(timezone="UTC")  # not in the audience
    spec = _weekly()
    spec["schedule"] = {
        "type": "one_time",
        "at": (timezone.now() + datetime.timedelta(hours=1)).isoformat(),
        "timezone": "UTC",
    }
    spec["learner_local_time"] = False
    created = writer.post("/api/v1/campaigns/", spec, format="json").json()
    writer.post(f"/api/v1/campaigns/{created['id']}/activate/")
    run_due(Campaign.objects.get().next_run_at)

    runs = writer.get(f"/api/v1/campaigns/{created['id']}/runs/").json()
    assert runs["count"] == 1
    (run,) = runs["results"]
    assert (run["status"], run["targeted"], run["queued"], run["progress"]) == ("done", 3, 3, 100)
    assert run["figures"]["messages"] == 3
    listed = writer.get("/api/v1/campaigns/?status=completed").json()
    assert [c["id"] for c in listed["results"]] == [created["id"]]
    assert listed["results"][0]["figures"]["messages"] == 3


def test_scopes_are_enforced(make_key, template):
    reader = make_key("campaigns:read")
    assert reader.get("/api/v1/campaigns/").status_code == 200
    refused = reader.post("/api/v1/campaigns/", _weekly(), format="json")
    assert refused.status_code == 403
    assert "campaigns:write" in refused.json()["detail"]
    other = make_key("scores:read")
    assert other.get("/api/v1/segments/").status_code == 403


def test_a_student_cannot_read_campaigns(client):
    student = UserFactory()
    client.force_login(student)
    assert client.get("/api/v1/campaigns/").status_code == 403
    assert client.post("/api/v1/segments/preview/", {"filter": {}}).status_code == 403


def test_segments_save_list_and_protect_the_predefined(writer):
    created = writer.post(
        "/api/v1/segments/",
        {
            "name": "Paris learners",
            "filter": {"field": "timezone", "op": "=", "value": "Europe/Paris"},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["slug"] == "paris-learners"
    bad = writer.post(
        "/api/v1/segments/",
        {"name": "Bad", "filter": {"all": [{"field": "timezone", "op": ">", "value": "x"}]}},
        format="json",
    )
    assert bad.status_code == 400
    assert any(key.startswith("filter.all[0]") for key in bad.json()["fields"]), bad.json()

    predefined = Segment.objects.create(
        name="All learners (test)", slug="all-test", filter={}, is_predefined=True
    )
    refused = writer.patch(f"/api/v1/segments/{predefined.pk}/", {"name": "Mine"}, format="json")
    assert refused.status_code == 409
    assert writer.delete(f"/api/v1/segments/{predefined.pk}/").status_code == 409
    assert writer.delete(f"/api/v1/segments/{created.json()['id']}/").status_code == 204


def test_preview_counts_and_samples_the_audience(make_key):
    reader = make_key("campaigns:read")
    UserFactory.create_batch(4, timezone="Asia/Tokyo")
    UserFactory(timezone="UTC")
    response = reader.post(
        "/api/v1/segments/preview/",
        {"filter": {"field": "timezone", "op": "=", "value": "Asia/Tokyo"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 4
    assert len(body["sample"]) == 4
    assert {row["timezone"] for row in body["sample"]} == {"Asia/Tokyo"}
    bad = reader.post("/api/v1/segments/preview/", {"filter": {"any": []}}, format="json")
    assert bad.status_code == 400
    assert any(key.startswith("filter") for key in bad.json()["fields"])


def test_the_field_catalogue_lists_operators(make_key):
    reader = make_key("campaigns:read")
    fields = {f["name"]: f for f in reader.get("/api/v1/segments/fields/").json()}
    assert ">=" in fields["risk"]["ops"]
    assert ">" not in fields["timezone"]["ops"]


def test_a_drip_is_created_with_its_steps(writer):
    for slug in ("day-1", "day-3"):
        MessageTemplateFactory(slug=slug)
    response = writer.post(
        "/api/v1/campaigns/",
        {
            "name": "Onboarding",
            "channel": "in_app",
            "audience": {"filter": {}},
            "schedule": {
                "type": "drip",
                "anchor": "signup",
                "exit": ["converted"],
                "steps": [
                    {"template": "day-1", "delay_days": 1},
                    {"template": "day-3", "delay_days": 3},
                ],
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    schedule = response.json()["schedule"]
    assert [s["template"] for s in schedule["steps"]] == ["day-1", "day-3"]
    assert schedule["exit"] == ["converted"]
    assert response.json()["next_runs"] == []


def test_every_predefined_segment_is_a_valid_filter_and_selects(db):
    from campaigns.defaults import PREDEFINED_SEGMENTS
    from campaigns.filters import filter_validate
    from campaigns.selectors.audience import audience_count
    from campaigns.services.segments import segments_predefined_install

    segments_predefined_install()
    assert Segment.objects.filter(is_predefined=True).count() == len(PREDEFINED_SEGMENTS) == 8
    UserFactory()
    for segment in Segment.objects.filter(is_predefined=True):
        filter_validate(segment.filter)
        audience_count(filter=segment.filter, now=timezone.now())  # compiles and runs
    assert (
        audience_count(filter=Segment.objects.get(slug="all-learners").filter, now=timezone.now())
        == 1
    )
