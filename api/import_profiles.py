"""/api/v1/import-profiles: the tenant's import profiles (JSON, as in ARCHITECTURE.md);
every change saves a new version, and runs name the version they used."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import cursor_page
from api.schemas.import_profiles import (
    ImportProfileQueryArgsSchema,
    ImportProfileSchema,
    ImportProfileUpdateSchema,
    ImportProfileVersionSchema,
)
from app.models import ImportProfile
from app.policies import get_visible_or_404
from app.queries.feeds import profiles_select
from app.services.feeds import create_profile, hold_for_edit, kept_maps, update_profile
from app.web.transactions import transaction
from importers.profile import normalized

blp = Blueprint("import-profiles", __name__, url_prefix="/api/v1/import-profiles",
                tenant_wide=True,
                description="Import profiles: how a feed's columns map onto an entity.")


def _profile_or_404(profile_id: int) -> ImportProfile:
    return get_visible_or_404(ImportProfile, profile_id, current_principal())


@blp.route("")
class ImportProfileViews(MethodView):
    @requires("import", "read")
    @blp.etag
    @blp.arguments(ImportProfileQueryArgsSchema, location="query")
    @blp.response(200, ImportProfileSchema(many=True),
                  headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List import profiles by name."""
        return cursor_page(profiles_select(current_principal(), args.get("entity")),
                           ImportProfile.name, ImportProfile.id, args,
                           descending=False)

    @requires("import")
    @blp.arguments(ImportProfileSchema)
    @blp.response(201, ImportProfileSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create an import profile."""
        with transaction():
            profile = create_profile(data)
        return profile, {"Location": url_for("import-profiles.ImportProfileByIdViews",
                                             profile_id=profile.id)}


@blp.route("/<int:profile_id>")
class ImportProfileByIdViews(MethodView):
    @requires("import", "read")
    @blp.etag
    @blp.response(200, ImportProfileSchema)
    def get(self, profile_id: int) -> Any:
        """Get an import profile."""
        return _profile_or_404(profile_id)

    @requires("import")
    @blp.etag
    @blp.arguments(ImportProfileSchema)
    @blp.response(200, ImportProfileSchema)
    def put(self, data: dict[str, Any], profile_id: int) -> Any:
        """Replace an import profile (saved as a new version)."""
        profile = _profile_or_404(profile_id)
        with transaction():
            hold_for_edit(profile)  # If-Match checked on what is saved now, not on what was
            blp.check_etag(profile, ImportProfileSchema)
            update_profile(profile, data)
        return profile

    @requires("import")
    @blp.etag
    @blp.arguments(ImportProfileUpdateSchema)
    @blp.response(200, ImportProfileSchema)
    def patch(self, data: dict[str, Any], profile_id: int) -> Any:
        """Change some fields of an import profile (saved as a new version)."""
        profile = _profile_or_404(profile_id)
        with transaction():
            # Merged with the profile as it is saved now: a mapping an admin saved since
            # this request read it is kept, and If-Match holds against it.
            hold_for_edit(profile)
            blp.check_etag(profile, ImportProfileSchema)
            definition = {**normalized(profile.definition), **data}
            if "columns" in data and "value_maps" not in data:
                # The mappings of the columns kept, as the mapping screen keeps them: a
                # client that drops a column (as it always could) drops its mappings too.
                definition["value_maps"] = kept_maps(profile.definition, definition)
            update_profile(profile, definition)
        return profile


@blp.route("/<int:profile_id>/versions")
class ImportProfileVersionViews(MethodView):
    @requires("import", "read")
    @blp.response(200, ImportProfileVersionSchema(many=True))
    def get(self, profile_id: int) -> Any:
        """List the saved versions of an import profile, newest first."""
        return _profile_or_404(profile_id).versions
