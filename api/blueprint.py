"""The API's Blueprint: flask-smorest's, authenticated by construction, with a multipart
argument location, JSON bodies read within limits, If-Match optional, and each operation's
scopes and auth errors documented."""
from __future__ import annotations

from typing import Any

import flask_smorest
from flask import request
from webargs.core import missing
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.datastructures import CombinedMultiDict

from api.auth import authenticate, refuse_partner_tokens
from api.errors import validation_problem
from app.errors import ValidationError
from app.json_input import JSONInputError, load_json


class ApiParser(FlaskParser):
    """webargs' Flask parser plus `multipart`: form fields and files of one request body."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "multipart": "exclude"}

    def _raw_load_json(self, req: Any) -> Any:
        """The body as JSON, within app/json_input.py's limits (a 400 problem past them)."""
        if not is_json_request(req):
            return missing
        try:
            return load_json(req.get_data(cache=True))
        except JSONInputError as exc:
            abort(400, messages={"json": [str(exc)]})

    def load_multipart(self, req: Any, schema: Any) -> Any:
        if not req.mimetype == "multipart/form-data":
            return missing
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


ApiParser.__location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

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
        if tenant_wide:
            self.before_request(refuse_partner_tokens)
        self.register_error_handler(ValidationError, validation_problem)
        self._prepare_doc_cbks.append(self._prepare_auth_doc)

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
