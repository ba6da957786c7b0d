import re

import pytest

pytestmark = pytest.mark.django_db


def test_schema_lists_the_sync_endpoints(staff_client):
    response = staff_client.get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/users/{external_id}/",
        "/api/v1/users/bulk/",
        "/api/v1/courses/{external_id}/",
        "/api/v1/lessons/{external_id}/",
        "/api/v1/enrollments/{user}/{course}/",
        "/api/v1/enrollments/bulk/",
    ):
        assert path in paths


def test_docs_page_loads_its_assets_from_our_own_server(staff_client):
    html = staff_client.get("/api/docs/").content.decode()

    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in src for src in sources)
    assert all(not src.startswith(("http://", "https://", "//")) for src in sources), sources
