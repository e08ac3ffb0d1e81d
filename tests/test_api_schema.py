"""The OpenAPI schema: generated without a single warning, valid OpenAPI 3, and documenting every error."""

import json
import os
import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.drainage import reset_generator_stats
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

METHODS = {"get", "post", "put", "patch", "delete"}
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_schema_generates_without_warnings_and_validates(capsys):
    """What ``manage.py spectacular --validate --fail-on-warn`` checks, in-process, with the warnings shown."""
    reset_generator_stats()
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)
    except Exception as exc:  # SchemaGenerationError / SchemaValidationError
        pytest.fail(f"{exc.__class__.__name__}: {exc}\n{capsys.readouterr().err}")


def test_schema_is_valid_openapi_3(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_every_operation_has_a_unique_id_and_a_summary(schema):
    ids = [op["operationId"] for _, _, op in operations(schema)]
    assert len(ids) == len(set(ids))
    assert all(op.get("summary") for _, _, op in operations(schema))


def test_every_operation_documents_401_with_the_error_body(schema):
    for path, method, operation in operations(schema):
        response = operation["responses"].get("401")
        assert response, f"{method.upper()} {path} does not document 401"
        assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF


def test_operations_on_an_object_document_404(schema):
    for path, method, operation in operations(schema):
        if "{" in path:
            assert "404" in operation["responses"], f"{method.upper()} {path} does not document 404"


def test_writes_document_their_body_400_and_403(schema):
    for path, method, operation in operations(schema):
        if method in {"post", "patch"}:
            assert list(operation["requestBody"]["content"]) == ["application/json"], f"{method} {path}"
            assert {"400", "403"} <= set(operation["responses"]), f"{method.upper()} {path}"


def test_action_endpoints_document_409(schema):
    for suffix in ("transition/", "severity/", "roles/"):
        operation = schema["paths"][f"/api/v1/incidents/{{id}}/{suffix}"]["post"]
        assert operation["responses"]["409"]["content"]["application/json"]["schema"]["$ref"] == ERROR_REF


def test_incident_id_is_an_integer_and_patch_is_documented_without_put(schema):
    item = schema["paths"]["/api/v1/incidents/{id}/"]
    assert {"get", "patch"} <= set(item)
    assert "put" not in item
    assert "delete" not in item
    [param] = [p for p in item["get"]["parameters"] if p["name"] == "id"]
    assert param["schema"]["type"] == "integer"


def test_incident_list_documents_its_filters(schema):
    params = {p["name"] for p in schema["paths"]["/api/v1/incidents/"]["get"]["parameters"]}
    assert {
        "status",
        "severity",
        "team",
        "service",
        "q",
        "declared_after",
        "declared_before",
        "private",
        "customer_impact",
        "cursor",
        "page_size",
    } <= params


def test_error_body_is_described(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "code"}
    assert set(error["properties"]) == {"detail", "code", "errors"}


#: Anything a page could load from another host: absolute and protocol-relative URLs.
EXTERNAL_URL_RE = re.compile(r"""(?:https?:)?//[^\s"'<>()]+""")


def _assets(html: str) -> list[str]:
    return re.findall(r"""<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)\"""", html)


@pytest.mark.django_db
def test_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/incidents/" in response.json()["paths"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "marker", "bundle"),
    [
        ("/api/docs/", "SwaggerUIBundle", "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/redoc/", "Redoc.init", "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ],
)
def test_api_docs_load_nothing_from_outside_the_site(client, path, marker, bundle):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert marker in html
    assert EXTERNAL_URL_RE.findall(html) == []
    assert "fonts.googleapis" not in html and "fonts.gstatic" not in html
    assets = _assets(html)
    assert settings.STATIC_URL + bundle in assets
    for asset in assets:  # every script and stylesheet is one of the site's static files
        assert asset.startswith(settings.STATIC_URL), asset
        assert finders.find(asset.removeprefix(settings.STATIC_URL)), asset


@pytest.mark.django_db
def test_redoc_uses_system_fonts_and_keeps_images_and_fonts_to_the_site(client):
    html = client.get("/api/redoc/").content.decode()
    redoc_settings = json.loads(re.search(r"const redocSettings = (\{.*?\});", html, re.S).group(1))
    typography = redoc_settings["theme"]["typography"]
    for family in (typography["fontFamily"], typography["headings"]["fontFamily"]):
        assert family.startswith("system-ui") and "Montserrat" not in family
    assert "Content-Security-Policy" in html and "img-src 'self' data: blob:; font-src 'self' data:" in html


INCIDENT_ACTIONS = [
    ("/api/v1/incidents/{id}/", "patch"),
    ("/api/v1/incidents/{id}/transition/", "post"),
    ("/api/v1/incidents/{id}/severity/", "post"),
    ("/api/v1/incidents/{id}/roles/", "post"),
    ("/api/v1/incidents/{id}/roles/{role_slug}/", "delete"),
    ("/api/v1/incidents/{id}/updates/", "post"),
]


@pytest.mark.parametrize(("path", "method"), INCIDENT_ACTIONS)
def test_incident_actions_document_if_match_412_and_the_etag(schema, path, method):
    operation = schema["paths"][path][method]
    [header] = [p for p in operation["parameters"] if p["in"] == "header" and p["name"] == "If-Match"]
    assert not header.get("required") and "412" in header["description"]
    stale = operation["responses"]["412"]
    assert stale["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/StaleError"
    success = next(r for code, r in operation["responses"].items() if code.startswith("2"))
    assert "ETag" in success["headers"]


def test_the_incident_detail_documents_its_etag_and_the_stale_body(schema):
    assert "ETag" in schema["paths"]["/api/v1/incidents/{id}/"]["get"]["responses"]["200"]["headers"]
    stale = schema["components"]["schemas"]["StaleError"]
    assert {"detail", "code", "changes", "version"} <= set(stale["properties"])
    assert "version" in schema["components"]["schemas"]["Incident"]["properties"]
