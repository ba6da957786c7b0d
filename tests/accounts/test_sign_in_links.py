"""One-time sign-in links: an integrator asks for one, the student's browser spends it once."""

from __future__ import annotations

import datetime
import hashlib
import io
import threading
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import SignInLink, User
from accounts.services import sign_in_link_create, sign_in_link_redeem
from accounts.tasks import delete_spent_rows
from tests.accounts.factories import AdminFactory, InstructorFactory, UserFactory
from tests.locks import backend_pid, needs_postgresql, wait_until_blocked

pytestmark = pytest.mark.django_db

URL = "/api/v1/users/{}/sign-in-link/"


@pytest.fixture
def student(db) -> User:
    return UserFactory(external_id="stu-1", email="stu@example.com")


@pytest.fixture
def linker(make_key):
    """An integrator whose key may ask for sign-in links."""
    return make_key("users:sign_in")


def ask(linker, external_id: str, **body):
    return linker.post(URL.format(external_id), body, format="json")


def path_of(url: str) -> str:
    return urlsplit(url).path


def signed_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def assert_refused(response, status: int, text: str) -> None:
    html = response.content.decode()
    assert response.status_code == status, html[:1500]
    assert "We could not sign you in" in html
    assert text in html


def test_an_integrator_gets_a_link_that_signs_the_student_in_once(linker, student, client):
    before = timezone.now()
    response = ask(linker, "stu-1")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["url"].startswith("http://testserver/accounts/sign-in/")
    expires_at = datetime.datetime.fromisoformat(body["expires_at"])
    assert before + datetime.timedelta(minutes=10) <= expires_at
    assert expires_at <= timezone.now() + datetime.timedelta(minutes=10)

    opened = client.get(path_of(body["url"]))

    assert opened.status_code == 302
    assert opened["Location"] == "/me/"
    assert signed_in_user(client) == student

    again = Client().get(path_of(body["url"]))
    assert_refused(again, 410, "This sign-in link was already used")


def test_the_second_use_in_the_same_browser_is_refused_too(linker, student, client):
    path = path_of(ask(linker, "stu-1").json()["url"])
    client.get(path)
    client.post("/accounts/logout/")

    response = client.get(path)

    assert_refused(response, 410, "already used")
    assert signed_in_user(client) is None


def test_the_token_is_stored_only_as_its_hash(linker, student):
    url = ask(linker, "stu-1").json()["url"]
    token = path_of(url).rstrip("/").rsplit("/", 1)[1]

    link = SignInLink.objects.get()
    assert token not in link.token_hash
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert link.requested_by == linker.api_key


def test_an_expired_link_is_refused(student, client, settings):
    settings.STRIDE_SIGN_IN_LINK_MINUTES = 0  # expires as it is made
    _, token = sign_in_link_create(user=student)

    response = client.get(f"/accounts/sign-in/{token}/")

    assert_refused(response, 410, "This sign-in link has expired")
    assert signed_in_user(client) is None


def test_an_unknown_link_is_refused(client, db):
    response = client.get("/accounts/sign-in/not-a-real-token/")

    assert_refused(response, 404, "This sign-in link is not valid")


def test_a_peek_does_not_spend_the_link(student, client):
    _, token = sign_in_link_create(user=student)

    assert client.head(f"/accounts/sign-in/{token}/").status_code == 405

    assert client.get(f"/accounts/sign-in/{token}/").status_code == 302
    assert signed_in_user(client) == student


def test_a_link_can_open_a_page_on_stride(linker, student, client):
    url = ask(linker, "stu-1", next="/me/achievements/?tab=all").json()["url"]

    response = client.get(path_of(url))

    assert response["Location"] == "/me/achievements/?tab=all"


@pytest.mark.parametrize(
    "target", ["//evil.com", "https://evil.com", "/\\evil.com", "http:/evil.com", "me/", "/\t/evil"]
)
def test_the_api_refuses_a_next_that_leaves_the_site(linker, student, target):
    response = ask(linker, "stu-1", next=target)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "single '/'" in body["fields"]["next"][0]
    assert not SignInLink.objects.exists()


@pytest.mark.parametrize(
    "target", ["//evil.com", "https://evil.com", "/\\evil.com", "///evil.com", "/\t/evil.com"]
)
def test_a_next_on_the_link_that_leaves_the_site_opens_the_students_home(student, client, target):
    _, token = sign_in_link_create(user=student)

    response = client.get(f"/accounts/sign-in/{token}/", {"next": target})

    assert response.status_code == 302
    assert response["Location"] == "/me/"


def test_a_local_next_on_the_link_is_followed(student, client):
    _, token = sign_in_link_create(user=student)

    response = client.get(f"/accounts/sign-in/{token}/", {"next": "/me/leaderboards/"})

    assert response["Location"] == "/me/leaderboards/"


def test_an_unknown_user_is_a_404_in_the_error_shape(linker, db):
    response = ask(linker, "nobody")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found.", "fields": {}}


def test_staff_accounts_get_no_link(linker, db):
    AdminFactory(external_id="boss", email="boss@example.com")

    response = ask(linker, "boss")

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "permission_denied"
    assert "never open staff accounts" in body["detail"]
    assert "The user boss is a staff account" in body["detail"]
    assert not SignInLink.objects.exists()


def test_an_instructor_gets_a_link(linker, db):
    InstructorFactory(external_id="teach-1")

    assert ask(linker, "teach-1").status_code == 201


def test_a_link_of_someone_made_staff_since_is_refused(student, client):
    _, token = sign_in_link_create(user=student)
    student.is_staff = True
    student.save()

    response = client.get(f"/accounts/sign-in/{token}/")

    assert_refused(response, 403, "never open staff accounts")
    assert signed_in_user(client) is None


def test_a_link_needs_the_sign_in_scope(make_key, student):
    for scopes in (["users:write"], ["users:read"], ["events:write"]):
        response = ask(make_key(*scopes), "stu-1")
        assert response.status_code == 403
        assert "users:sign_in" in response.json()["detail"]
    assert ask(make_key("*"), "stu-1").status_code == 201


def test_a_student_cannot_ask_for_links(student, client):
    client.force_login(student)

    response = client.post(URL.format("stu-1"), {}, content_type="application/json")

    assert response.status_code == 403
    assert not SignInLink.objects.exists()


def test_the_api_refuses_a_next_of_the_wrong_type(linker, student):
    response = ask(linker, "stu-1", next=5)

    assert response.status_code == 400
    assert "next" in response.json()["fields"]


def test_the_command_prints_a_link_for_a_demo_student(student, client, settings):
    settings.STRIDE_SITE_URL = "https://stride.example.com"
    out = io.StringIO()

    call_command("sign_in_link", "stu-1", stdout=out, stderr=io.StringIO())

    url = out.getvalue().strip().splitlines()[-1]
    assert url.startswith("https://stride.example.com/accounts/sign-in/")
    assert client.get(path_of(url))["Location"] == "/me/"
    assert signed_in_user(client) == student


def test_the_command_refuses_unknown_and_staff_users(db):
    AdminFactory(external_id="boss")

    with pytest.raises(CommandError, match="No user has the external id 'nobody'"):
        call_command("sign_in_link", "nobody", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="never open staff accounts"):
        call_command("sign_in_link", "boss", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_redemptions_sign_in_once():
    """The second redemption waits for the first's row lock, then finds the link used."""
    needs_postgresql()
    student = UserFactory(external_id="stu-race")
    _, token = sign_in_link_create(user=student)
    first_claimed = threading.Event()
    release_first = threading.Event()
    second_pid: list[int] = []
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes["first"] = sign_in_link_redeem(raw_token=token)
                first_claimed.set()
                release_first.wait(20)  # hold the claim uncommitted
        except Exception as exc:
            outcomes["first"] = exc
        finally:
            first_claimed.set()
            connection.close()

    def second() -> None:
        try:
            second_pid.append(backend_pid())
            first_claimed.wait(20)
            outcomes["second"] = sign_in_link_redeem(raw_token=token)
        except Exception as exc:
            outcomes["second"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    first_claimed.wait(20)
    threads[1].start()
    while not second_pid:
        threading.Event().wait(0.005)
    wait_until_blocked(second_pid[0])  # the second UPDATE waits on the first's lock
    release_first.set()
    for thread in threads:
        thread.join(30)

    assert isinstance(outcomes["first"], SignInLink)
    assert getattr(outcomes["second"], "status", None) == 410
    assert "already used" in str(outcomes["second"])
    assert SignInLink.objects.get().used_at is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_one_link_sign_in_one_browser():
    needs_postgresql()  # the test's in-memory SQLite refuses concurrent connections outright
    student = UserFactory(external_id="stu-http")
    _, token = sign_in_link_create(user=student)
    barrier = threading.Barrier(4)
    statuses: list[int] = []
    lock = threading.Lock()

    def redeem() -> None:
        try:
            browser = Client()
            barrier.wait()
            status = browser.get(f"/accounts/sign-in/{token}/").status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(statuses) == [302, 410, 410, 410]


def test_the_nightly_cleanup_deletes_spent_links_and_keeps_usable_ones(student, client):
    """`accounts.delete_spent_rows` (beat, nightly): links used or expired over a day ago go;
    a fresh one and one spent an hour ago stay, and the fresh one still signs in."""
    now = timezone.now()
    used_long_ago, _ = sign_in_link_create(user=student)
    expired_long_ago, _ = sign_in_link_create(user=student)
    used_lately, _ = sign_in_link_create(user=student)
    fresh, token = sign_in_link_create(user=student)
    SignInLink.objects.filter(pk=used_long_ago.pk).update(used_at=now - datetime.timedelta(days=2))
    SignInLink.objects.filter(pk=expired_long_ago.pk).update(
        expires_at=now - datetime.timedelta(days=2)
    )
    SignInLink.objects.filter(pk=used_lately.pk).update(used_at=now - datetime.timedelta(hours=1))

    assert delete_spent_rows() == {"sign_in_links": 2, "throttle_counters": 0}

    assert set(SignInLink.objects.values_list("pk", flat=True)) == {used_lately.pk, fresh.pk}
    client.get(f"/accounts/sign-in/{token}/")
    assert signed_in_user(client) == student
