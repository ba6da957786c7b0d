"""Test settings: the suite runs against PostgreSQL and Redis when DATABASE_URL / REDIS_URL
are set (as `make test` does), and on the embedded defaults otherwise."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, REDIS_URL, REST_FRAMEWORK

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
