"""/api/v1/esign-seal: the tenant's own electronic seal (docs/selling.md) — read, given as a
PKCS#12 file, removed to go back to the platform's. Admin tokens only; the file and its
passphrase are checked and kept as the back office does (app/services/esign_seals.py)."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import requires
from api.blueprint import Blueprint
from api.schemas.esign_seal import EsignSealSchema, EsignSealUploadSchema
from app.errors import NotFound
from app.services.esign_seals import (
    MAX_BYTES,
    remove_tenant_seal,
    seal_in_use,
    set_tenant_seal,
)
from app.web.transactions import transaction

blp = Blueprint("esign_seal", __name__, url_prefix="/api/v1", tenant_wide=True,
                description="The electronic seal of the tenant's signed contracts and quotes: "
                            "its own certificate, or the platform's (docs/selling.md).")


@blp.route("/esign-seal")
class EsignSealViews(MethodView):
    @requires("admin")
    @blp.response(200, EsignSealSchema)
    def get(self) -> Any:
        """The seal in use: the tenant's own, or the platform's."""
        return seal_in_use()

    @requires("admin")
    @blp.arguments(EsignSealUploadSchema, location="multipart")
    @blp.response(200, EsignSealSchema)
    def put(self, data: dict[str, Any]) -> Any:
        """Seal with the tenant's own certificate (a PKCS#12 file), replacing any other."""
        upload = data.get("pkcs12_file")
        content = upload.stream.read(MAX_BYTES + 1) if upload is not None else b""
        with transaction():
            set_tenant_seal(content, data["passphrase"])
        return seal_in_use()

    @requires("admin")
    @blp.response(204)
    def delete(self) -> None:
        """Go back to the platform's seal; the removed one still checks what it sealed."""
        with transaction():
            if not remove_tenant_seal():
                raise NotFound()
