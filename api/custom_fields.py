"""/api/v1/custom-fields: the tenant's custom-field definitions, validated as the back office
validates them; never deleted, deactivated with is_active=false."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from api.auth import current_principal, requires
from api.blueprint import Blueprint
from api.pagination import cursor_page
from api.schemas.custom_fields import (
    CustomFieldQueryArgsSchema,
    CustomFieldSchema,
    CustomFieldUpdateSchema,
)
from app.models import CustomField
from app.policies import get_visible_or_404
from app.queries.administration import custom_fields_select
from app.services.custom_field_defs import create_field, update_field
from app.web.transactions import transaction

blp = Blueprint("custom-fields", __name__, url_prefix="/api/v1/custom-fields", tenant_wide=True,
                description="Custom fields: the tenant's own fields of each entity, whose "
                            "values are under `custom` in the records.")


def _field_or_404(field_id: int) -> CustomField:
    return get_visible_or_404(CustomField, field_id, current_principal())


@blp.route("")
class CustomFieldViews(MethodView):
    @requires("read")
    @blp.etag
    @blp.arguments(CustomFieldQueryArgsSchema, location="query")
    @blp.response(200, CustomFieldSchema(many=True),
                  headers={"X-Pagination": "CURSOR_PAGINATION"})
    def get(self, args: dict[str, Any]) -> Any:
        """List custom fields by position (filtered by entity: the order of its forms)."""
        fields = custom_fields_select(args.get("entity"), current_principal())
        return cursor_page(fields, CustomField.position, CustomField.id, args, descending=False)

    @requires("write")
    @blp.arguments(CustomFieldSchema)
    @blp.response(201, CustomFieldSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a custom field."""
        with transaction():
            field = create_field(data)
        return field, {"Location": url_for("custom-fields.CustomFieldByIdViews",
                                           field_id=field.id)}


@blp.route("/<int:field_id>")
class CustomFieldByIdViews(MethodView):
    @requires("read")
    @blp.etag
    @blp.response(200, CustomFieldSchema)
    def get(self, field_id: int) -> Any:
        """Get a custom field."""
        return _field_or_404(field_id)

    @requires("write")
    @blp.etag
    @blp.arguments(CustomFieldUpdateSchema)
    @blp.response(200, CustomFieldSchema)
    def patch(self, data: dict[str, Any], field_id: int) -> Any:
        """Change some fields of a custom field (is_active=false deactivates it)."""
        field = _field_or_404(field_id)
        blp.check_etag(field, CustomFieldSchema)
        with transaction():
            update_field(field, data)
        return field
