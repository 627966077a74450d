"""/api/v1/pulls: feeds that fetch their file on a schedule, from one of the tenant's SFTP
servers or an HTTPS address, as admins set them on a feed's page (docs/exports.md,
"Scheduled pulls"). Admin tokens, tenant-wide only."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import cursor_page
from api.schemas.exports import PullQueryArgsSchema, PullSchema, PullUpdateSchema
from app.models import FeedPull
from app.policies import get_visible_or_404
from app.queries.exports import pulls_select
from app.services.pulls import create_pull, delete_pull, masked_url, update_pull
from app.web.transactions import transaction

blp = Blueprint(
    "pulls",
    __name__,
    url_prefix="/api/v1/pulls",
    tenant_wide=True,
    description="Pulls: a feed fetches its file on a schedule from the tenant's SFTP server "
    "or an HTTPS address (docs/exports.md).",
)


def shown(pull: FeedPull) -> dict[str, Any]:
    return {
        name: getattr(pull, name)
        for name in (
            "id",
            "profile_id",
            "kind",
            "sftp_server_id",
            "path",
            "schedule",
            "is_active",
            "next_run_at",
            "last_checked_at",
            "last_run_id",
            "last_error",
            "created_at",
            "updated_at",
        )
    } | {"profile": pull.profile.name, "url": masked_url(pull.url)}


def _pull_or_404(pull_id: int) -> FeedPull:
    return get_visible_or_404(FeedPull, pull_id, current_principal())


@blp.route("")
class PullViews(MethodView):
    @requires("admin")
    @blp.etag
    @blp.arguments(PullQueryArgsSchema, location="query")
    @blp.response(200, PullSchema(many=True), headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List the pulls, oldest first."""
        found, headers = cursor_page(
            pulls_select(current_principal(), args.get("profile_id")),
            FeedPull.id,
            FeedPull.id,
            args,
            descending=False,
        )
        return [shown(p) for p in found], headers

    @requires("admin")
    @blp.arguments(PullSchema)
    @blp.response(201, PullSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Make a feed fetch its file on a schedule (one pull per feed)."""
        with transaction():
            pull = create_pull(data)
        return shown(pull), {"Location": url_for("pulls.PullByIdViews", pull_id=pull.id)}


@blp.route("/<int:pull_id>")
class PullByIdViews(MethodView):
    @requires("admin")
    @blp.etag
    @blp.response(200, PullSchema)
    def get(self, pull_id: int) -> Any:
        """Get a pull."""
        return shown(_pull_or_404(pull_id))

    @requires("admin")
    @blp.etag
    @blp.arguments(PullUpdateSchema)
    @blp.response(200, PullSchema)
    def patch(self, data: dict[str, Any], pull_id: int) -> Any:
        """Change some fields of a pull (`is_active: false` stops it)."""
        pull = _pull_or_404(pull_id)
        blp.check_etag(shown(pull), PullSchema)
        with transaction():
            update_pull(pull, data)
        return shown(pull)

    @requires("admin")
    @blp.etag
    @blp.response(204)
    def delete(self, pull_id: int) -> None:
        """Stop a feed's pull (its runs stay)."""
        pull = _pull_or_404(pull_id)
        blp.check_etag(shown(pull), PullSchema)
        with transaction():
            delete_pull(pull)
