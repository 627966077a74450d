"""The staff back office under /<tenant>/: lists, records, customer 360°, settings."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.auth import bind_request_tenant
from app.services.tenants import get_tenant_by_slug

bp = Blueprint("backoffice", __name__, url_prefix="/<tenant>", template_folder="templates")

PUBLIC_ENDPOINTS = {"backoffice.login", "backoffice.set_language"}
# Pages any logged-in user may reach; the rest is for staff (agents and subscribers have
# the extranet, portal/).
ANY_USER_ENDPOINTS = {"backoffice.logout"}


@bp.url_value_preprocessor
def pull_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
    g.tenant_slug = (values or {}).pop("tenant", None)


@bp.url_defaults
def add_tenant(endpoint: str, values: dict[str, Any]) -> None:
    if "tenant" not in values and g.get("tenant_slug"):
        values["tenant"] = g.tenant_slug


@bp.before_request
def load_tenant_and_user():
    tenant = get_tenant_by_slug(g.tenant_slug or "")
    if tenant is None:
        abort(404)
    bind_request_tenant(tenant)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("backoffice.login", next=request.full_path.rstrip("?")))
    if not current_user.is_staff and request.endpoint not in ANY_USER_ENDPOINTS:
        return render_template("wrong_space.html", space="backoffice"), 403
    return None


@bp.app_context_processor
def template_globals() -> dict[str, Any]:
    from app.entities import ENTITIES, FIELD_TYPE_LABELS, ROLE_LABELS, STATUS_LABELS

    return {
        "entities": ENTITIES, "status_labels": STATUS_LABELS, "status_colors": STATUS_COLORS,
        "entity_labels": {name: entity.label for name, entity in ENTITIES.items()},
        "role_labels": ROLE_LABELS, "field_type_labels": FIELD_TYPE_LABELS,
        "audit_action_labels": {"create": _l("Created"), "update": _l("Changed"),
                                "delete": _l("Deleted"), "login": _l("Logged in"),
                                "login_failed": _l("Failed login"), "logout": _l("Logged out")},
    }


STATUS_COLORS = {
    "paid": "success", "accepted": "success", "active": "success", "delivered": "success",
    "won": "success", "overdue": "danger", "refused": "danger", "lost": "danger",
    "cancelled": "dark", "terminated": "dark", "returned": "warning", "sent": "info",
    "issued": "primary", "shipped": "info", "pending_signature": "warning", "confirmed": "primary",
    "in_progress": "info",
}


from app.backoffice import (  # noqa: E402,F401  (routes register on bp)
    account_views,
    admin_views,
    auth_views,
    dashboard_views,
    feed_views,
    record_views,
    settings_views,
)
