"""Admin pages of sign-in: LTI platforms with their deployments, tool keys, identities,
launches and sign-in links (the last three read-only)."""

import pytest
from django.test import Client

from accounts.models import LtiPlatform, LtiToolKey, SignInLink
from accounts.services import sign_in_link_create
from tests.accounts.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGES = ["ltiplatform", "ltitoolkey", "ltiidentity", "ltilaunch", "signinlink"]


@pytest.fixture
def staff_client(db) -> Client:
    """An administrator with every permission, signed in to the admin."""
    client = Client()
    client.force_login(AdminFactory(is_superuser=True))
    return client


@pytest.mark.parametrize("model", PAGES)
def test_every_sign_in_model_has_an_admin_list(staff_client, model):
    assert staff_client.get(f"/admin/accounts/{model}/").status_code == 200


def test_staff_register_a_platform_with_its_deployments_and_see_the_tool_urls(staff_client):
    page = staff_client.get("/admin/accounts/ltiplatform/add/").content.decode()
    assert "http://testserver/accounts/lti/login/" in page
    assert "http://testserver/accounts/lti/jwks.json" in page

    response = staff_client.post(
        "/admin/accounts/ltiplatform/add/",
        {
            "name": "Canvas",
            "is_active": "on",
            "user_match": "sub",
            "issuer": "https://canvas.instructure.com",
            "client_id": "10000000000001",
            "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
            "access_token_url": "https://sso.canvaslms.com/login/oauth2/token",
            "keyset_url": "https://sso.canvaslms.com/api/lti/security/jwks",
            "audience": "",
            "deployments-TOTAL_FORMS": "1",
            "deployments-INITIAL_FORMS": "0",
            "deployments-0-deployment_id": "42:abc",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    platform = LtiPlatform.objects.get()
    assert list(platform.deployments.values_list("deployment_id", flat=True)) == ["42:abc"]


def test_saving_the_add_form_generates_a_tool_key(staff_client):
    response = staff_client.post("/admin/accounts/ltitoolkey/add/", {})

    assert response.status_code == 302
    key = LtiToolKey.objects.get()
    assert key.private_key.startswith("-----BEGIN PRIVATE KEY-----")
    page = staff_client.get(f"/admin/accounts/ltitoolkey/{key.pk}/change/").content.decode()
    assert "PRIVATE KEY" not in page  # shown: the kid and the public key only


def test_sign_in_links_are_read_only_and_show_no_token(staff_client):
    link, token = sign_in_link_create(user=UserFactory())

    page = staff_client.get(f"/admin/accounts/signinlink/{link.pk}/change/").content.decode()

    assert token not in page
    assert link.token_hash not in page
    assert staff_client.post(f"/admin/accounts/signinlink/{link.pk}/delete/").status_code == 403
    assert SignInLink.objects.count() == 1
