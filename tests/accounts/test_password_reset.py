"""Email and password: the reset flow by email, and where each person lands after signing in."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from accounts.services import users_ensure_provisional, users_upsert
from tests.accounts.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-horse-77"
LINK = re.compile(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)")


def reset_link(email: str) -> str:
    """Ask for a reset of `email` and return the path of the link in the one email sent."""
    response = Client().post("/accounts/password-reset/", {"email": email})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    [message] = mail.outbox
    assert message.to == [email]
    return LINK.search(message.body).group(1)


def choose_password(client: Client, path: str, password: str):
    form_page = client.get(path, follow=True)  # Django moves the token out of the URL first
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()
    set_path = form_page.redirect_chain[-1][0]
    return client.post(set_path, {"new_password1": password, "new_password2": password})


def log_in(client: Client, email: str, password: str):
    return client.post("/accounts/login/", {"username": email, "password": password})


def test_the_login_page_links_to_the_reset(client):
    html = client.get("/accounts/login/").content.decode()

    assert 'href="/accounts/password-reset/"' in html


def test_a_forgotten_password_is_reset_by_email_and_the_new_one_works(client):
    UserFactory(email="ada@example.com", password="old-password-1")

    path = reset_link("ada@example.com")
    message = mail.outbox[0]
    assert message.subject == "Choose your Stride password"
    assert "The link works once" in message.body

    done = choose_password(client, path, NEW_PASSWORD)
    assert done.status_code == 302
    assert done["Location"] == "/accounts/password-reset/done/"
    assert "Password saved" in client.get(done["Location"]).content.decode()

    assert log_in(Client(), "ada@example.com", "old-password-1").status_code == 200  # refused
    response = log_in(Client(), "ada@example.com", NEW_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/me/"


def test_a_reset_link_works_once(client):
    UserFactory(email="ada@example.com")
    path = reset_link("ada@example.com")
    choose_password(client, path, NEW_PASSWORD)

    again = Client().get(path, follow=True)

    assert "This link no longer works" in again.content.decode()


def test_a_password_the_validators_refuse_is_explained(client):
    UserFactory(email="ada@example.com")
    path = reset_link("ada@example.com")

    response = choose_password(client, path, "12345678")

    assert response.status_code == 200
    html = response.content.decode()
    assert "This password is too common." in html
    assert 'aria-invalid="true"' in html


def test_a_synced_student_without_a_password_can_choose_a_first_one(client):
    users_upsert(items=[{"external_id": "stu-9", "email": "grace@example.com"}])
    assert not User.objects.get(external_id="stu-9").has_usable_password()

    choose_password(client, reset_link("grace@example.com"), NEW_PASSWORD)

    response = log_in(Client(), "grace@example.com", NEW_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/me/"


@pytest.mark.parametrize("who", ["nobody", "staff without password", "provisional", "inactive"])
def test_no_email_goes_where_no_reset_should_happen_and_the_page_says_the_same(client, who):
    email = "someone@example.com"
    if who == "staff without password":
        AdminFactory(email=email, password=None)
    elif who == "provisional":
        ext = "prov-1"
        users_ensure_provisional(external_ids=[ext])
        email = User.objects.get(external_id=ext).email
    elif who == "inactive":
        UserFactory(email=email, is_active=False)

    response = client.post("/accounts/password-reset/", {"email": email}, follow=True)

    assert "If an account uses that address" in response.content.decode()
    assert mail.outbox == []


def test_staff_with_a_password_can_reset_it(client):
    AdminFactory(email="boss@example.com")

    reset_link("boss@example.com")


def test_an_invalid_address_is_explained(client):
    response = client.post("/accounts/password-reset/", {"email": "not-an-address"})

    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()


def test_students_land_on_their_pages_and_staff_where_they_always_did(client):
    UserFactory(email="stu@example.com", password="pw-1234-horse")
    AdminFactory(email="boss@example.com", password="pw-1234-horse")

    assert log_in(Client(), "stu@example.com", "pw-1234-horse")["Location"] == "/me/"
    assert log_in(Client(), "boss@example.com", "pw-1234-horse")["Location"] == "/"


def test_a_next_path_wins_over_the_home(client):
    UserFactory(email="stu@example.com", password="pw-1234-horse")

    response = client.post(
        "/accounts/login/?next=/me/achievements/",
        {"username": "stu@example.com", "password": "pw-1234-horse", "next": "/me/achievements/"},
    )

    assert response["Location"] == "/me/achievements/"


def test_a_next_leaving_the_site_is_ignored_at_login(client):
    UserFactory(email="stu@example.com", password="pw-1234-horse")

    response = client.post(
        "/accounts/login/",
        {"username": "stu@example.com", "password": "pw-1234-horse", "next": "https://evil.com/"},
    )

    assert response["Location"] == "/me/"
