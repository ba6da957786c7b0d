"""The staff experiment pages: the list, an experiment's page with its results, banners,
charts and progress, the calculator partial, and the start and stop buttons."""

from __future__ import annotations

import datetime
import html as html_lib
import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import User
from campaigns.models import Experiment, Exposure
from campaigns.services.experiments import experiment_create, experiment_start
from campaigns.statistics import ProportionBaseline, sample_size
from engagement.models import Event
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/dashboard/experiments/"
DAY = datetime.timedelta(days=1)
SPEC = {
    "key": "reminder-tone",
    "name": "Friendlier reminders",
    "hypothesis": "A friendlier tone brings more learners back within a week.",
    "variants": [{"key": "control", "weight": 50}, {"key": "friendly", "weight": 50}],
    "primary_metric": {"kind": "binomial", "event": "lesson_completed", "window_days": 7},
    "guardrail_metrics": [{"kind": "binomial", "measure": "unsubscribed", "lower_is_better": True}],
}


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


def _learners(n: int) -> list[User]:
    User.objects.bulk_create(
        User(email=f"x{i}@example.com", external_id=f"x-{i}", role="student", timezone="UTC")
        for i in range(n)
    )
    return list(User.objects.filter(external_id__startswith="x-").order_by("pk"))


def _running(*, days_ago: float = 8) -> Experiment:
    experiment = experiment_start(experiment=experiment_create(spec=SPEC, actor=None), actor=None)
    Experiment.objects.filter(pk=experiment.pk).update(started_at=timezone.now() - days_ago * DAY)
    experiment.refresh_from_db()
    return experiment


def _with_results(control: int, treatment: int, *, converted: tuple[int, int]) -> Experiment:
    """A running experiment: `control` and `treatment` learners exposed over the last days,
    `converted` of each completing a lesson the day after their exposure."""
    experiment = _running()
    learners = _learners(control + treatment)
    now = timezone.now()
    exposures, events = [], []
    for i, user in enumerate(learners):
        variant = "control" if i < control else "friendly"
        at = now - (1 + i % 6) * DAY
        exposures.append(
            Exposure(experiment=experiment, user=user, variant=variant, exposed_at=at, source="t")
        )
        index = i if i < control else i - control
        if index < converted[0 if variant == "control" else 1]:
            events.append(
                Event(
                    source="t",
                    client_id=f"done-{user.pk}",
                    type="lesson_completed",
                    user=user,
                    occurred_at=at + datetime.timedelta(hours=20),
                )
            )
    Exposure.objects.bulk_create(exposures)
    Event.objects.bulk_create(events)
    return experiment


def _json_script(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no {element_id} on the page"
    return json.loads(html_lib.unescape(match.group(1)))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- who may see them ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["", "reminder-tone/", "reminder-tone/calculator/?baseline=20&mde=10&power=80"]
)
def test_a_student_is_refused_and_a_visitor_asked_to_log_in(client, path):
    experiment_create(spec=SPEC, actor=None)
    url = LIST + path
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403


def test_a_student_cannot_start_an_experiment(client):
    experiment = experiment_create(spec=SPEC, actor=None)
    client.force_login(UserFactory())
    assert client.post(f"{LIST}{experiment.key}/start/").status_code == 403
    experiment.refresh_from_db()
    assert experiment.status == "draft"


def test_the_staff_navigation_and_the_campaigns_page_link_to_experiments(staff):
    assert '<a href="/dashboard/experiments/">Experiments</a>' in staff.get(LIST).content.decode()
    campaigns = staff.get("/dashboard/campaigns/").content.decode()
    assert 'href="/dashboard/experiments/"' in campaigns.split("</header>")[1]


# --- the list --------------------------------------------------------------------------------


def test_the_empty_list_says_how_to_create_one_through_the_api(staff):
    text = _text(staff.get(LIST).content.decode())
    assert "No experiments yet" in text
    assert "POST /api/v1/experiments/" in text
    assert "There is no form" in text
    assert '"primary_metric"' in html_lib.unescape(text)


def test_the_list_shows_each_experiment_and_filters_by_status(staff):
    running = _with_results(30, 30, converted=(5, 8))
    experiment_create(spec={**SPEC, "key": "a-draft", "name": "Still a draft"}, actor=None)

    html = staff.get(LIST).content.decode()
    assert "Friendlier reminders" in html and "Still a draft" in html
    row = re.search(rf'<tr data-experiment="{running.key}">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r"data-exposures>60<", row)
    assert "Running" in row and "friendly" in row
    assert f'href="/dashboard/experiments/{running.key}/"' in row

    drafts = staff.get(LIST, {"status": "draft"}).content.decode()
    assert "Still a draft" in drafts and "Friendlier reminders" not in drafts
    assert "No stopped experiments" in staff.get(LIST, {"status": "stopped"}).content.decode()


def test_the_list_pages_by_25(staff):
    for i in range(27):
        experiment_create(spec={**SPEC, "key": f"exp-{i}", "name": f"Experiment {i}"}, actor=None)
    first = staff.get(LIST).content.decode()
    assert first.count("<tr data-experiment=") == 25
    assert "Page 1 of 2" in first
    assert staff.get(LIST, {"page": 2}).content.decode().count("<tr data-experiment=") == 2


# --- one experiment --------------------------------------------------------------------------


def test_a_draft_shows_its_design_and_a_start_button(staff):
    experiment_create(spec=SPEC, actor=None)
    response = staff.get(f"{LIST}reminder-tone/")
    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)
    assert SPEC["hypothesis"] in text
    assert "lesson_completed in 7 d" in text and "unsubscribed" in text
    assert re.search(r'data-design="friendly">.*?50.*?50\.0%', html, re.S)
    assert 'action="/dashboard/experiments/reminder-tone/start/"' in html
    assert "data-srm" not in html
    assert "The chart starts once the experiment runs" in text
    assert "Created" in text and "Log" in text


def test_an_unknown_experiment_is_not_found(staff):
    assert staff.get(f"{LIST}nope/").status_code == 404


def test_a_running_experiment_shows_its_variant_table_and_charts(staff):
    _with_results(200, 200, converted=(40, 70))
    html = staff.get(f"{LIST}reminder-tone/").content.decode()

    row = re.search(r'<tr data-variant="friendly".*?</tr>', html, re.S).group(0)
    assert ">200<" in row and ">70<" in row and ">35.0%<" in row
    uplift = re.search(r"data-uplift><strong>\+(\d+\.\d)%", row)
    assert uplift and 50 < float(uplift.group(1)) < 100
    assert re.search(r"data-ci>\+\d+\.\d% to \+\d+\.\d%<", row)  # the interval is above zero
    assert "better" in row
    control = re.search(r'<tr data-variant="control".*?</tr>', html, re.S).group(0)
    assert ">20.0%<" in control
    assert "data-srm" not in html

    uplift_data = _json_script(html, "uplift-data")
    assert [r["key"] for r in uplift_data["rows"]] == ["friendly"]
    low, high = uplift_data["rows"][0]["ci"]
    assert 0 < low < uplift_data["rows"][0]["uplift"] < high

    over_time = _json_script(html, "sequential-data")
    assert len(over_time["days"]) == 9  # start eight days ago, through today
    series = over_time["series"][0]
    assert series["key"] == "friendly"
    # Learners accumulate day by day; the last look is everyone, as in the table.
    assert series["users"] == sorted(series["users"]) and series["users"][-1] == 400
    table_sequential = re.search(r"data-sequential>(.*?)<", row).group(1)
    last = f"{series['low'][-1] * 100:+.1f}% to {series['high'][-1] * 100:+.1f}%"
    assert table_sequential == last

    assert "Guardrail: unsubscribed" in _text(html)


def test_a_skewed_split_raises_the_sample_ratio_banner(staff):
    _with_results(300, 150, converted=(60, 30))
    html = staff.get(f"{LIST}reminder-tone/").content.decode()
    banner = re.search(
        r'<div class="card banner banner-bad" role="alert" data-srm>(.*?)</div>', html, re.S
    )
    assert banner, "no sample ratio banner"
    assert "300 control / 150 friendly" in _text(banner.group(1))
    assert "Sample ratio mismatch" in _text(html.split('id="decision"')[1])


def test_learners_exposed_twice_are_noted(staff):
    experiment = _with_results(20, 20, converted=(4, 6))
    twice = User.objects.filter(external_id__in=["x-0", "x-1"])
    Exposure.objects.bulk_create(
        Exposure(experiment=experiment, user=u, variant="friendly", source="t") for u in twice
    )
    text = _text(staff.get(f"{LIST}reminder-tone/").content.decode())
    assert "2 learners saw more than one variant and are left out" in text


def test_sample_progress_uses_the_calculator_at_the_control_rate(staff):
    _with_results(200, 200, converted=(40, 70))
    html = staff.get(f"{LIST}reminder-tone/").content.decode()
    needed = sample_size(baseline=ProportionBaseline(0.2), mde=0.1, variants=2, weights=[50, 50])
    row = re.search(r'data-progress="fixed">(.*?)</progress>', html, re.S).group(1)
    assert f"400 of {needed.total_users} learners" in _text(row)


# --- the buttons -----------------------------------------------------------------------------


def test_start_then_stop_change_the_status_and_are_logged(staff, staff_user):
    experiment_create(spec=SPEC, actor=None)
    response = staff.post(f"{LIST}reminder-tone/start/", follow=True)
    assert 'data-status="running"' in response.content.decode()
    assert "Started “Friendlier reminders”." in response.content.decode()

    response = staff.post(f"{LIST}reminder-tone/stop/", {"reason": "Wrong audience"}, follow=True)
    html = response.content.decode()
    assert 'data-status="stopped"' in html
    assert "No winner recorded." in html
    log = _text(re.search(r"data-log>(.*?)</ul>", html, re.S).group(1))
    assert f"Stopped by {staff_user.email} · Wrong audience" in log
    assert f"Started by {staff_user.email}" in log


def test_stopping_with_a_winner_records_who_chose_it_and_why(staff, staff_user):
    _with_results(50, 50, converted=(10, 20))
    response = staff.post(
        f"{LIST}reminder-tone/stop/",
        {"winner": "friendly", "reason": "Chance to win 99%"},
        follow=True,
    )
    html = response.content.decode()
    recorded = _text(re.search(r"data-recorded>(.*?)</dl>", html, re.S).group(1))
    assert "friendly" in recorded and "Chance to win 99%" in recorded
    assert staff_user.email in recorded
    experiment = Experiment.objects.get(key="reminder-tone")
    assert (experiment.status, experiment.winner, experiment.decided_by) == (
        "stopped",
        "friendly",
        staff_user,
    )
    list_row = staff.get(LIST).content.decode()
    assert re.search(r"data-winner><strong>friendly</strong>", list_row)


def test_refusals_are_shown_plainly(staff):
    experiment_create(spec=SPEC, actor=None)
    html = staff.post(f"{LIST}reminder-tone/stop/", follow=True).content.decode()
    assert "Not stopped: status: A draft experiment cannot stop." in html
    staff.post(f"{LIST}reminder-tone/start/")
    html = staff.post(f"{LIST}reminder-tone/start/", follow=True).content.decode()
    assert "Not started: status: A running experiment cannot start." in html
    html = staff.post(
        f"{LIST}reminder-tone/stop/", {"winner": "nobody"}, follow=True
    ).content.decode()
    assert "Not stopped: winner:" in html
    assert Experiment.objects.get(key="reminder-tone").status == "running"


def test_the_buttons_need_a_post(staff):
    experiment_create(spec=SPEC, actor=None)
    assert staff.get(f"{LIST}reminder-tone/start/").status_code == 405


# --- the calculator --------------------------------------------------------------------------


def test_the_calculator_answers_learners_and_days_for_both_tests(staff):
    experiment_create(spec=SPEC, actor=None)
    html = staff.get(
        f"{LIST}reminder-tone/calculator/",
        {"baseline": "20", "mde": "10", "power": "80", "daily_users": "300"},
    ).content.decode()
    for test in ("fixed", "sequential"):
        expected = sample_size(
            baseline=ProportionBaseline(0.2),
            mde=0.1,
            power=0.8,
            variants=2,
            weights=[50, 50],
            daily_users=300,
            test=test,
        )
        row = re.search(rf'data-calc="{test}">(.*?)</tr>', html, re.S).group(1)
        assert f"data-total>{expected.total_users}<" in row
        assert f"data-days>{expected.days}<" in row
        assert f"control {expected.users_per_variant[0]}" in row


def test_the_calculator_says_what_is_wrong(staff):
    experiment_create(spec=SPEC, actor=None)
    response = staff.get(
        f"{LIST}reminder-tone/calculator/", {"baseline": "150", "mde": "10", "power": "80"}
    )
    assert response.status_code == 400
    assert "Control rate (%)" in response.content.decode()
    html = staff.get(
        f"{LIST}reminder-tone/calculator/", {"baseline": "90", "mde": "50", "power": "80"}
    ).content.decode()
    assert "would pass 100%" in html


# --- in a browser ----------------------------------------------------------------------------

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_charts_draw_the_calculator_answers_and_a_winner_is_chosen(
    live_server, page: Page, staff_user
):
    _with_results(200, 200, converted=(40, 70))
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{live_server.url}{LIST}reminder-tone/")
    page.fill("#id_username", staff_user.email)
    page.fill("#id_password", "pw-staff-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{LIST}reminder-tone/")

    # Plotly drew both charts from the page's json_script data.
    expect(page.locator("#uplift-chart .main-svg").first).to_be_visible()
    expect(page.locator("#sequential-chart .main-svg").first).to_be_visible()

    fixed = page.locator("[data-calc=fixed] [data-total]")
    ten = sample_size(baseline=ProportionBaseline(0.2), mde=0.1, weights=[50, 50])
    twenty = sample_size(baseline=ProportionBaseline(0.2), mde=0.2, weights=[50, 50])
    expect(fixed).to_have_text(str(ten.total_users))
    page.get_by_label("Smallest effect worth finding (%)").fill("20")
    expect(fixed).to_have_text(str(twenty.total_users))

    page.get_by_label("Winner").select_option("friendly")
    page.get_by_label("Why", exact=True).fill("Chance to win above 99%")
    page.get_by_role("button", name="Stop with this winner").click()
    expect(page.locator("[data-status]")).to_have_text("Stopped")
    expect(page.locator("dd[data-winner]")).to_contain_text("friendly")
    assert page.evaluate("window.__cspViolations") == []
