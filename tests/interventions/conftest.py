import pytest


@pytest.fixture(autouse=True)
def no_quiet_hours(settings):
    """Quiet hours off unless a test turns them on: tests that send "now" must not depend on
    the hour the suite runs at."""
    settings.STRIDE_QUIET_HOURS = (0, 0)


@pytest.fixture(scope="session")
def _push_server():
    from tests.interventions.push_service import start

    service, server = start()
    yield service
    server.shutdown()


@pytest.fixture
def push_service(_push_server, settings):
    """The loopback push service stand-in, and Stride configured to push through it with a
    VAPID key of its own."""
    from interventions.channels.push import vapid_keys_generate

    _push_server.subscribers.clear()
    _push_server.received.clear()
    _push_server.refused.clear()
    private, public = vapid_keys_generate()
    settings.STRIDE_VAPID_PRIVATE_KEY = private
    settings.STRIDE_PUSH_SERVICE_HOSTS = ["127.0.0.1"]
    _push_server.server_public_key = public
    return _push_server
