"""Sign-in lockout (django-axes): too many wrong passwords for one email from one address."""

from __future__ import annotations

import datetime
import time

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from tests.accounts.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

EMAIL, PASSWORD = "ada@example.com", "correct-horse-9"
ATTACKER, OTHER_ADDRESS = "203.0.113.7", "198.51.100.4"
LOCKED_TEXT = "Too many failed sign-in attempts; try again in 15 minutes."


@pytest.fixture
def ada(db) -> User:
    return AdminFactory(email=EMAIL, password=PASSWORD)


def sign_in(client: Client, password: str, *, ip: str = ATTACKER, path: str = "/accounts/login/"):
    return client.post(path, {"username": EMAIL, "password": password}, REMOTE_ADDR=ip)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lock_out(client: Client, failures: int) -> None:
    for attempt in range(1, failures + 1):
        response = sign_in(client, f"guess-{attempt}")
        if attempt < failures:
            assert response.status_code == 200  # the form again, with its error
            assert "correct email" in response.content.decode()
        else:
            assert response.status_code == 429


def test_after_five_wrong_passwords_the_right_one_is_refused_with_a_clear_page(client, ada):
    lock_out(client, failures=5)

    response = sign_in(client, PASSWORD)

    assert response.status_code == 429
    html = response.content.decode()
    assert LOCKED_TEXT in html
    assert 'href="/static/css/stride.css"' in html  # the site's own page, not bare text
    assert not signed_in(client)


def test_the_lockout_is_per_email_and_address(client, ada):
    UserFactory(email="ben@example.com", password=PASSWORD)
    lock_out(client, failures=5)

    # The same person from another address, and another person from the same address.
    assert sign_in(Client(), PASSWORD, ip=OTHER_ADDRESS).status_code == 302
    other = Client()
    response = other.post(
        "/accounts/login/",
        {"username": "ben@example.com", "password": PASSWORD},
        REMOTE_ADDR=ATTACKER,
    )
    assert response.status_code == 302
    assert signed_in(other)


def test_after_the_cool_off_the_right_password_works_again(client, ada, settings):
    settings.AXES_COOLOFF_TIME = datetime.timedelta(seconds=2)
    lock_out(client, failures=5)
    assert sign_in(client, PASSWORD).status_code == 429

    time.sleep(2.2)  # the cool-off counts from the last attempt
    response = sign_in(client, PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_an_administrator_can_lift_the_lockout_early(client, ada):
    lock_out(client, failures=5)

    call_command("axes_reset_username", EMAIL, verbosity=0)

    assert sign_in(client, PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_admin_login_is_locked_out_too(client, ada):
    for attempt in range(4):
        assert sign_in(client, f"guess-{attempt}", path="/admin/login/").status_code == 200
    assert sign_in(client, "guess-4", path="/admin/login/").status_code == 429

    response = sign_in(client, PASSWORD, path="/admin/login/")

    assert response.status_code == 429
    assert LOCKED_TEXT in response.content.decode()
    assert not signed_in(client)


def test_a_successful_sign_in_clears_earlier_failures(client, ada):
    for attempt in range(4):
        sign_in(client, f"guess-{attempt}")
    assert sign_in(client, PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    # Four more wrong ones: still below the limit, since the success started the count again.
    for attempt in range(4):
        assert sign_in(client, f"guess-again-{attempt}").status_code == 200
    assert sign_in(client, PASSWORD).status_code == 302


def test_api_keys_and_existing_sessions_are_not_locked_out(client, ada, make_key):
    signed_in_already = Client()
    signed_in_already.force_login(ada)
    lock_out(client, failures=5)

    integrator = make_key("users:read")
    assert integrator.get("/api/v1/users/", REMOTE_ADDR=ATTACKER).status_code == 200
    assert signed_in_already.get("/dashboard/engagement/", REMOTE_ADDR=ATTACKER).status_code == 200
