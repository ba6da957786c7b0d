import hashlib

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from core.errors import DomainValidationError

pytestmark = pytest.mark.django_db


def test_key_is_stored_hashed_and_identified_by_prefix():
    key, raw = api_key_create(name="LMS sync", scopes=["users:write"])

    assert raw not in {key.hashed_key, key.prefix}
    assert key.hashed_key == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(f"sk_{key.prefix}_")
    assert not ApiKey.objects.filter(hashed_key=raw).exists()


def test_create_api_key_command_prints_the_key_alone_on_its_last_line(capsys):
    call_command("create_api_key", "--name", "moodle", "--scopes", "users:write,events:write")

    raw = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/users/").status_code == 200
    key = ApiKey.objects.get()
    assert key.scopes == ["events:write", "users:write"]


def test_create_api_key_command_rejects_unknown_scope():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("create_api_key", "--name", "x", "--scopes", "users:delete")
    assert not ApiKey.objects.exists()


def test_unknown_scope_is_a_domain_error_naming_scopes():
    with pytest.raises(DomainValidationError) as excinfo:
        api_key_create(name="x", scopes=["nope"])
    assert "scopes" in excinfo.value.fields


def test_missing_or_unknown_key_is_401_in_the_common_shape(api_client):
    response = api_client.get("/api/v1/users/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"

    api_client.credentials(HTTP_AUTHORIZATION="Bearer sk_nothing_here")
    response = api_client.get("/api/v1/users/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "detail": "Unknown API key.",
        "fields": {},
    }


def test_key_without_the_scope_gets_403_naming_the_scope(make_key):
    client = make_key("events:write")

    response = client.put("/api/v1/users/u1/", {"email": "a@example.com"}, format="json")

    assert response.status_code == 403
    assert "users:write" in response.json()["detail"]


def test_write_scope_implies_read_but_read_does_not_imply_write(make_key):
    assert make_key("users:write").get("/api/v1/users/").status_code == 200
    reader = make_key("users:read")
    assert reader.get("/api/v1/users/").status_code == 200
    assert (
        reader.put("/api/v1/users/u1/", {"email": "a@example.com"}, format="json").status_code
        == 403
    )


def test_revoked_key_is_refused_with_401(make_key):
    client = make_key("*")
    assert client.get("/api/v1/users/").status_code == 200

    api_key_revoke(key=client.api_key)

    response = client.get("/api/v1/users/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_use_is_recorded_as_last_used_at(make_key):
    client = make_key("*")
    assert ApiKey.objects.get().last_used_at is None

    client.get("/api/v1/users/")

    assert ApiKey.objects.get().last_used_at is not None


def test_admin_creates_a_key_and_shows_it_once(staff_user):
    from django.test import Client

    staff_user.is_superuser = True
    staff_user.save()
    browser = Client()
    browser.force_login(staff_user)

    response = browser.post(
        "/admin/accounts/apikey/add/",
        {"name": "From admin", "source": "", "scopes": ["scores:read"]},
        follow=True,
    )

    key = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any(key.prefix in message for message in shown)
    raw = next(m for m in shown if key.prefix in m).split(": ", 1)[1].split(" ")[0]
    assert key.hashed_key == hashlib.sha256(raw.encode()).hexdigest()
    assert key.created_by == staff_user
