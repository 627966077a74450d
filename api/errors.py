"""Every API error as application/problem+json (RFC 9457): type, title, status, detail and,
for invalid input, field-level `errors`; documented so in the OpenAPI document."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import partial
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Response, current_app, request
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import BadRequest, HTTPException, default_exceptions

from app.errors import NotAllowed, NotFound, ValidationError
from app.extensions import db

PROBLEM = "application/problem+json"
API_PREFIX = "/api/v1"

DETAILS = {
    400: _l("The request could not be understood."),
    401: _l("Send a valid API token: Authorization: Bearer <token>."),
    403: _l("This token may not do this."),
    404: _l("No such resource, or this token may not see it."),
    405: _l("This method is not allowed on this resource."),
    406: _l("This resource cannot answer in the requested format."),
    412: _l("The resource changed since you read it: read it again, then retry."),
    413: _l("The request body is larger than allowed."),
    415: _l("This content type is not accepted here."),
    422: _l("Some fields are invalid."),
    428: _l("Send the resource's ETag in an If-Match header."),
    429: _l("Too many requests with this token. Wait and try again."),
    500: _l("Something went wrong. Nothing was saved."),
}


class ProblemSchema(ma.Schema):
    """A problem detail (RFC 9457)."""

    type = ma.fields.String(metadata={"description": "A URI naming the problem type."})
    title = ma.fields.String(metadata={"description": "The HTTP status phrase."})
    status = ma.fields.Integer(metadata={"description": "The HTTP status code."})
    detail = ma.fields.String(metadata={"description": "What went wrong, in the "
                                                       "request's language."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Invalid input: messages per field (dotted paths)."})


class QueryParameterError(BadRequest):
    """400: a query parameter the operation does not know (or may not use with this token),
    named in `errors`, so that a misspelt filter never returns the whole list."""

    def __init__(self, detail: Any, errors: dict[str, list[Any]]) -> None:
        super().__init__(detail)
        self.data = {"messages": {"query": errors}}


def unknown_parameters(names: Iterable[str], known: Iterable[str]) -> QueryParameterError:
    """400 naming the unknown parameters and listing the known ones; `cf=<key>` names a
    custom-field filter of the generic form."""
    names = list(dict.fromkeys(names))
    errors: dict[str, list[Any]] = {}
    for name in names:
        parameter, _sep, key = name.partition("=")
        errors.setdefault(parameter, []).append(
            _l("Unknown custom field “%(key)s”.", key=key[:50]) if key
            else _l("Unknown parameter."))
    named = ", ".join(name[:50] for name in names)
    known = list(dict.fromkeys(known))
    if not known:
        return QueryParameterError(
            _l("Unknown query parameter: %(names)s. This operation takes none.", names=named),
            errors)
    return QueryParameterError(
        _l("Unknown query parameter: %(names)s. Known parameters: %(known)s.",
           names=named, known=", ".join(known)), errors)


def is_api_request() -> bool:
    path = request.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def problem(status: int, detail: Any = None, *, errors: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """An application/problem+json response."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase,
                            "status": status}
    detail = detail if detail is not None else DETAILS.get(status)
    if detail is not None:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = errors
    response = current_app.response_class(json.dumps(body, ensure_ascii=False),
                                          status=status, mimetype=PROBLEM)
    response.headers.update(headers or {})
    return response


def field_errors(messages: Any, path: str = "") -> dict[str, list[str]]:
    """Nested marshmallow/webargs messages flattened to {"a.b": ["message", …]}; errors of a
    whole object are under its path, or "_schema" at the top."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            key = "" if key in ("_schema", "") else str(key)
            for field, texts in field_errors(value, ".".join(p for p in (path, key) if p)).items():
                flat.setdefault(field, []).extend(texts)
        return flat
    texts = messages if isinstance(messages, list | tuple) else [messages]
    flat = {}
    for text in texts:
        if isinstance(text, dict | list | tuple):
            for field, more in field_errors(text, path).items():
                flat.setdefault(field, []).extend(more)
        else:
            flat.setdefault(path or "_schema", []).append(str(text))
    return flat


def not_allowed_problem(exc: NotAllowed) -> Response:
    """A write the token's policy refuses on a record it sees: 403 with the reason."""
    db.session.rollback()
    return problem(403, exc.message)


def not_found_problem(exc: NotFound) -> Response:
    """A service's refusal of a record the token may not see: 404, as for any unseen id."""
    db.session.rollback()
    return problem(404)


def validation_problem(exc: ValidationError) -> Response:
    """A service's ValidationError: 422 with its message per field."""
    db.session.rollback()
    return problem(422, errors=field_errors(exc.errors))


def _webargs_errors(exc: HTTPException) -> dict[str, list[str]] | None:
    """webargs' messages by location ({"json": {...}, "query": {...}}), locations dropped."""
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if not isinstance(messages, dict):
        return None
    merged: dict[str, list[str]] = {}
    for location, location_messages in messages.items():
        if not isinstance(location_messages, dict):  # the body as a whole ("Invalid JSON body.")
            location_messages = {location: location_messages}
        merged.update(field_errors(location_messages))
    return merged


def _detail(exc: HTTPException) -> Any:
    if isinstance(exc, RateLimitExceeded):
        return _l("Too many requests with this token (%(limit)s). Wait and try again.",
                  limit=exc.description)
    if exc.description is not type(exc).description:
        return exc.description  # a message of our own
    return DETAILS.get(exc.code or 500, exc.description)


def _http_problem(exc: HTTPException) -> Response:
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return problem(exc.code or 500, _detail(exc), errors=_webargs_errors(exc), headers=headers)


def _handle(page: Callable[[Exception], Any] | None, exc: HTTPException) -> Any:
    """API paths get a problem; other paths keep their page (or werkzeug's default)."""
    if exc.code is None or exc.code < 400:
        return exc
    if not is_api_request():
        return page(exc) if page is not None else exc
    if exc.code >= 500:
        db.session.rollback()
    return _http_problem(exc)


def install_problem_handlers(app: Flask) -> None:
    """Answer problems under /api/v1 for every HTTP error, unknown routes included.

    Runs after the HTML error pages are installed: their handlers stay for other paths.
    """
    pages = app.error_handler_spec.get(None, {})
    for code, exc_class in default_exceptions.items():
        page = pages.get(code, {}).get(exc_class)
        app.register_error_handler(code, partial(_handle, page))
    # Replaces flask-smorest's own JSON handler, which does not know problem+json.
    app.register_error_handler(HTTPException, partial(_handle, None))


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ProblemPlugin(BasePlugin):
    """apispec plugin: error responses are documented as application/problem+json; every
    operation on a resource its path names lists the 404 it answers (unknown, another
    tenant's, out of the token's sight), and every write the 400 a query parameter gets
    (api/blueprint.refuse_stray_query), which generated clients need listed to read them."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None,
                         **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            listed = {str(code) for code in responses}
            if path and "{" in path and "404" not in listed:
                responses["404"] = "NOT_FOUND"
            if method.upper() in WRITES and "400" not in listed:
                responses["400"] = "UNKNOWN_PARAMETER"

    def response_helper(self, response: dict, **kwargs: Any) -> dict | None:
        content = response.get("content") or {}
        body = content.get("application/json")
        if body is None or not _is_problem_schema(body.get("schema")):
            return None
        return {"content": {PROBLEM: body, **{k: v for k, v in content.items()
                                              if k != "application/json"}}}


def _is_problem_schema(schema: Any) -> bool:
    if isinstance(schema, dict):
        return str(schema.get("$ref", "")).endswith("/Problem")
    return schema is ProblemSchema or isinstance(schema, ProblemSchema)
