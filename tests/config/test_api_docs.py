import re

import pytest
from jsonschema import Draft4Validator

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


METHODS = {"get", "put", "post", "patch", "delete"}
# Words of the code, not of the API: docstrings leaking into the docs show them.
INTERNAL = re.compile(
    r"serializer|viewset|queryset|mixin|<resource>|//|\bself\b|STRIDE_[A-Z_]+", re.IGNORECASE
)


def _schema(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def _texts(node, where: str = ""):
    """Every description and summary in a part of the schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield f"{where}.{key}", value
            else:
                yield from _texts(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _texts(value, f"{where}[{index}]")


def test_every_operation_has_an_integrator_facing_summary_and_description(api_client):
    schema = _schema(api_client)

    operations = dict(_operations(schema))
    assert len(operations) >= 20
    undocumented = [
        name
        for name, operation in operations.items()
        if not operation.get("summary", "").strip()
        or len(operation.get("description", "").strip()) < 40
    ]
    assert undocumented == []
    leaks = [(where, text) for where, text in _texts(schema) if INTERNAL.search(text)]
    assert leaks == []


def test_every_operation_documents_its_errors_in_the_one_shape(api_client):
    schema = _schema(api_client)

    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail", "fields"]
    missing = []
    for name, operation in _operations(schema):
        for code in ("400", "401", "403", "404", "413", "429"):
            answer = operation["responses"].get(code, {})
            body = answer.get("content", {}).get("application/json", {}).get("schema")
            if body != {"$ref": "#/components/schemas/Error"} or not answer.get("description"):
                missing.append(f"{name} {code}")
    assert missing == []


def test_documented_error_shape_matches_real_errors(integrator, make_key):
    """The `Error` component describes what the API answers, bulk item errors included."""
    schema = _schema(integrator)
    components = {"components": schema["components"]}
    validator = Draft4Validator({"$ref": "#/components/schemas/Error", **components})

    bulk = integrator.post("/api/v1/users/bulk/", {"items": [{"external_id": "u-1"}]}, "json")
    forbidden = make_key("events:write").get("/api/v1/users/")
    single = integrator.put("/api/v1/users/u-2/", {"timezone": "Mars/Olympus"}, "json")
    for response, status in ((bulk, 400), (forbidden, 403), (single, 400)):
        assert response.status_code == status
        assert list(validator.iter_errors(response.json())) == []
    assert bulk.json()["fields"]["items"]["0"]["email"]


def test_answers_declare_what_they_can_hold(api_client):
    """Stored emails may be internationalised; relations over nullable keys may be null."""
    schemas = _schema(api_client)["components"]["schemas"]

    assert schemas["UserOutput"]["properties"]["email"]["format"] == "idn-email"
    assert schemas["AtRiskLearner"]["properties"]["email"]["format"] == "idn-email"
    assert schemas["AlertOutput"]["properties"]["course"]["nullable"] is True
    assert schemas["CourseOutput"]["properties"]["instructor"]["nullable"] is True
    assert schemas["UserBulkRequest"]["properties"]["items"]["minItems"] == 1


def test_docs_page_loads_its_assets_from_our_own_server(staff_client):
    html = staff_client.get("/api/docs/").content.decode()

    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in src for src in sources)
    assert all(not src.startswith(("http://", "https://", "//")) for src in sources), sources


DOCS_HOST = "docs.stride.test"  # not localhost: Swagger UI treats localhost specially


@pytest.fixture
def docs_page(browser_type, browser_type_launch_args, live_server, settings):
    """A page of a browser that reaches the live server under a public-looking host name."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, DOCS_HOST]
    port = live_server.url.rsplit(":", 1)[1]
    args = browser_type_launch_args.get("args", [])
    browser = browser_type.launch(
        **{
            **browser_type_launch_args,
            "args": [*args, f"--host-resolver-rules=MAP {DOCS_HOST} 127.0.0.1"],
        }
    )
    page = browser.new_page()
    page.base_url = f"http://{DOCS_HOST}:{port}"
    yield page
    browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/api/redoc/", "h1:has-text('Stride API')"), ("/api/docs/", ".swagger-ui .info .title")],
)
def test_docs_pages_request_nothing_from_other_servers(docs_page, path, rendered):
    page, origin = docs_page, docs_page.base_url
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "violates" in msg.text else None)

    page.goto(f"{origin}{path}")
    page.locator(rendered).first.wait_for()
    page.wait_for_load_state("networkidle")

    assert page.locator(rendered).first.is_visible()
    elsewhere = [
        url for url in requested if not url.startswith((f"{origin}/", "data:", f"blob:{origin}/"))
    ]
    assert elsewhere == []
    assert f"{origin}/api/schema/" in requested
    assert refused == []  # nor did anything break the Content-Security-Policy


def test_query_ranges_in_the_schema_are_the_checked_ones(api_client, integrator):
    """`at-risk?limit=0` fitted the old schema (any integer) and got a 400."""
    operation = _schema(api_client)["paths"]["/api/v1/engagement/at-risk/"]["get"]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")

    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 500)
    assert integrator.get("/api/v1/engagement/at-risk/?limit=1").status_code == 200
    assert integrator.get("/api/v1/engagement/at-risk/?limit=0").status_code == 400


def test_an_empty_batch_of_events_is_outside_the_schema(api_client, integrator):
    body = _schema(api_client)["components"]["schemas"]["EventOrBatchRequest"]
    batch = next(variant for variant in body["oneOf"] if variant.get("type") == "array")

    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)
    assert integrator.post("/api/v1/events/", [], format="json").status_code == 400


@pytest.mark.parametrize(
    ("url", "body", "field", "message"),
    [
        ("/api/v1/courses/c-1/", {"title": 0}, "title", "Not a valid string."),
        (
            "/api/v1/lessons/l-1/",
            {"course": "c-1", "title": "L", "position": "2"},
            "position",
            "A valid integer is required.",
        ),
    ],
)
def test_a_value_of_another_json_type_is_refused_not_converted(
    integrator, url, body, field, message
):
    integrator.put("/api/v1/courses/c-1/", {"title": "Course"}, format="json")

    response = integrator.put(url, body, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {field: [message]}


def test_a_bulk_item_of_another_json_type_is_refused_by_index(integrator):
    items = [
        {"external_id": "u-1", "email": "u1@example.com"},
        {"external_id": 7, "email": "x@y.z"},
    ]

    response = integrator.post("/api/v1/users/bulk/", {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"items": {"1": {"external_id": ["Not a valid string."]}}}
    assert integrator.get("/api/v1/users/u-1/").status_code == 404  # all or nothing


def test_a_yes_no_filter_takes_true_or_false_only(integrator):
    integrator.put("/api/v1/users/u-1/", {"email": "u1@example.com"}, format="json")

    refused = integrator.get("/api/v1/users/?provisional=banana")
    synced = integrator.get("/api/v1/users/?provisional=false").json()
    provisional = integrator.get("/api/v1/users/?provisional=true").json()
    unfiltered = integrator.get("/api/v1/users/?provisional=").json()

    assert refused.status_code == 400
    assert refused.json()["fields"] == {"provisional": ["Must be true or false."]}
    assert [user["external_id"] for user in synced["results"]] == ["u-1"]
    assert provisional["count"] == 0
    assert unfiltered["count"] == 1


@pytest.mark.parametrize("value", ["0.5", "-1", "101"])
def test_alert_min_priority_is_a_whole_number_from_0_to_100(integrator, api_client, value):
    response = integrator.get(f"/api/v1/engagement/alerts/?min_priority={value}")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["min_priority"]
    operation = _schema(api_client)["paths"]["/api/v1/engagement/alerts/"]["get"]
    documented = next(p for p in operation["parameters"] if p["name"] == "min_priority")
    assert documented["schema"] == {"type": "integer", "minimum": 0, "maximum": 100}


def test_date_time_filters_document_the_offsets_they_take(api_client, integrator):
    """`updated_since=...-16:56` fitted the old schema (any RFC 3339 date-time) and got a 400."""
    operation = _schema(api_client)["paths"]["/api/v1/users/"]["get"]
    since = next(p for p in operation["parameters"] if p["name"] == "updated_since")
    pattern = re.compile(since["schema"]["pattern"])

    for value, status in (("2026-01-01T00:00:00+15:59", 200), ("2026-01-01T00:00:00-16:00", 400)):
        assert bool(pattern.match(value)) is (status == 200)
        response = integrator.get("/api/v1/users/", {"updated_since": value})
        assert response.status_code == status


def test_text_filters_declare_that_they_refuse_nul(staff_client, integrator):
    schema = staff_client.get("/api/schema/?format=json").json()
    parameters = {
        p["name"]: p["schema"]
        for p in schema["paths"]["/api/v1/engagement/scores/"]["get"]["parameters"]
    }

    assert parameters["user"]["pattern"] == r"^[^\x00]*$"
    assert integrator.get("/api/v1/engagement/scores/?user=a%00b").status_code == 400
