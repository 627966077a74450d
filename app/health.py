"""/healthz: 200 when the database answers, for load balancers and monitoring."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    from app import database_ok

    if database_ok():
        return {"status": "ok"}, 200
    return {"status": "database unavailable"}, 503
