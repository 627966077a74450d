"""A tenant's settings its admin may change: the extranet's colour and logo, and whether
its agents see activities there."""
from __future__ import annotations

import os
import re
from typing import IO

from flask_babel import gettext as _

from app.errors import ValidationError
from app.extensions import db
from app.models import Tenant
from app.services.attachments import storage_path
from app.services.audit import record_event
from app.services.files import store_stream

COLOR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_COLOR = "#0d6efd"
LOGO_MAX_BYTES = 512 * 1024
# Raster images only, told by their first bytes: an SVG may carry scripts.
LOGO_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
              (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def set_portal_look(tenant: Tenant, color: str | None, logo: IO[bytes] | None = None,
                    remove_logo: bool = False) -> None:
    """Change the extranet's colour (#rrggbb, or empty for the default) and logo."""
    color = (color or "").strip() or None
    if color is not None and not COLOR.fullmatch(color):
        raise ValidationError({"portal_color": _("Give a colour as #rrggbb.")})
    before = _look(tenant)
    tenant.portal_color = color.lower() if color else None
    if remove_logo:
        tenant.logo_sha256 = tenant.logo_media_type = None
    if logo is not None:
        tenant.logo_sha256, tenant.logo_media_type = _store_logo(tenant, logo)
    db.session.flush()
    after = _look(tenant)
    if after != before:
        record_event("update", "tenants", tenant.id, before, after)


def set_portal_activities(tenant: Tenant, enabled: bool) -> None:
    """Whether the tenant's agents see and add activities in the extranet."""
    if tenant.is_portal_activities_enabled == enabled:
        return
    before = {"is_portal_activities_enabled": tenant.is_portal_activities_enabled}
    tenant.is_portal_activities_enabled = enabled
    db.session.flush()
    record_event("update", "tenants", tenant.id, before,
                 {"is_portal_activities_enabled": enabled})


def _look(tenant: Tenant) -> dict[str, str | None]:
    return {"portal_color": tenant.portal_color, "logo_sha256": tenant.logo_sha256}


def _store_logo(tenant: Tenant, stream: IO[bytes]) -> tuple[str, str]:
    tmp, sha256, size = store_stream(stream, LOGO_MAX_BYTES)
    with tmp.open("rb") as head:
        start = head.read(16)
    media_type = next((kind for magic, kind in LOGO_TYPES if start.startswith(magic)), None)
    if media_type is None and start[:4] == b"RIFF" and start[8:12] == b"WEBP":
        media_type = "image/webp"
    if size == 0 or media_type is None:
        tmp.unlink()
        raise ValidationError({"logo": _("The logo must be a PNG, JPEG, GIF or WebP image.")})
    final = storage_path(tenant.id, sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    return sha256, media_type


def theme_css(color: str | None) -> str:
    """Bootstrap's primary colour replaced by the tenant's, for the extranet's pages."""
    color = color if color and COLOR.fullmatch(color) else DEFAULT_COLOR
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    darker = "#{:02x}{:02x}{:02x}".format(*(int(c * 0.85) for c in (red, green, blue)))
    # Text on the colour: white unless the colour is light (relative luminance).
    light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 160
    text = "#212529" if light else "#ffffff"
    return (
        f".portal {{ --bs-primary: {color}; --bs-primary-rgb: {red}, {green}, {blue};\n"
        f"  --bs-link-color: {darker}; --bs-link-color-rgb: {red}, {green}, {blue};\n"
        f"  --bs-link-hover-color: {darker}; }}\n"
        f".portal-nav {{ background-color: {color}; }}\n"
        f".portal-nav .navbar-brand, .portal-nav .nav-link {{ color: {text}; }}\n"
        f".portal .btn-primary {{ --bs-btn-bg: {color}; --bs-btn-border-color: {color};\n"
        f"  --bs-btn-color: {text}; --bs-btn-hover-color: {text};\n"
        f"  --bs-btn-hover-bg: {darker}; --bs-btn-hover-border-color: {darker};\n"
        f"  --bs-btn-active-bg: {darker}; --bs-btn-active-border-color: {darker}; }}\n"
        ".portal-logo { max-height: 2rem; max-width: 8rem; }\n"
    )
