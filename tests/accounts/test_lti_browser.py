"""An LTI launch in headless Chromium: the platform's page (another site) starts the login,
its auth page posts the signed id_token back, and the learner arrives signed in."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from accounts.models import LtiDeployment, LtiLaunch, LtiPlatform, User
from tests.accounts.lti_platform import CLIENT_ID, DEPLOYMENT_ID, ISSUER, FakePlatform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_platform():
    platform = FakePlatform()
    yield platform
    platform.close()


def test_a_learner_launched_from_the_platform_arrives_signed_in(live_server, page, fake_platform):
    LtiDeployment.objects.create(
        platform=LtiPlatform.objects.create(
            name="Moodle",
            issuer=ISSUER,
            client_id=CLIENT_ID,
            auth_login_url=fake_platform.auth_login_url,
            access_token_url=fake_platform.access_token_url,
            keyset_url=fake_platform.keyset_url,
        ),
        deployment_id=DEPLOYMENT_ID,
    )
    login = {
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "login_hint": "hint-42",
        "target_link_uri": f"{live_server.url}/accounts/lti/launch/",
        "lti_deployment_id": DEPLOYMENT_ID,
    }
    # The platform (127.0.0.1) links to Stride (localhost): a cross-site navigation.
    page.goto(f"{live_server.url}/accounts/lti/login/?{urlencode(login)}")

    page.wait_for_url(f"{live_server.url}/me/")
    assert page.inner_text(".who") == "ada.lovelace@moodle.example.edu"
    user = User.objects.get(email="ada.lovelace@moodle.example.edu")
    assert LtiLaunch.objects.get().user == user
