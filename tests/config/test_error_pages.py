"""Errors outside the views' own handling: JSON in the one shape under /api/, styled pages
elsewhere; and the API's index at /api/v1/."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import loader
from django.test import Client

from tests.accounts.factories import UserFactory
from tests.config.failing_urls import SECRET

pytestmark = pytest.mark.django_db


def assert_api_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == code
    assert body["fields"] == {}
    return body


def assert_site_page(response: Any, status: int, heading: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert 'href="/static/css/stride.css"' in html  # extends base.html: the site's own look
    assert '<a class="brand" href="/">Stride</a>' in html
    assert f"<h1>{heading}</h1>" in html
    return html


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/nope", "/api/v1/users/x/y/z/", "/api/"])
def test_unknown_api_paths_are_a_json_404(integrator, path):
    body = assert_api_error(integrator.get(path), 404, "not_found")

    assert "GET /api/v1/ lists the API's resources" in body["detail"]


def test_an_unknown_api_path_is_a_json_404_for_anonymous_callers_and_any_method(client):
    assert_api_error(client.post("/api/v1/nope/", {}), 404, "not_found")


@pytest.mark.urls("tests.config.failing_urls")
def test_an_unhandled_exception_in_an_api_view_is_a_json_500_without_a_traceback():
    client = Client(raise_request_exception=False)

    response = client.get("/api/v1/failing/")

    body = assert_api_error(response, 500, "server_error")
    assert "logged" in body["detail"]
    text = response.content.decode()
    assert SECRET not in text
    assert "Traceback" not in text


def test_a_request_for_a_host_not_allowed_is_a_json_400_on_the_api(client):
    response = client.get("/api/v1/users/", HTTP_HOST="attacker.example")

    assert_api_error(response, 400, "bad_request")
    assert "attacker.example" not in response.content.decode()


def test_the_api_index_lists_every_resource_with_its_url(client):
    response = client.get("/api/v1/")

    assert response.status_code == 200
    index = response.json()
    for key in ("users", "courses", "lessons", "enrollments", "events", "engagement/at-risk"):
        assert index[key] == f"http://testserver/api/v1/{key}/"


def test_the_api_index_is_in_the_schema_and_names_every_collection_it_documents(client):
    schema = client.get("/api/schema/?format=json").json()
    index = client.get("/api/v1/").json()

    assert "get" in schema["paths"]["/api/v1/"]
    # Every endpoint without a path parameter (actions on a collection aside) is in the index.
    actions = ("/bulk/", "/segments/preview/", "/segments/fields/")
    collections = {
        path
        for path in schema["paths"]
        if path.startswith("/api/v1/")
        and "{" not in path
        and not path.endswith(actions)
        and path != "/api/v1/"
    }
    assert {url.removeprefix("http://testserver") for url in index.values()} == collections


# --- the site ---------------------------------------------------------------------------------


def test_an_unknown_page_is_a_styled_404(client):
    html = assert_site_page(client.get("/no-such-page/"), 404, "Page not found")

    assert "<code>/no-such-page/</code>" in html


def test_a_staff_page_refused_to_a_student_is_a_styled_403(client):
    student = UserFactory(email="sam@example.com", password="pw-student-1234")
    client.force_login(student)

    html = assert_site_page(client.get("/dashboard/engagement/"), 403, "You cannot open this page")

    assert "signed in as sam@example.com" in html


@pytest.mark.urls("tests.config.failing_urls")
def test_an_unhandled_exception_on_a_page_is_a_styled_500_without_a_traceback():
    client = Client(raise_request_exception=False)

    response = client.get("/failing/")

    html = assert_site_page(response, 500, "Something went wrong on our side")
    assert SECRET not in html
    assert "Traceback" not in html


def test_a_request_for_a_host_not_allowed_is_a_styled_400_on_the_site(client):
    response = client.get("/", HTTP_HOST="attacker.example")

    html = assert_site_page(response, 400, "This request could not be understood")
    assert "attacker.example" not in html


def test_the_error_pages_render_without_a_request_or_the_database(django_assert_num_queries):
    for name, heading in (
        ("500.html", "Something went wrong on our side"),
        ("503.html", "Stride is temporarily unavailable"),
    ):
        with django_assert_num_queries(0):
            html = loader.get_template(name).render()
        assert f"<h1>{heading}</h1>" in html
