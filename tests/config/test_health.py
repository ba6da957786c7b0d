"""`/healthz`, and what every page and API answer does when the database does not answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
CONNECT_TIMEOUT = 2  # seconds; DB_CONNECT_TIMEOUT of the server under test
QUICKLY = 8  # seconds: the connect timeout plus the broker check, with room for a busy machine


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_naming_the_broker_but_not_its_address_when_it_is_down(client, monkeypatch):
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setitem(celery_app.conf, "broker_write_url", "redis://127.0.0.1:9/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "unavailable"}


# --- a database that accepts connections and never answers ------------------------------------


class SilentDatabase:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.accepted.append(conn)  # kept open, never answered

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@dataclass
class Answer:
    status: int
    headers: Message
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


def get(url: str, *, headers: dict[str, str] | None = None, timeout: float = 30) -> Answer:
    """GET with the standard library; error statuses are answers too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read().decode())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def silent_database() -> Iterator[SilentDatabase]:
    server = SilentDatabase()
    yield server
    server.close()


@pytest.fixture(scope="module")
def server_without_database(silent_database: SilentDatabase) -> Iterator[str]:
    """Stride under gunicorn, as deployed, with DATABASE_URL pointing at the silent server."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://stride:stride@127.0.0.1:{silent_database.port}/stride",
        "DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            "--workers=1",
            "--timeout=60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # the API index needs no database: it answers as soon as a worker is up
            try:
                if get(f"{url}/api/v1/", timeout=5).status == 200:
                    break
            except OSError:  # not listening yet
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start: " + process.stderr.read().decode())
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _timed_get(url: str, headers: dict[str, str] | None = None) -> tuple[Answer, float]:
    started = time.monotonic()
    answer = get(url, headers=headers)
    return answer, time.monotonic() - started


def _reveals_nothing(text: str, silent_database: SilentDatabase) -> None:
    for secret in (
        str(silent_database.port),
        "127.0.0.1",
        "OperationalError",
        "Traceback",
        "psycopg",
    ):
        assert secret not in text


def test_healthz_is_a_quick_503_without_details_when_the_database_hangs(
    server_without_database, silent_database
):
    response, seconds = _timed_get(f"{server_without_database}/healthz")

    assert seconds < QUICKLY
    assert response.status == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable", "broker": "ok"}
    _reveals_nothing(response.text, silent_database)


def test_the_api_answers_a_quick_json_503_when_the_database_hangs(
    server_without_database, silent_database
):
    response, seconds = _timed_get(
        f"{server_without_database}/api/v1/users/", headers={"Authorization": "Bearer any-key"}
    )

    assert seconds < QUICKLY
    assert response.status == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == "30"
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert body["code"] == "unavailable"
    _reveals_nothing(response.text, silent_database)


def test_the_site_answers_a_quick_friendly_503_page_when_the_database_hangs(
    server_without_database, silent_database
):
    # A signed-in visitor: reading the session is the first thing that needs the database.
    response, seconds = _timed_get(
        f"{server_without_database}/dashboard/engagement/",
        headers={"Cookie": f"sessionid={'x' * 32}"},
    )

    assert seconds < QUICKLY
    assert response.status == 503
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Stride is temporarily unavailable" in response.text
    assert 'href="/static/css/stride.css"' in response.text
    _reveals_nothing(response.text, silent_database)
