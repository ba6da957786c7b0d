from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run`; it sits on top of every app and nothing imports it."""

    name = "demo"
    verbose_name = "Demo data"
