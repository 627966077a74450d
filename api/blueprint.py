"""The API's Blueprint: flask-smorest's, authenticated by construction, with a multipart
argument location, JSON bodies read within limits, If-Match optional, and each operation's
scopes and auth errors documented."""
from __future__ import annotations

from typing import Any

import flask_smorest
from flask import current_app, request
from webargs.core import missing
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.datastructures import CombinedMultiDict

from api.auth import authenticate, refuse_partner_tokens
from api.errors import (
    WRITES,
    not_allowed_problem,
    not_found_problem,
    unknown_parameters,
    validation_problem,
)
from app.errors import NotAllowed, NotFound, ValidationError
from app.json_input import JSONInputError, load_json


class ApiParser(FlaskParser):
    """webargs' Flask parser plus `multipart`: form fields and files of one request body."""

    # A field the form's schema does not know is refused ("dryrun=true" must never end in
    # a real import), as in a JSON body.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "multipart": "raise"}

    def load_querystring(self, req: Any, schema: Any) -> Any:
        """The query string, once every parameter in it is known: a misspelt filter would
        otherwise be dropped silently and the whole list answered."""
        known = known_parameters(schema)
        unknown = [name for name in req.args if name not in known]
        if unknown:
            raise unknown_parameters(unknown, known)
        return super().load_querystring(req, schema)

    def _raw_load_json(self, req: Any) -> Any:
        """The body as JSON, within app/json_input.py's limits (a 400 problem past them); a
        body of another type is refused (415), never read as no options."""
        if not is_json_request(req):
            if req.content_length or req.get_data(cache=True):
                abort(415)
            return missing
        try:
            return load_json(req.get_data(cache=True))
        except JSONInputError as exc:
            abort(400, messages={"json": [str(exc)]})

    def load_multipart(self, req: Any, schema: Any) -> Any:
        if not req.mimetype == "multipart/form-data":
            return missing
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


def known_parameters(schema: Any) -> list[str]:
    """The query parameters of a schema: its fields, or what its `known_parameters()` says
    when they depend on the token or the tenant (record lists)."""
    if hasattr(schema, "known_parameters"):
        return list(schema.known_parameters())
    return [field.data_key or name for name, field in schema.load_fields.items()]


ApiParser.__location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

def refuse_stray_query() -> None:
    """A write that takes no query parameter refuses one (400) rather than ignore it: its
    options are in its body, and `?dry_run=true` must never end in a real write."""
    if request.method not in WRITES or not request.args:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    method = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    parameters = getattr(method, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    if not any(parameter.get("in") == "query" for parameter in parameters):
        raise unknown_parameters(request.args, [])


IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
            "description": "The ETag you read: when the resource changed since, 412.",
            "schema": {"type": "string"}}


class Blueprint(flask_smorest.Blueprint):
    """One API resource; every request to it must carry a valid bearer token."""

    ARGUMENTS_PARSER = ApiParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def __init__(self, *args: Any, tenant_wide: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_request(authenticate)
        self.before_request(refuse_stray_query)
        if tenant_wide:
            self.before_request(refuse_partner_tokens)
        self.register_error_handler(ValidationError, validation_problem)
        self.register_error_handler(NotAllowed, not_allowed_problem)
        self.register_error_handler(NotFound, not_found_problem)
        self._prepare_doc_cbks.append(self._prepare_auth_doc)

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Any:
        """flask-smorest's, plus the 400 that query arguments answer to an unknown parameter
        and the 415 that a JSON body answers to a body of another type."""
        parse = super().arguments(schema, location=location, **kwargs)
        if location == "json":  # a body of another type is refused (ApiParser)
            documented = self.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
        elif location == "query":
            documented = self.alt_response(400, response="UNKNOWN_PARAMETER")
        else:
            return parse
        return lambda func: documented(parse(func))

    # If-Match is optional: sent, it must match (412); absent, the write goes through.
    def _check_precondition(self) -> None:
        return None

    def check_etag(self, etag_data: Any, etag_schema: Any = None) -> None:
        if request.if_match:
            super().check_etag(etag_data, etag_schema)
        else:
            flask_smorest.etag._get_etag_ctx()["etag_checked"] = True

    def _prepare_etag_doc(self, doc: dict, doc_info: dict, **kwargs: Any) -> dict:
        doc = super()._prepare_etag_doc(doc, doc_info, **kwargs)
        doc.get("responses", {}).pop(428, None)
        if "parameters" in doc:
            doc["parameters"] = [IF_MATCH if p == "IF_MATCH" else p for p in doc["parameters"]]
        return doc

    @staticmethod
    def _prepare_auth_doc(doc: dict, doc_info: dict, **kwargs: Any) -> dict:
        scopes = doc_info.get("scopes")
        if scopes:
            needs = " or ".join(f"`{s}`" for s in scopes)
            doc["description"] = f"Token scope: {needs}."
        responses = doc.setdefault("responses", {})
        for status in (401, 403, 429):
            responses.setdefault(status, {401: "UNAUTHORIZED", 403: "FORBIDDEN",
                                          429: "TOO_MANY_REQUESTS"}[status])
        return doc
