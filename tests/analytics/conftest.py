"""Fixtures the analytics tests share."""

from __future__ import annotations

import pytest

from config.celery import app as celery_app


@pytest.fixture
def eager(monkeypatch):
    """Tasks run in-process when enqueued (Celery's own eager mode, not a fake)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
