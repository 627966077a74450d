"""A tenant's settings its admin may change: the colour and logo of the extranet and of
printed documents, the legal mentions those documents carry, and whether its agents see
activities in the extranet."""
from __future__ import annotations

import os
import re
from decimal import Decimal
from typing import IO, Any

from flask_babel import gettext as _

from app.errors import ValidationError
from app.extensions import db
from app.models import Tenant
from app.services.attachments import storage_path
from app.services.audit import record_event
from app.services.files import store_stream
from app.values import parse_decimal

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
    if size == 0 or media_type is None or not _is_image(tmp):
        tmp.unlink()
        raise ValidationError({"logo": _("The logo must be a PNG, JPEG, GIF or WebP image.")})
    final = storage_path(tenant.id, sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    return sha256, media_type


def _is_image(path: Any) -> bool:
    """Pillow reads the whole file as an image (a PDF embeds it: a truncated one would fail
    there); a picture of absurd dimensions is refused as well."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
            return image.width * image.height <= LOGO_MAX_PIXELS
    except Exception:  # noqa: BLE001 - any failure to read it means "not an image"
        return False


LOGO_MAX_PIXELS = 4096 * 4096
LEGAL_FIELDS = ("legal_name", "legal_address", "siren", "vat_number", "payment_terms",
                "late_penalty_rate")
TEXT_LIMITS = {"legal_name": 200, "legal_address": 500, "payment_terms": 1000}
VAT_NUMBER = re.compile(r"[A-Z]{2}[0-9A-Z]{2,13}")


def set_legal_mentions(tenant: Tenant, data: dict[str, Any]) -> None:
    """Change the legal mentions printed on documents; empty values clear them."""
    values, errors = {}, {}
    for name in LEGAL_FIELDS:
        raw = str(data.get(name) or "").strip()
        try:
            values[name] = _legal_value(name, raw) if raw else None
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ValidationError(errors)
    before = _legal(tenant)
    for name, value in values.items():
        setattr(tenant, name, value)
    db.session.flush()
    after = _legal(tenant)
    if after != before:
        record_event("update", "tenants", tenant.id, before, after)


def _legal_value(name: str, raw: str) -> str | Decimal:
    if name in TEXT_LIMITS:
        if len(raw) > TEXT_LIMITS[name]:
            raise ValueError(_("Enter at most %(max)d characters.", max=TEXT_LIMITS[name]))
        return raw
    if name == "siren":
        digits = re.sub(r"[\s.]", "", raw)
        if not re.fullmatch(r"\d{9}", digits) or not _luhn(digits):
            raise ValueError(_("A SIREN number has 9 digits (and a valid check digit)."))
        return digits
    if name == "vat_number":
        number = re.sub(r"[\s.-]", "", raw).upper()
        if not VAT_NUMBER.fullmatch(number):
            raise ValueError(_("Enter a VAT number such as FR12345678901."))
        return number
    try:
        rate = parse_decimal(raw.rstrip("%").strip())
    except ValueError:
        rate = Decimal(-1)
    if not Decimal(0) <= rate <= Decimal(100):
        raise ValueError(_("Enter a rate between 0 and 100 (percent a year)."))
    return rate.quantize(Decimal("0.01"))


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _legal(tenant: Tenant) -> dict[str, str | None]:
    return {name: None if getattr(tenant, name) is None else str(getattr(tenant, name))
            for name in LEGAL_FIELDS}


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
