"""WSGI entry point (gunicorn config.wsgi), with the heartbeat collector in front of Django."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

django_application = get_wsgi_application()

# After Django is set up: the collector uses the models. See video/collector.py for why
# player heartbeats skip Django's request cycle.
from video.collector import with_collector  # noqa: E402

application = with_collector(django_application)
