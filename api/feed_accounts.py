"""/api/v1/feed-accounts: the tenant's SFTP logins, as admins manage them in the back office
(Feeds → SFTP accounts): create, read, change, disable. Admin tokens only."""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from flask.views import MethodView

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import CursorPageArgsSchema, cursor_page
from api.schemas.feed_accounts import FeedAccountSchema, FeedAccountUpdateSchema
from app.models import FeedAccount
from app.policies import get_visible_or_404
from app.queries.feed_accounts import accounts_select
from app.services.feed_accounts import create_account, login_name, profile_names, update_account
from app.web.transactions import transaction

blp = Blueprint(
    "feed_accounts",
    __name__,
    url_prefix="/api/v1/feed-accounts",
    tenant_wide=True,
    description="Feed accounts: the SFTP inbox's logins, each jailed in its own "
    "folder, with routes from file patterns to import profiles "
    "(docs/feeds.md).",
)


def _shown(account: FeedAccount) -> dict[str, Any]:
    names = profile_names(account)
    return {
        "id": account.id,
        "name": account.name,
        "login": login_name(g.tenant.slug, account),
        "has_password": bool(account.password_hash),
        "public_keys": list(account.public_keys or ()),
        "routes": [
            {
                "pattern": r["pattern"],
                "profile_id": r["profile_id"],
                "profile": names.get(r["profile_id"], ""),
            }
            for r in account.routes or ()
        ],
        "quota_bytes": account.quota_bytes,
        "max_file_bytes": account.max_file_bytes,
        "is_active": account.is_active,
        "last_login_at": account.last_login_at,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


def _account_or_404(account_id: int) -> FeedAccount:
    return get_visible_or_404(FeedAccount, account_id, current_principal())


@blp.route("")
class FeedAccountViews(MethodView):
    @requires("admin")
    @blp.arguments(CursorPageArgsSchema, location="query")
    @blp.response(200, FeedAccountSchema(many=True), headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List the feed accounts, oldest first."""
        accounts, headers = cursor_page(
            accounts_select(), FeedAccount.id, FeedAccount.id, args, descending=False
        )
        return [_shown(a) for a in accounts], headers

    @requires("admin")
    @blp.arguments(FeedAccountSchema)
    @blp.response(201, FeedAccountSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a feed account (a password, public keys, or both)."""
        with transaction():
            account = create_account(data)
        return _shown(account), {
            "Location": url_for("feed_accounts.FeedAccountByIdViews", account_id=account.id)
        }


@blp.route("/<int:account_id>")
class FeedAccountByIdViews(MethodView):
    @requires("admin")
    @blp.etag
    @blp.response(200, FeedAccountSchema)
    def get(self, account_id: int) -> Any:
        """Get a feed account."""
        return _shown(_account_or_404(account_id))

    @requires("admin")
    @blp.etag
    @blp.arguments(FeedAccountUpdateSchema)
    @blp.response(200, FeedAccountSchema)
    def patch(self, data: dict[str, Any], account_id: int) -> Any:
        """Change a feed account: routes, keys, limits, a new password; disable or enable."""
        account = _account_or_404(account_id)
        blp.check_etag(_shown(account), FeedAccountSchema)
        with transaction():
            update_account(account, data)
        return _shown(account)
