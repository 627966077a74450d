"""The extranet's look: an admin sets the colour and the logo; the extranet shows them."""
from __future__ import annotations

import io

from app.extensions import db
from app.models import AuditEvent, Tenant
from tests.backoffice.conftest import count_rows
from tests.conftest import page_text

# A whole 1x1 PNG (checksums right: the logo is read as an image before it is kept).
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xa8\x92\x8f\xf9\x0f\x00\x04\x01\x01\xf5\x8c"
       b"\xc8n1\x00\x00\x00\x00IEND\xaeB`\x82")


def _save(client, **data):
    return client.post("/alpha/admin/extranet", data=data, content_type="multipart/form-data")


def test_an_admin_sets_the_colour_and_logo_the_extranet_shows(admin_client, client, tenant):
    assert _save(admin_client, portal_color="#7A1F5C",
                 logo=(io.BytesIO(PNG), "logo.png")).status_code == 302
    db.session.expire_all()
    saved = db.session.get(Tenant, tenant.id)
    assert saved.portal_color == "#7a1f5c" and saved.logo_media_type == "image/png"
    css = client.get("/alpha/portal/theme.css")
    assert css.mimetype == "text/css" and ".portal-nav { background-color: #7a1f5c; }" in \
        css.data.decode()
    login_page = client.get("/alpha/portal/login").data.decode()
    assert "/alpha/portal/logo?v=" in login_page and "/alpha/portal/theme.css" in login_page
    logo = client.get("/alpha/portal/logo")
    assert logo.data == PNG and logo.mimetype == "image/png"
    event = db.session.query(AuditEvent).filter_by(entity="tenants").one()
    assert event.after["portal_color"] == "#7a1f5c"
    # Removing the logo: the extranet has none any more.
    assert _save(admin_client, portal_color="#7a1f5c", remove_logo="y").status_code == 302
    assert client.get("/alpha/portal/logo").status_code == 404


def test_a_light_colour_gets_dark_text(admin_client, client):
    _save(admin_client, portal_color="#ffe066")
    assert ".portal-nav .navbar-brand, .portal-nav .nav-link { color: #212529; }" in \
        client.get("/alpha/portal/theme.css").data.decode()


def test_bad_colour_and_logo_are_refused_clearly(admin_client, tenant):
    answer = _save(admin_client, portal_color="red; } body { display:none")
    assert answer.status_code == 422 and "#rrvvbb" in page_text(answer)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    answer = _save(admin_client, portal_color="#112233", logo=(io.BytesIO(svg), "logo.svg"))
    assert answer.status_code == 422 and "image PNG, JPEG, GIF ou WebP" in page_text(answer)
    db.session.expire_all()
    assert db.session.get(Tenant, tenant.id).logo_sha256 is None
    assert count_rows(AuditEvent) == 0 or not db.session.query(AuditEvent).filter_by(
        entity="tenants").count()


def test_the_look_is_for_admins(sales_client):
    assert sales_client.get("/alpha/admin/extranet").status_code == 403
    assert _save(sales_client, portal_color="#000000").status_code == 403


def test_default_theme_without_a_colour(client, tenant):
    assert "#0d6efd" in client.get("/alpha/portal/theme.css").data.decode()
