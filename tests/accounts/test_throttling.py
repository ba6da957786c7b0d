import time

import pytest

from accounts.models import ThrottleCounter
from accounts.tasks import delete_spent_rows

pytestmark = pytest.mark.django_db

DATABASE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "stride_cache",
    }
}


@pytest.fixture
def rate(settings):
    """Set the `api_key` rate (API_THROTTLE_RATE) for one test."""

    def set_rate(value: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"api_key": value},
        }

    return set_rate


def test_each_key_is_throttled_on_its_own_budget(make_key, rate):
    rate("3/min")
    busy, quiet = make_key("*", name="busy"), make_key("*", name="quiet")

    statuses = [busy.get("/api/v1/users/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    over = busy.get("/api/v1/users/")
    assert over.json()["code"] == "throttled"
    assert 0 < int(over["Retry-After"]) <= 60
    assert quiet.get("/api/v1/users/").status_code == 200


def test_a_new_window_opens_when_the_old_one_ends(make_key, rate):
    rate("2/s")
    client = make_key("*")

    assert [client.get("/api/v1/users/").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/v1/users/")["Retry-After"] == "1"
    time.sleep(1.1)
    assert client.get("/api/v1/users/").status_code == 200


def test_with_the_database_cache_requests_are_counted_in_one_row_per_key(make_key, rate, settings):
    # Through the `settings` fixture, as `rate` is: an override_settings decorator around it
    # would be undone first, and the fixture's own undo would then bring its CACHES back.
    settings.CACHES = DATABASE_CACHE
    rate("3/min")
    busy, quiet = make_key("*", name="busy"), make_key("*", name="quiet")

    statuses = [busy.get("/api/v1/users/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert int(busy.get("/api/v1/users/")["Retry-After"]) > 0
    assert quiet.get("/api/v1/users/").status_code == 200
    counter = ThrottleCounter.objects.get(key=f"throttle_api_key_key:{busy.api_key.prefix}")
    assert counter.hits == 5


def test_the_nightly_cleanup_deletes_ended_windows_and_the_budget_still_holds(
    make_key, rate, settings
):
    settings.CACHES = DATABASE_CACHE
    rate("2/min")
    busy = make_key("*", name="busy")
    assert [busy.get("/api/v1/users/").status_code for _ in range(3)] == [200, 200, 429]
    ThrottleCounter.objects.create(
        key="throttle_api_key_key:gone", window_started=time.time() - 2 * 86_400
    )

    assert delete_spent_rows()["throttle_counters"] == 1

    # The current window's counter stays: the busy key is still over its budget.
    assert list(ThrottleCounter.objects.values_list("key", flat=True)) == [
        f"throttle_api_key_key:{busy.api_key.prefix}"
    ]
    assert busy.get("/api/v1/users/").status_code == 429
