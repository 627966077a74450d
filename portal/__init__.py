"""The extranet under /<tenant>/portal/: agents and subscribers follow their own files.

Every page works under the URL's tenant and shows only what app/policies.py lets the
logged-in agent (his partner's records) or subscriber (his account's records) see; staff
accounts are sent to the back office, with a page that says so.
"""
from __future__ import annotations

from flask import Blueprint

from app.auth import serve_tenant_space

bp = Blueprint("portal", __name__, url_prefix="/<tenant>/portal", template_folder="templates")

# Pages open without a session: logging in, setting a password from a link, the look.
PUBLIC_ENDPOINTS = {"portal.login", "portal.set_language", "portal.forgot_password",
                    "portal.reset_password", "portal.accept_invitation", "portal.theme",
                    "portal.logo"}
# Pages any logged-in user may reach, staff included.
ANY_USER_ENDPOINTS = {"portal.logout"}


serve_tenant_space(bp, for_staff=False, public=PUBLIC_ENDPOINTS, any_user=ANY_USER_ENDPOINTS)

from portal import (  # noqa: E402,F401  (routes)
    auth_views,
    direct_debit_views,
    password_views,
    records,
    views,
)
