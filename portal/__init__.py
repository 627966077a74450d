"""The extranet under /<tenant>/portal/: agents and subscribers follow their own files.

Every page works under the URL's tenant and shows only what app/policies.py lets the
logged-in agent (his partner's records) or subscriber (his account's records) see; staff
accounts are sent to the back office, with a page that says so.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth import bind_request_tenant
from app.services.tenants import get_tenant_by_slug

bp = Blueprint("portal", __name__, url_prefix="/<tenant>/portal", template_folder="templates")

# Pages open without a session: logging in, setting a password from a link, the look.
PUBLIC_ENDPOINTS = {"portal.login", "portal.set_language", "portal.forgot_password",
                    "portal.reset_password", "portal.accept_invitation", "portal.theme",
                    "portal.logo"}
# Pages any logged-in user may reach, staff included.
ANY_USER_ENDPOINTS = {"portal.logout"}


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
    g.portal = True
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
    if current_user.is_staff and request.endpoint not in ANY_USER_ENDPOINTS:
        return render_template("wrong_space.html", space="portal"), 403
    return None


from portal import auth_views, password_views, records, views  # noqa: E402,F401  (routes)
