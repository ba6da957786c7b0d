"""Test settings: the suite runs against PostgreSQL and Redis when DATABASE_URL / REDIS_URL
are set (as `make test` does), and on the embedded defaults otherwise."""

import os
from urllib.parse import urlsplit

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, CELERY_BROKER_URL, REDIS_URL, REST_FRAMEWORK


def _redis_database(url: str, index: int) -> str:
    """``url`` with its Redis database number replaced by ``index``."""
    return urlsplit(url)._replace(path=f"/{index}").geturl()


# Each pytest-xdist worker (gw0, gw1, ...) gets Redis databases of its own: the cache's clear()
# is a FLUSHDB that would wipe the other worker's cache and leaderboards mid-test, and a real
# Celery worker must not take a task another worker's test sent.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw") and _XDIST_WORKER[2:].isdigit():
    _n = int(_XDIST_WORKER[2:])
    if REDIS_URL:
        REDIS_URL = _redis_database(REDIS_URL, 4 + _n)
        CACHES["default"]["LOCATION"] = REDIS_URL
    if CELERY_BROKER_URL.startswith("redis://"):
        CELERY_BROKER_URL = _redis_database(CELERY_BROKER_URL, 10 + _n)

DEBUG = False
SECRET_KEY = "stride-test-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES["default"]["KEY_PREFIX"] = f"stride-test-{os.getpid()}"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"api_key": "100000/min"},
}
CELERY_TASK_ALWAYS_EAGER = False
