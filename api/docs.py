"""/api/v1/docs: Swagger UI on the app's OpenAPI document, every file served from here
(app/static/vendor/swagger-ui/ and api/static/), none from a CDN."""
from __future__ import annotations

from flask import Blueprint, render_template, url_for

bp = Blueprint("api_reference", __name__, url_prefix="/api/v1", template_folder="templates",
               static_folder="static", static_url_path="/docs/static")


@bp.get("/docs")
def docs() -> str:
    return render_template("api/docs.html", spec_url=url_for("api-docs.openapi_json"))
