"""Fixtures shared by the whole suite."""

import os

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.accounts.factories import AdminFactory, ApiKeyFactory

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run
# in such a thread unless told that this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        return
    # Pages in a browser behave the same whatever the database: the PostgreSQL run drives
    # them, the SQLite run (make test's second) spends its time on the queries instead.
    skip = pytest.mark.skip(reason="browser tests run on PostgreSQL only")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_key(db):
    """Create an API key with the given scopes and return an APIClient that sends it."""

    def make(*scopes: str, name: str = "integration") -> APIClient:
        key = ApiKeyFactory(name=name, scopes=list(scopes) or ["*"])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw_key}")
        client.api_key = key
        client.raw_key = key.raw_key
        return client

    return make


@pytest.fixture
def integrator(make_key) -> APIClient:
    """A client holding a key with every scope."""
    return make_key("*")


@pytest.fixture
def staff_user(db) -> User:
    return AdminFactory(email="staff@example.com", password="pw-staff-1234")


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    client = APIClient()
    client.force_login(staff_user)
    return client


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium (Playwright must not download its own browser)."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }
