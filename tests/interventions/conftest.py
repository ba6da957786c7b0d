import pytest


@pytest.fixture(autouse=True)
def no_quiet_hours(settings):
    """Quiet hours off unless a test turns them on: tests that send "now" must not depend on
    the hour the suite runs at."""
    settings.STRIDE_QUIET_HOURS = (0, 0)
