import pytest

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_login_and_logout_pages(client):
    UserFactory(email="ada@example.com", password="correct-horse-9")

    assert client.get("/accounts/login/").status_code == 200
    bad = client.post("/accounts/login/", {"username": "ada@example.com", "password": "nope"})
    assert bad.status_code == 200
    assert "correct email" in bad.content.decode()

    good = client.post(
        "/accounts/login/", {"username": "ada@example.com", "password": "correct-horse-9"}
    )
    assert good.status_code == 302
    assert "ada@example.com" in client.get("/").content.decode()

    client.post("/accounts/logout/")
    assert "Log in" in client.get("/").content.decode()


@pytest.mark.browser
def test_login_in_a_real_browser(live_server, page):
    UserFactory(email="grace@example.com", password="correct-horse-9")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "grace@example.com")
    page.fill("#id_password", "correct-horse-9")
    page.click("button[type=submit]")

    # A student lands on their own pages (STRIDE_STUDENT_HOME), signed in.
    page.wait_for_url(f"{live_server.url}/me/")
    assert page.inner_text(".who") == "grace@example.com"
