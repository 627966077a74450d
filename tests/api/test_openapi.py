"""The OpenAPI document is valid and complete; /api/v1/docs works with no external resource."""
from __future__ import annotations

import re
from typing import Any

import pytest

from api.errors import PROBLEM
from tests.api.conftest import bearer, problem, run_queued, upload

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
def spec(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_document_is_valid_openapi(spec):
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] and spec["info"]["version"] == "v1"
    for ref in _refs(spec):
        assert ref.startswith("#/") and _resolve(spec, ref) is not None, ref
    try:
        from openapi_spec_validator import validate
    except ImportError:  # optional: the structural checks above and below still run
        return
    validate(spec)


def test_the_document_declares_bearer_tokens(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http",
                                     "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]


def test_every_operation_has_a_summary_scopes_and_problem_errors(spec):
    paths = spec["paths"]
    assert {"/api/v1/imports", "/api/v1/imports/{run_id}", "/api/v1/imports/{run_id}/errors",
            "/api/v1/import-profiles", "/api/v1/import-profiles/{profile_id}",
            "/api/v1/import-profiles/{profile_id}/versions"} <= set(paths)
    for path, item in paths.items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            assert operation["summary"] and "\n" not in operation["summary"], (path, method)
            assert operation["description"].startswith("Token scope:"), (path, method)
            for status in ("401", "403", "429", "default"):
                response = _resolve(spec, operation["responses"][status]["$ref"])
                assert list(response["content"]) == [PROBLEM], (path, method, status)


def test_no_request_body_can_set_an_id_or_a_tenant(spec):
    schemas = spec["components"]["schemas"]
    for name, schema in schemas.items():
        properties = schema.get("properties", {})
        assert "tenant_id" not in properties, name
        if "id" in properties and name.startswith("ImportProfile"):
            assert properties["id"].get("readOnly") is True, name
    assert "id" not in schemas["ImportRunCreate"]["properties"]


def test_the_upload_is_documented_as_multipart(spec):
    body = spec["paths"]["/api/v1/imports"]["post"]["requestBody"]
    schema = _resolve(spec, body["content"]["multipart/form-data"]["schema"]["$ref"])
    assert {"file", "profile", "dry_run", "force"} <= set(schema["properties"])
    assert schema["properties"]["file"]["format"] == "binary"


def test_the_docs_page_loads_everything_from_this_server(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(references) >= 5
    for url in references:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        if url.endswith(("docs.js", "docs.css")):
            assert not re.search(r"https?://", asset.get_data(as_text=True)), url
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    init = client.get(next(u for u in references if u.endswith("docs.js")))
    assert "validatorUrl: null" in init.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/v1/swagger-ui", "/api/v1/redoc", "/api/v1/rapidoc"])
def test_no_cdn_backed_docs_page_is_served(client, path):
    assert client.get(path).status_code == 404


def test_swagger_ui_is_vendored_with_its_license(client):
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                 "favicon-32x32.png", "LICENSE"):
        assert client.get(f"/static/vendor/swagger-ui/{name}").status_code == 200, name


# openapi-python-client leaves `default` out of the client it generates: a status an operation
# does not list is an UnexpectedStatus to it, and a run of another tenant cannot be told from
# a broken client.
UNKNOWN = 987654


def _operation(spec: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    path = url.split("?")[0]
    for template, item in spec["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", r"[^/]+", template), path):
            return item[method.lower()]
    raise AssertionError(f"{path} is not in the OpenAPI document")


NOT_FOUND = [
    ("GET", f"/api/v1/imports/{UNKNOWN}", None),
    ("GET", f"/api/v1/imports/{UNKNOWN}/errors", None),
    ("GET", f"/api/v1/imports/{UNKNOWN}/errors/summary", None),
    ("POST", f"/api/v1/imports/{UNKNOWN}/revert", {"dry_run": True}),
    ("GET", f"/api/v1/import-profiles/{UNKNOWN}", None),
    ("PATCH", f"/api/v1/import-profiles/{UNKNOWN}", {"mode": "insert"}),
    ("GET", f"/api/v1/import-profiles/{UNKNOWN}/versions", None),
]


@pytest.mark.parametrize(("method", "url", "body"), NOT_FOUND,
                         ids=[f"{m} {u}" for m, u, _b in NOT_FOUND])
def test_an_unknown_run_or_profile_answers_a_documented_404(app, spec, make_token, method, url,
                                                            body):
    client = bearer(app, make_token("read,write,import,admin")[1])
    response = client.open(url, method=method, json=body)
    problem(response, 404)  # docs/api.md: "another tenant's run 404"
    responses = _operation(spec, method, url)["responses"]
    assert "404" in responses, (method, url, sorted(responses))


def test_a_revert_with_its_option_in_the_query_answers_a_documented_400(
        app, spec, make_token, partners_profile, queued_jobs):
    client = bearer(app, make_token("read,import,admin")[1])
    run_id = upload(client).get_json()["id"]
    run_queued(queued_jobs)
    url = f"/api/v1/imports/{run_id}/revert?dry_run=true"
    problem(client.post(url), 400)  # docs/api.md, Errors: "is refused, never taken for a revert"
    responses = _operation(spec, "POST", url)["responses"]
    assert "400" in responses, sorted(responses)
