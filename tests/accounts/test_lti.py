"""LTI 1.3 launches from a learning platform, signed by a test platform whose key set is served
over real HTTP on 127.0.0.1 (tests/accounts/lti_platform.py)."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from accounts.models import LtiDeployment, LtiIdentity, LtiLaunch, LtiPlatform, User
from accounts.services import users_upsert
from tests.accounts.factories import AdminFactory
from tests.accounts.lti_platform import (
    CLAIM,
    CLIENT_ID,
    DEPLOYMENT_ID,
    INSTRUCTOR,
    ISSUER,
    FakePlatform,
    PlatformKey,
    post_launch,
    start_login,
)

pytestmark = pytest.mark.django_db

RECORDED: list = []


def record_launch(record) -> None:
    """A launch handler as a higher app would register one (STRIDE_LTI_LAUNCH_HANDLERS)."""
    RECORDED.append(record)


@pytest.fixture
def fake_platform():
    platform = FakePlatform()
    yield platform
    platform.close()


@pytest.fixture
def platform(fake_platform) -> LtiPlatform:
    """The test platform as staff register it in the admin."""
    row = LtiPlatform.objects.create(
        name="Moodle of Example University",
        issuer=ISSUER,
        client_id=CLIENT_ID,
        auth_login_url=fake_platform.auth_login_url,
        access_token_url=fake_platform.access_token_url,
        keyset_url=fake_platform.keyset_url,
    )
    LtiDeployment.objects.create(platform=row, deployment_id=DEPLOYMENT_ID)
    return row


def launch(client: Client, fake_platform: FakePlatform, **claims):
    """A whole launch in `client`: login initiation, then the signed id_token posted back."""
    login = start_login(client)
    token = fake_platform.sign(fake_platform.claims(nonce=login["nonce"], **claims))
    return post_launch(client, id_token=token, state=login["state"]), login


def signed_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def assert_refused(response, status: int, text: str) -> None:
    html = response.content.decode()
    assert response.status_code == status, html[:2000]
    assert "We could not sign you in" in html
    assert text in html
    assert 'href="/static/css/stride.css"' in html  # the site's own page


def test_the_login_initiation_sends_the_browser_to_the_platform_with_state_and_nonce(
    client, platform, fake_platform
):
    login = start_login(client)

    assert login["_auth_url"] == fake_platform.auth_login_url
    assert login["client_id"] == CLIENT_ID
    assert login["redirect_uri"] == "http://testserver/accounts/lti/launch/"
    assert login["login_hint"] == "hint-42"
    assert (login["scope"], login["response_type"], login["response_mode"]) == (
        "openid",
        "id_token",
        "form_post",
    )
    assert login["prompt"] == "none"
    assert len(login["nonce"]) >= 32
    # The state is bound to this browser by a cookie.
    assert client.cookies[f"lti1p3-{login['state']}"].value == login["state"]


def test_a_platform_may_post_its_login_initiation(client, platform):
    login = start_login(client, method="post")

    assert login["client_id"] == CLIENT_ID


def test_a_valid_launch_signs_the_learner_in_and_opens_their_home(client, platform, fake_platform):
    response, _ = launch(client, fake_platform)

    assert response.status_code == 302
    assert response["Location"] == "/me/"
    user = signed_in_user(client)
    assert user is not None
    assert user.external_id == f"lti:{platform.pk}:user-42"
    assert user.provisional
    assert (user.first_name, user.last_name) == ("Ada", "Lovelace")
    assert user.email == "ada.lovelace@moodle.example.edu"
    assert user.role == User.Role.STUDENT
    assert not user.is_staff
    assert not user.has_usable_password()
    recorded = LtiLaunch.objects.get()
    assert (recorded.user, recorded.platform) == (user, platform)
    assert (recorded.context_id, recorded.context_label, recorded.context_title) == (
        "course-7",
        "PY101",
        "Python for all",
    )
    assert recorded.resource_link_id == "link-3"
    assert recorded.deployment_id == DEPLOYMENT_ID


def test_a_second_launch_signs_in_the_same_user(client, platform, fake_platform):
    launch(client, fake_platform)
    first = signed_in_user(client)

    other_browser = Client()
    response, _ = launch(other_browser, fake_platform, given_name="Augusta")

    assert response.status_code == 302
    assert signed_in_user(other_browser) == first
    assert User.objects.filter(external_id__startswith="lti:").count() == 1
    assert LtiIdentity.objects.get().user == first
    assert LtiLaunch.objects.filter(user=first).count() == 2
    first.refresh_from_db()
    assert first.first_name == "Augusta"  # still provisional: the latest launch's details


def test_the_platforms_key_set_is_fetched_once_and_again_when_it_rotates(
    client, platform, fake_platform
):
    launch(client, fake_platform)
    launch(Client(), fake_platform, sub="user-43")
    assert fake_platform.jwks_requests == 1  # cached

    fake_platform.rotate()
    response, _ = launch(Client(), fake_platform, sub="user-44")

    assert response.status_code == 302
    assert fake_platform.jwks_requests == 2  # the new key id made Stride fetch the set again


def test_an_instructor_launch_makes_an_instructor_never_staff(client, platform, fake_platform):
    response, _ = launch(client, fake_platform, **{CLAIM + "roles": [INSTRUCTOR]})

    assert response.status_code == 302
    user = signed_in_user(client)
    assert user.role == User.Role.INSTRUCTOR
    assert not (user.is_staff or user.is_superuser)


def test_a_platform_matching_by_its_own_user_id_signs_in_the_synced_user(
    client, platform, fake_platform
):
    platform.user_match = LtiPlatform.UserMatch.SUB
    platform.save()
    users_upsert(
        items=[
            {
                "external_id": "42",
                "email": "ada@school.example",
                "first_name": "Ada",
                "last_name": "King",
                "timezone": "Europe/London",
            }
        ]
    )

    response, _ = launch(client, fake_platform, sub="42", family_name="Lovelace")

    assert response.status_code == 302
    user = signed_in_user(client)
    assert user.external_id == "42"
    # A synced user keeps what the integrator sent; the launch only signs them in.
    assert (user.email, user.last_name, user.timezone) == (
        "ada@school.example",
        "King",
        "Europe/London",
    )
    assert User.objects.count() == 1


def test_a_launch_never_takes_over_another_users_email(client, platform, fake_platform):
    users_upsert(items=[{"external_id": "someone", "email": "ada.lovelace@moodle.example.edu"}])

    response, _ = launch(client, fake_platform)

    assert response.status_code == 302
    user = signed_in_user(client)
    assert user.external_id == f"lti:{platform.pk}:user-42"
    assert user.email.endswith("@provisional.invalid")


def test_a_launch_matched_to_a_staff_account_is_refused(client, platform, fake_platform):
    platform.user_match = LtiPlatform.UserMatch.SUB
    platform.save()
    AdminFactory(external_id="boss")

    response, _ = launch(client, fake_platform, sub="boss")

    assert_refused(response, 403, "never opens a staff account")
    assert signed_in_user(client) is None
    assert not LtiIdentity.objects.exists()
    assert not LtiLaunch.objects.exists()


@override_settings(STRIDE_LTI_LAUNCH_HANDLERS=["tests.accounts.test_lti.record_launch"])
def test_the_launch_handlers_get_the_course_context(client, platform, fake_platform):
    RECORDED.clear()

    launch(client, fake_platform, **{CLAIM + "roles": [INSTRUCTOR]})

    [record] = RECORDED
    assert record.user_id == signed_in_user(client).pk
    assert (record.context_id, record.context_title, record.issuer) == (
        "course-7",
        "Python for all",
        ISSUER,
    )
    assert record.is_instructor
    assert record.launch_id == LtiLaunch.objects.get().pk


def test_a_launch_signed_with_another_key_is_refused(client, platform, fake_platform):
    login = start_login(client)
    forger = PlatformKey(kid=fake_platform.keys[0].kid)  # same key id, different key
    token = fake_platform.sign(fake_platform.claims(nonce=login["nonce"]), key=forger)

    response = post_launch(client, id_token=token, state=login["state"])

    assert_refused(response, 400, "signature does not match")
    assert signed_in_user(client) is None
    assert not User.objects.exists()


def test_a_launch_for_another_tool_is_refused(client, platform, fake_platform):
    response, _ = launch(client, fake_platform, aud="some-other-tool")

    assert_refused(response, 403, "not meant for Stride")
    assert signed_in_user(client) is None


def test_an_audience_list_needs_stride_as_the_authorized_party(client, platform, fake_platform):
    response, _ = launch(client, fake_platform, aud=[CLIENT_ID, "some-other-tool"])

    assert_refused(response, 403, "not meant for Stride")
    assert signed_in_user(client) is None


def test_a_replayed_launch_is_refused(client, platform, fake_platform):
    login = start_login(client)
    token = fake_platform.sign(fake_platform.claims(nonce=login["nonce"]))
    assert post_launch(client, id_token=token, state=login["state"]).status_code == 302

    # Someone who captured the form post sends it again from their own browser.
    attacker = Client()
    response = post_launch(attacker, id_token=token, state=login["state"])

    assert_refused(response, 400, "This launch was already used")
    assert signed_in_user(attacker) is None
    assert LtiLaunch.objects.count() == 1


def test_a_nonce_stride_did_not_issue_is_refused(client, platform, fake_platform):
    login = start_login(client)
    token = fake_platform.sign(fake_platform.claims(nonce=uuid.uuid4().hex))

    response = post_launch(client, id_token=token, state=login["state"])

    assert_refused(response, 400, "has expired or was not started from here")
    assert signed_in_user(client) is None


def test_an_expired_launch_is_refused(client, platform, fake_platform):
    now = int(time.time())
    response, _ = launch(client, fake_platform, iat=now - 600, exp=now - 300)

    assert_refused(response, 400, "This launch has expired")
    assert signed_in_user(client) is None


def test_a_launch_without_an_expiry_is_refused(client, platform, fake_platform):
    response, _ = launch(client, fake_platform, exp=None)

    assert_refused(response, 400, "could not be verified")
    assert signed_in_user(client) is None


def test_a_launch_from_an_unknown_deployment_is_refused(client, platform, fake_platform):
    response, _ = launch(client, fake_platform, **{CLAIM + "deployment_id": "deployment-9"})

    assert_refused(response, 403, "not set up for this part of your learning platform")
    assert "deployments in the admin" in response.content.decode()
    assert signed_in_user(client) is None


def test_a_launch_from_another_browser_than_the_login_is_refused(client, platform, fake_platform):
    login = start_login(client)
    token = fake_platform.sign(fake_platform.claims(nonce=login["nonce"]))

    other = Client()  # no state cookie: a login forced on someone else's browser
    response = post_launch(other, id_token=token, state=login["state"])

    assert_refused(response, 400, "did not start in this browser")
    assert signed_in_user(other) is None


def test_a_deep_linking_launch_is_refused(client, platform, fake_platform):
    response, _ = launch(
        client,
        fake_platform,
        **{
            CLAIM + "message_type": "LtiDeepLinkingRequest",
            "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
                "deep_link_return_url": "https://moodle.example.edu/dl",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe"],
            },
        },
    )

    assert_refused(response, 400, "this kind of launch is not supported")
    assert signed_in_user(client) is None


def test_an_inactive_platform_is_refused_at_login(client, platform):
    platform.is_active = False
    platform.save()

    response = client.get(
        "/accounts/lti/login/",
        {"iss": ISSUER, "client_id": CLIENT_ID, "login_hint": "x", "target_link_uri": "x"},
    )

    assert_refused(response, 403, "not registered with Stride")


def test_an_unknown_platform_is_refused_at_login(client, platform):
    response = client.get(
        "/accounts/lti/login/",
        {"iss": "https://canvas.example.com", "login_hint": "x", "target_link_uri": "x"},
    )

    assert_refused(response, 403, "not registered with Stride")
    assert "https://canvas.example.com" in response.content.decode()


def test_a_login_initiation_without_a_login_hint_is_refused(client, platform):
    response = client.get("/accounts/lti/login/", {"iss": ISSUER, "client_id": CLIENT_ID})

    assert_refused(response, 400, "sign-in request is incomplete")


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"state": "state-x"},
        {"state": "state-x", "id_token": "not-a-jwt"},
        {"state": "state-x", "id_token": "a.b.c"},
        {"state": "state-x", "id_token": "W10.W10.W10"},  # JSON arrays, not objects
    ],
)
def test_a_malformed_launch_gets_a_clear_page_not_an_error(client, platform, form):
    response = client.post("/accounts/lti/launch/", form)

    assert 400 <= response.status_code < 500
    assert "We could not sign you in" in response.content.decode()


def test_a_token_whose_body_is_not_an_object_is_refused(client, platform, fake_platform):
    login = start_login(client)
    key = fake_platform.keys[0]
    token = jwt.api_jws.encode(
        b"[1, 2]", key.private_pem, algorithm="RS256", headers={"kid": key.kid}
    )

    response = post_launch(client, id_token=token, state=login["state"])

    assert 400 <= response.status_code < 500
    assert "We could not sign you in" in response.content.decode()


def test_an_unreachable_key_set_is_a_clear_502(client, platform, fake_platform):
    fake_platform.close()

    response, _ = launch(client, fake_platform)

    assert_refused(response, 502, "could not check this launch with your learning platform")
    assert signed_in_user(client) is None


def test_the_launch_url_takes_only_posts(client, platform):
    assert client.get("/accounts/lti/launch/").status_code == 405


def test_the_tool_key_set_is_served_without_private_parts(client):
    call_command("lti_tool_key")

    response = client.get("/accounts/lti/jwks.json")

    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"] and key["n"] and key["e"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_rotating_the_tool_key_publishes_both_keys(client):
    call_command("lti_tool_key")
    call_command("lti_tool_key")  # idempotent: still one key
    assert len(client.get("/accounts/lti/jwks.json").json()["keys"]) == 1

    call_command("lti_tool_key", "--rotate")

    assert len(client.get("/accounts/lti/jwks.json").json()["keys"]) == 2


def test_a_platform_matching_by_sis_id_signs_in_the_synced_user(client, platform, fake_platform):
    platform.user_match = LtiPlatform.UserMatch.PERSON_SOURCEDID
    platform.save()
    users_upsert(items=[{"external_id": "SIS-123", "email": "ada@school.example"}])

    response, _ = launch(client, fake_platform, **{CLAIM + "lis": {"person_sourcedid": "SIS-123"}})

    assert response.status_code == 302
    assert signed_in_user(client).external_id == "SIS-123"


def test_a_very_long_platform_user_id_still_gets_one_stable_user(client, platform, fake_platform):
    sub = "x" * 255

    launch(client, fake_platform, sub=sub)
    first = signed_in_user(client)
    launch(Client(), fake_platform, sub=sub)

    assert first.external_id.startswith(f"lti:{platform.pk}:sha256:")
    assert len(first.external_id) <= 128
    assert User.objects.count() == 1
