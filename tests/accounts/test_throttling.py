import pytest
from django.core.cache import cache

from accounts.throttling import ApiKeyRateThrottle

pytestmark = pytest.mark.django_db


def test_each_key_is_throttled_on_its_own_budget(make_key, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    cache.clear()
    busy, quiet = make_key("*", name="busy"), make_key("*", name="quiet")

    statuses = [busy.get("/api/v1/users/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    over = busy.get("/api/v1/users/")
    assert over.json()["code"] == "throttled"
    assert int(over["Retry-After"]) > 0
    assert quiet.get("/api/v1/users/").status_code == 200
