"""The staff back office under /<tenant>/: lists, records, customer 360°, settings."""
from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from app.auth import serve_tenant_space

bp = Blueprint("backoffice", __name__, url_prefix="/<tenant>", template_folder="templates")

PUBLIC_ENDPOINTS = {"backoffice.login", "backoffice.set_language"}
# Pages any logged-in user may reach; the rest is for staff (agents and subscribers have
# the extranet, portal/).
ANY_USER_ENDPOINTS = {"backoffice.logout"}


serve_tenant_space(bp, for_staff=True, public=PUBLIC_ENDPOINTS, any_user=ANY_USER_ENDPOINTS)


@bp.app_context_processor
def template_globals() -> dict[str, Any]:
    from app.entities import ENTITIES, FIELD_TYPE_LABELS, ROLE_LABELS, STATUS_LABELS

    return {
        "entities": ENTITIES, "status_labels": STATUS_LABELS, "status_colors": STATUS_COLORS,
        "entity_labels": {name: entity.label for name, entity in ENTITIES.items()},
        "role_labels": ROLE_LABELS, "field_type_labels": FIELD_TYPE_LABELS,
        "audit_action_labels": {
            "create": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted"),
            "login": _l("Logged in"), "login_failed": _l("Failed login"),
            "logout": _l("Logged out"), "finish": _l("Finished"), "revoke": _l("Revoked"),
            "enable": _l("Enabled"), "disable": _l("Disabled"),
            "invitation_sent": _l("Invitation sent"),
            "invitation_accepted": _l("Invitation accepted"),
            "password_reset_requested": _l("Password reset asked"),
            "password_reset": _l("Password reset"),
            "password_changed": _l("Password changed"),
            "login_throttled": _l("Login attempts throttled"),
            "sessions_ended": _l("Signed out everywhere"),
            "export": _l("All data exported"), "anonymise": _l("Personal data erased"),
            "document_sent": _l("Sent by e-mail"), "retry": _l("Sent again")},
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
    activity_views,
    admin_views,
    auth_views,
    collection_views,
    dashboard_views,
    data_views,
    document_views,
    export_views,
    feed_account_views,
    feed_alert_views,
    feed_views,
    mail_views,
    mandate_views,
    record_views,
    search_views,
    selling_views,
    settings_views,
    signing_link_views,
    subscription_views,
    token_views,
    webhook_views,
)
