"""/healthz: 200 when the database answers, for load balancers and monitoring."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text

from app.extensions import db

bp = Blueprint("health", __name__)


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        db.session.rollback()
        return False


@bp.get("/healthz")
def healthz():
    if database_ok():
        return {"status": "ok"}, 200
    return {"status": "database unavailable"}, 503
