"""Local development and `make run`: embedded defaults, DEBUG on."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import env_bool

DEBUG = env_bool("DEBUG", True)
# A fixed development key is fine here: local settings never face the internet.
SECRET_KEY = os.environ.get("SECRET_KEY") or "stride-local-development-key-not-for-production"
