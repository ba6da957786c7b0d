"""The staff campaign pages: the list, the builder and its live partials, a campaign's page
and its one-click buttons, and "send a test to me"."""

from __future__ import annotations

import datetime
import html as html_lib
import json
import re

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_create
from interventions.models import Delivery
from interventions.services.deliveries import deliveries_send_due
from tests.accounts.factories import UserFactory
from tests.campaigns.conftest import make_campaign, one_time_spec, run_due
from tests.interventions.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db

LIST = "/dashboard/campaigns/"
NEW = "/dashboard/campaigns/new/"
AUDIENCE = "/dashboard/campaigns/builder/audience/"
SCHEDULE = "/dashboard/campaigns/builder/schedule/"
CONDITION = "/dashboard/campaigns/builder/condition/"
TEMPLATE = "/dashboard/campaigns/builder/template/"
SEND_TEST = "/dashboard/campaigns/builder/send-test/"


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


def _steps(*steps: dict) -> dict:
    data = {
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
    }
    for i, step in enumerate(steps):
        data.update({f"steps-{i}-{key}": value for key, value in step.items()})
    return data


def builder_data(**overrides) -> dict:
    """What the builder posts for a one-time campaign to a segment, tomorrow at 09:00 UTC."""
    tomorrow = (timezone.now() + datetime.timedelta(days=1)).date()
    data = {
        "name": "Spring announcement",
        "description": "",
        "channel": "email",
        "audience_mode": "segment",
        "segment": "all-learners",
        "match": "all",
        "filter_json": "",
        "schedule_type": "one_time",
        "timezone": "UTC",
        "at_date": tomorrow.isoformat(),
        "at_time": "09:00",
        "frequency": "weekly",
        "ends": "never",
        "anchor": "enrollment",
        "template": "nudge",
        "rate_per_minute": "0",
        **_steps(),
    }
    data.update(overrides)
    return data


# --- who may see them ------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST, NEW, AUDIENCE, SCHEDULE, CONDITION, TEMPLATE])
def test_a_student_is_refused_and_a_visitor_asked_to_log_in(client, url):
    assert client.get(url).status_code == 302
    assert "/accounts/login/" in client.get(url)["Location"]
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403


def test_a_student_cannot_send_themselves_a_test(client, template):
    client.force_login(UserFactory())
    assert client.post(SEND_TEST, {"template": "nudge"}).status_code == 403
    assert not Delivery.objects.exists()


def test_a_student_cannot_see_or_activate_a_campaign(client, template, learners):
    campaign = make_campaign(one_time_spec(), activate=False)
    client.force_login(UserFactory())
    assert client.get(f"{LIST}{campaign.pk}/").status_code == 403
    assert client.post(f"{LIST}{campaign.pk}/activate/").status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_the_staff_navigation_links_to_campaigns(staff):
    assert '<a href="/dashboard/campaigns/">Campaigns</a>' in staff.get(LIST).content.decode()


# --- the list --------------------------------------------------------------------------------


def test_the_list_says_what_to_do_when_there_are_no_campaigns(staff):
    html = staff.get(LIST).content.decode()
    assert "No campaigns yet" in html
    assert 'href="/dashboard/campaigns/new/"' in html


def test_the_list_shows_each_campaign_with_its_sends_and_filters_by_status(
    staff, template, learners
):
    sent = make_campaign(one_time_spec(name="Sent one"))
    draft = make_campaign(one_time_spec(name="Still a draft"), activate=False)
    later = timezone.now() + datetime.timedelta(hours=2)
    run_due(later)
    deliveries_send_due(now=later)

    html = staff.get(LIST).content.decode()
    assert "Sent one" in html and "Still a draft" in html
    row = re.search(rf'<tr data-campaign="{sent.pk}">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r"data-sent>5<", row)
    assert "Completed" in row

    drafts = staff.get(LIST, {"status": "draft"}).content.decode()
    assert "Still a draft" in drafts and "Sent one" not in drafts
    assert "No paused campaigns" in staff.get(LIST, {"status": "paused"}).content.decode()
    # The audience size, filled in lazily.
    size = staff.get(f"{LIST}{draft.pk}/audience-size/").content.decode()
    assert 'data-count="5"' in size


def test_the_list_is_paginated(staff, template):
    for i in range(26):
        campaign_create(spec=one_time_spec(name=f"Campaign {i:02}"), actor=None)
    first = staff.get(LIST).content.decode()
    assert first.count("<tr data-campaign=") == 25
    assert "Page 1 of 2" in first
    assert staff.get(LIST, {"page": 2}).content.decode().count("<tr data-campaign=") == 1


# --- the builder -----------------------------------------------------------------------------


def test_the_builder_renders_with_its_field_catalogue(staff, template):
    html = staff.get(NEW).content.decode()
    assert "<legend>Audience</legend>" in html or "Audience" in html
    assert 'aria-live="polite"' in html
    row = staff.get(CONDITION).content.decode()
    assert 'name="cond_field"' in row and '<option value="risk"' in row


def test_a_condition_row_offers_only_its_fields_operators(staff):
    def ops(field: str) -> list[str]:
        row = staff.get(CONDITION, {"cond_field": field}).content.decode()
        select = re.search(r'<select [^>]*name="cond_op".*?</select>', row, re.S).group(0)
        return [html_lib.unescape(op) for op in re.findall(r'<option value="([^"]+)"', select)]

    assert "contains" in ops("timezone") and ">" not in ops("timezone")
    ops = ops("days_inactive")
    assert ">=" in ops and "contains" not in ops
    signal = staff.get(CONDITION, {"cond_field": "signal"}).content.decode()
    assert 'name="cond_param"' in signal and ">Name</label>" in signal


def test_the_builder_creates_a_one_time_campaign(staff, template):
    response = staff.post(NEW, builder_data())
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/campaigns/{campaign.pk}/"
    assert campaign.kind == "one_time" and campaign.status == "draft"
    assert campaign.segment.slug == "all-learners"
    assert campaign.template == template
    assert campaign.starts_at.astimezone(datetime.UTC).hour == 9
    page = staff.get(response["Location"]).content.decode()
    assert "Saved “Spring announcement” as a draft." in page
    assert "Once, on" in page and "09:00 (UTC)" in page


def test_the_builder_creates_a_recurring_campaign_to_a_custom_filter(staff, template):
    data = builder_data(
        name="Weekly nudge",
        audience_mode="filter",
        match="all",
        cond_field=["days_inactive", "timezone"],
        cond_op=[">=", "="],
        cond_value=["7", "Europe/Paris"],
        cond_param=["", ""],
        cond_param_key=["", ""],
        schedule_type="recurring",
        timezone="Europe/Paris",
        frequency="weekly",
        weekdays=["MO", "WE"],
        time="08:30",
        start="2027-01-04",
        ends="count",
        count="10",
        learner_local_time="on",
    )
    response = staff.post(NEW, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.kind == "recurring"
    assert campaign.rrule == "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"
    assert campaign.send_time == datetime.time(8, 30)
    assert campaign.timezone == "Europe/Paris" and campaign.learner_local_time
    assert campaign.filter == {
        "all": [
            {"field": "days_inactive", "op": ">=", "value": 7},
            {"field": "timezone", "op": "=", "value": "Europe/Paris"},
        ]
    }
    page = staff.get(response["Location"]).content.decode()
    assert (
        "Weekly on Mo, We 10 times at 08:30 in each learner&#x27;s own timezone, from 4 Jan 2027"
        in page
    )

    # Editing it starts from what was saved: the rows, the weekdays, the count.
    edit = staff.get(f"{LIST}{campaign.pk}/edit/").content.decode()
    assert 'value="Europe/Paris"' in edit
    assert re.search(r'value="MO"[^>]*checked', edit)
    assert re.search(r'name="count"[^>]*value="10"', edit)


def test_the_builder_creates_a_drip_with_its_steps(staff, template):
    welcome = MessageTemplateFactory(slug="welcome", name="Welcome")
    data = builder_data(
        name="Onboarding",
        schedule_type="drip",
        anchor="signup",
        exit=["completed", "unsubscribed"],
        template="",
        **_steps(
            {"template": "welcome", "delay_days": "1", "delay_hours": "0"},
            {"template": "nudge", "delay_days": "2", "delay_hours": "6", "after_previous": "on"},
            {"template": "", "delay_days": "", "delay_hours": ""},  # the blank extra row
        ),
    )
    response = staff.post(NEW, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.kind == "drip" and campaign.anchor == "signup"
    assert campaign.exit_conditions == ["completed", "unsubscribed"]
    steps = list(campaign.steps.order_by("position"))
    assert [(s.template, s.delay_days, s.delay_hours, s.after_previous) for s in steps] == [
        (welcome, 1, 0, False),
        (template, 2, 6, True),
    ]
    page = staff.get(response["Location"]).content.decode()
    assert "each learner&#x27;s steps count from signing up" in page
    assert '<tr data-step="2">' in page
    # Editing starts from the saved steps (and one blank step to add another).
    edit = staff.get(f"{LIST}{campaign.pk}/edit/").content.decode()
    assert 'name="steps-TOTAL_FORMS" value="3"' in edit
    assert re.search(r'name="steps-1-template"[^>]*>.*?value="nudge" selected', edit, re.S)
    assert re.search(r'name="steps-1-delay_hours" value="6"', edit)


def test_the_builder_shows_the_services_errors_beside_their_fields(staff, template):
    response = staff.post(NEW, builder_data(at_date=""))
    assert response.status_code == 400
    html = response.content.decode()
    assert not Campaign.objects.exists()
    # The first service error (the schedule's date) sits in the date's field group.
    group = re.search(r'id="id_at_date_error"[^>]*>(.*?)</div>', html, re.S) or re.search(
        r"<ul class=\"errorlist\" id=\"id_at_date_error\">(.*?)</ul>", html, re.S
    )
    assert group and "Give a date and time" in group.group(1)


def test_a_bad_filter_is_answered_with_its_path(staff, template):
    bad = {"all": [{"field": "timezone", "op": ">", "value": "x"}]}
    response = staff.post(NEW, builder_data(audience_mode="filter", filter_json=json.dumps(bad)))
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r"all\[0\]\.op: .*&quot;&gt;&quot;|all\[0\]\.op: .*\"&gt;\"", html)
    assert not Campaign.objects.exists()


def test_a_bad_step_is_shown_in_its_step(staff, template):
    data = builder_data(
        schedule_type="drip",
        template="",
        **_steps({"template": "nudge", "delay_days": "1", "delay_hours": "30"}),
    )
    html = staff.post(NEW, data).content.decode()
    step = re.search(r'<fieldset class="step" data-step>(.*?)</fieldset>', html, re.S).group(1)
    assert "Ensure this value is less than or equal to" in step or "0 to 23" in step


def test_the_live_count_answers_how_many_learners_match(staff):
    for tz in ("Europe/Paris", "Europe/Paris", "Asia/Tokyo"):
        UserFactory(timezone=tz, first_name="Ada", last_name=tz.split("/")[1])
    query = {
        "audience_mode": "filter",
        "match": "all",
        "cond_field": "timezone",
        "cond_op": "=",
        "cond_value": "Europe/Paris",
        "cond_param": "",
        "cond_param_key": "",
    }
    html = staff.get(AUDIENCE, query).content.decode()
    assert 'data-live-count="2"' in html
    assert html.count("Ada Paris") == 2 and "Tokyo" not in html
    html = staff.get(
        AUDIENCE,
        {
            **query,
            "match": "any",
            "cond_field": ["timezone"] * 2,
            "cond_op": ["=", "="],
            "cond_value": ["Europe/Paris", "Asia/Tokyo"],
            "cond_param": ["", ""],
            "cond_param_key": ["", ""],
        },
    ).content
    assert b'data-live-count="3"' in html
    segment = staff.get(AUDIENCE, {"audience_mode": "segment", "segment": "all-learners"})
    assert 'data-live-count="3"' in segment.content.decode()


def test_the_live_count_names_a_mistake_by_its_path(staff):
    html = staff.get(
        AUDIENCE,
        {
            "audience_mode": "filter",
            "cond_field": "days_inactive",
            "cond_op": "contains",
            "cond_value": "3",
            "cond_param": "",
            "cond_param_key": "",
        },
    ).content.decode()
    assert "<code>all[0].op</code>" in html
    assert "data-live-count" not in html


def test_the_next_runs_follow_the_recurrence_choices(staff):
    html = staff.get(
        SCHEDULE,
        {
            "schedule_type": "recurring",
            "timezone": "Europe/London",
            "frequency": "weekly",
            "weekdays": ["MO", "TH"],
            "time": "09:00",
            "start": "2030-03-20",
            "ends": "never",
            **_steps(),
        },
    ).content.decode()
    runs = re.findall(r'<time datetime="([^"]+)">', html)
    assert len(runs) == 5
    moments = [datetime.datetime.fromisoformat(r) for r in runs]
    assert [m.strftime("%a %H:%M") for m in moments] == [
        "Thu 09:00",
        "Mon 09:00",
        "Thu 09:00",
        "Mon 09:00",
        "Thu 09:00",
    ]
    assert moments[0].date() == datetime.date(2030, 3, 21)
    # The clocks go forward on 31 March 2030: still 09:00 on the wall, an hour earlier in UTC.
    assert moments[0].utcoffset() == datetime.timedelta(0)
    assert moments[-1].utcoffset() == datetime.timedelta(hours=1)


def test_the_next_runs_of_a_one_time_schedule_in_the_past_say_so(staff):
    html = staff.get(
        SCHEDULE,
        {
            "schedule_type": "one_time",
            "timezone": "UTC",
            "at_date": "2020-01-01",
            "at_time": "09:00",
            **_steps(),
        },
    ).content.decode()
    assert "Nothing left to run" in html
    bad = staff.get(
        SCHEDULE,
        {
            "schedule_type": "recurring",
            "timezone": "UTC",
            "time": "09:00",
            "rrule_text": "FREQ=HOURLY",
            **_steps(),
        },
    ).content.decode()
    assert "schedule.rrule" in bad and "at most daily" in bad


def test_the_template_preview_renders_the_template_for_the_staff_member(staff, staff_user):
    MessageTemplateFactory(slug="hello", subject="Hello {{ first_name }}")
    html = staff.get(TEMPLATE, {"template": "hello"}).content.decode()
    assert f"Hello {staff_user.first_name}" in html
    # A drip previews its first chosen step's template, whatever the hidden picker holds.
    MessageTemplateFactory(slug="welcome", subject="Welcome aboard")
    drip = {
        "schedule_type": "drip",
        "template": "hello",
        "steps-0-template": "",
        "steps-1-template": "welcome",
    }
    assert "Welcome aboard" in staff.get(TEMPLATE, drip).content.decode()


def test_send_a_test_queues_the_template_to_the_staff_member(staff, staff_user, template):
    response = staff.post(SEND_TEST, {"template": "nudge", "channel": "email"})
    delivery = Delivery.objects.get()
    assert delivery.user == staff_user and delivery.template == template
    assert delivery.source.startswith(f"campaign-test:{staff_user.pk}:")
    assert "Queued “Nudge” by email to you" in response.content.decode()
    # A second test the same day meets interventions' daily cap (1 by default), and says so.
    again = staff.post(SEND_TEST, {"template": "nudge", "channel": "email"}).content.decode()
    assert "Not sent to you: had enough messages this day or week." in again
    assert "Choose a template first" in staff.post(SEND_TEST, {}).content.decode()


# --- one campaign ----------------------------------------------------------------------------


def test_a_new_campaigns_page_has_empty_states(staff, template):
    campaign = make_campaign(one_time_spec(), activate=False)
    html = staff.get(f"{LIST}{campaign.pk}/").content.decode()
    assert "No runs yet. Activate the campaign" in html
    assert "data-empty-chart" in html and "timeline-data" not in html
    assert "<strong>Created</strong>" in html


def test_activate_then_pause_with_one_click_each(staff, template, learners, staff_user):
    campaign = make_campaign(one_time_spec(), activate=False)
    url = f"{LIST}{campaign.pk}/"
    assert '<button type="submit" class="btn">Activate</button>' in staff.get(url).content.decode()
    page = staff.post(f"{url}activate/", follow=True).content.decode()
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    assert "Activated “Announcement”." in page
    assert ">Pause</button>" in page and ">Activate</button>" not in page

    staff.post(f"{url}pause/")
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    page = staff.get(url).content.decode()
    assert ">Resume</button>" in page
    assert re.search(r"<strong>Paused</strong> by staff@example.com", page)


def test_a_refused_activation_says_why(staff, template):
    past = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    campaign = make_campaign(
        one_time_spec(schedule={"type": "one_time", "at": past, "timezone": "UTC"}),
        activate=False,
    )
    page = staff.post(f"{LIST}{campaign.pk}/activate/", follow=True).content.decode()
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert "Not activated: schedule.at:" in page and "is in the past" in page


def test_duplicate_makes_a_draft_copy(staff, template):
    campaign = make_campaign(one_time_spec())
    response = staff.post(f"{LIST}{campaign.pk}/duplicate/")
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response["Location"] == f"/dashboard/campaigns/{copy.pk}/"
    assert copy.status == "draft" and copy.name == "Announcement (copy)"


def test_a_campaigns_page_shows_its_runs_and_the_chart_data(staff, template, learners):
    campaign = make_campaign(one_time_spec())
    later = timezone.now() + datetime.timedelta(hours=2)
    [run] = run_due(later)
    deliveries_send_due(now=later)
    html = staff.get(f"{LIST}{campaign.pk}/").content.decode()
    row = re.search(rf'<tr data-run="{run.pk}">(.*?)</tr>', html, re.S).group(1)
    cells = dict(re.findall(r'<td class="num" data-label="(\w+)">(\d+)</td>', row))
    assert cells == {"Targeted": "5", "Queued": "5", "Deferred": "0", "Sent": "5"}
    assert 'data-stat="sent">5<' in html
    data = json.loads(
        re.search(
            r'<script id="timeline-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data == [
        {"day": later.date().isoformat(), "sent": 5, "opened": 0, "clicked": 0, "converted": 0}
    ]
    assert "/static/js/campaigns.js" in html and "plotly" in html


def test_a_drips_page_shows_its_steps_and_learners(staff, template):
    UserFactory()
    campaign = make_campaign(
        {
            "name": "Onboarding",
            "channel": "email",
            "audience": {"segment": "all-learners"},
            "schedule": {
                "type": "drip",
                "anchor": "signup",
                "steps": [{"template": "nudge", "delay_days": 3}],
            },
        }
    )
    html = staff.get(f"{LIST}{campaign.pk}/").content.decode()
    assert "3 d after the anchor" in html
    assert 'data-drip="active">' in html


def test_a_run_in_progress_shows_its_progress_and_refreshes_itself(staff, template, learners):
    from campaigns.services.dispatch import campaigns_claim_due, run_start

    campaign = make_campaign(one_time_spec())
    later = timezone.now() + datetime.timedelta(hours=2)
    [run_id] = campaigns_claim_due(now=later)
    run_start(run_id=run_id, now=later)  # its chunks wait for a worker
    html = staff.get(f"{LIST}{campaign.pk}/").content.decode()
    row = re.search(rf'<tr data-run="{run_id}">(.*?)</tr>', html, re.S).group(1)
    assert 'role="progressbar"' in row and 'aria-valuenow="0"' in row
    assert re.search(r"0 of \d+ chunks", row)
    assert 'hx-trigger="every 3s"' in html


def test_editing_a_draft_changes_it_and_logs_who(staff, template, staff_user):
    campaign = make_campaign(one_time_spec(), activate=False)
    url = f"{LIST}{campaign.pk}/edit/"
    form = staff.get(url).content.decode()
    assert 'value="Announcement"' in form
    response = staff.post(url, builder_data(name="Announcement, take two"))
    assert response["Location"] == f"/dashboard/campaigns/{campaign.pk}/"
    campaign.refresh_from_db()
    assert campaign.name == "Announcement, take two"
    assert campaign.segment.slug == "all-learners"  # was every learner by a custom filter
    page = staff.get(response["Location"]).content.decode()
    assert re.search(r"<strong>Edited</strong> by staff@example.com", page)


def test_a_finished_campaign_cannot_be_edited_and_says_why(staff, template):
    campaign = make_campaign(one_time_spec())
    staff.post(f"{LIST}{campaign.pk}/cancel/")
    page = staff.get(f"{LIST}{campaign.pk}/").content.decode()
    assert ">Edit</a>" not in page and ">Activate</button>" not in page
    response = staff.post(f"{LIST}{campaign.pk}/edit/", builder_data(name="Again"))
    assert response.status_code == 400
    assert "A cancelled campaign cannot change." in response.content.decode()


def test_the_builder_ends_a_recurrence_on_a_date(staff, template):
    data = builder_data(
        schedule_type="recurring",
        frequency="monthly",
        monthday="15",
        time="10:00",
        start="2031-01-01",
        ends="until",
        until="2031-06-30",
    )
    assert staff.post(NEW, data).status_code == 302
    assert Campaign.objects.get().rrule == "FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20310630T235959"
    html = staff.get(SCHEDULE, data).content.decode()
    days = [d[:10] for d in re.findall(r'<time datetime="([^"]+)">', html)]
    assert days == ["2031-01-15", "2031-02-15", "2031-03-15", "2031-04-15", "2031-05-15"]


def test_a_filter_the_rows_cannot_show_opens_as_json(staff, template):
    nested = {"not": {"any": [{"field": "risk", "op": ">=", "value": 60}]}}
    campaign = make_campaign(one_time_spec(audience={"filter": nested}), activate=False)
    edit = staff.get(f"{LIST}{campaign.pk}/edit/").content.decode()
    assert '<details class="advanced" open>' in edit
    textarea = re.search(r'<textarea name="filter_json"[^>]*>(.*?)</textarea>', edit, re.S)
    assert json.loads(html_lib.unescape(textarea.group(1))) == nested
    assert 'name="cond_field"' not in edit


def test_an_untouched_builder_says_what_to_choose_not_what_is_wrong(staff):
    audience = staff.get(AUDIENCE, {"audience_mode": "segment", "segment": ""}).content.decode()
    assert "Choose a segment to see how many learners it holds now." in audience
    assert "error" not in audience
    schedule = staff.get(SCHEDULE, {"schedule_type": "one_time", **_steps()}).content.decode()
    assert "Choose the date and time to see when it sends." in schedule
    assert "error" not in schedule
