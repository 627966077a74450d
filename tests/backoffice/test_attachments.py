"""Files attached to records: upload, list, download, remove, visibility."""
from __future__ import annotations

import io

from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.models import Attachment
from app.services.attachments import add_attachment
from app.services.records import create_record
from tests.backoffice.conftest import audit_events, count_rows, fr, shown_links, text


def _upload(client, entity: str, record_id: int, name: str = "devis-signé.txt",
            content: bytes = b"Bon pour accord", **kwargs):
    return client.post(f"/alpha/{entity}/{record_id}/attachments",
                       data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data", **kwargs)


def test_upload_list_download_and_remove(admin_client, make_invoice):
    invoice = make_invoice()
    response = _upload(admin_client, "invoices", invoice.id, "bon de livraison.txt")
    assert response.status_code == 302
    assert response.location == f"/alpha/invoices/{invoice.id}"
    page = admin_client.get(response.location)
    assert fr("File attached.") in text(page)
    assert "bon_de_livraison.txt" in text(page)
    attachment = db.session.scalar(select(Attachment))
    assert (attachment.record_type, attachment.record_id, attachment.account_id) == (
        "invoices", invoice.id, invoice.account_id)
    assert attachment.size == len(b"Bon pour accord") and len(attachment.sha256) == 64

    download = admin_client.get(f"/alpha/attachments/{attachment.id}/download")
    assert download.status_code == 200
    assert download.data == b"Bon pour accord"
    assert download.mimetype == "text/plain"
    assert "bon_de_livraison.txt" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    listing = admin_client.get("/alpha/attachments/?q=livraison")
    assert shown_links(listing, "attachments") == ["bon_de_livraison.txt"]
    assert "bon_de_livraison.txt" in text(admin_client.get(
        f"/alpha/accounts/{invoice.account_id}/360"))

    response = admin_client.post(f"/alpha/attachments/{attachment.id}/delete")
    assert response.status_code == 302 and response.location == f"/alpha/invoices/{invoice.id}"
    assert count_rows(Attachment) == 0
    assert [e.action for e in audit_events("attachments", attachment.id)] == ["create", "delete"]
    assert admin_client.get(f"/alpha/attachments/{attachment.id}/download").status_code == 404


def test_attachment_detail_page(admin_client, make_record):
    attachment = make_record("attachments", file_name="plan.txt")
    assert "plan.txt" in text(admin_client.get(f"/alpha/attachments/{attachment.id}"))


def test_file_names_are_made_safe(admin_client, make_partner):
    partner = make_partner()
    _upload(admin_client, "partners", partner.id, "../../etc/passwd")
    attachment = db.session.scalar(select(Attachment))
    assert attachment.file_name == "etc_passwd"
    assert attachment.account_id is None


def test_empty_or_missing_files_are_refused(admin_client, make_invoice):
    invoice = make_invoice()
    response = _upload(admin_client, "invoices", invoice.id, "vide.txt", b"",
                       follow_redirects=True)
    assert fr("The file is empty.") in text(response)
    response = admin_client.post(f"/alpha/invoices/{invoice.id}/attachments", data={},
                                 follow_redirects=True)
    assert fr("Choose a file.") in text(response)
    assert count_rows(Attachment) == 0


def test_too_large_files_are_refused(app, admin_client, make_invoice):
    invoice = make_invoice()
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = _upload(admin_client, "invoices", invoice.id, "gros.bin", b"x" * 4096)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 50 * 1024 * 1024
    assert response.status_code == 413
    assert fr("File too large") in text(response)
    assert count_rows(Attachment) == 0


def test_upload_to_an_unknown_or_foreign_record_is_404(admin_client, other_tenant, in_tenant):
    foreign = in_tenant(other_tenant, create_record, ENTITIES["partners"], {"name": "Beta"})
    assert _upload(admin_client, "partners", foreign.id).status_code == 404
    assert _upload(admin_client, "invoices", 999999).status_code == 404
    assert _upload(admin_client, "widgets", 1).status_code == 404
    assert count_rows(Attachment) == 0


def test_another_tenants_files_are_404(admin_client, other_tenant, in_tenant):
    def build():
        partner = create_record(ENTITIES["partners"], {"name": "Beta"})
        return add_attachment(partner, "secret.txt", io.BytesIO(b"secret"))

    attachment = in_tenant(other_tenant, build)
    assert admin_client.get(f"/alpha/attachments/{attachment.id}/download").status_code == 404
    assert admin_client.post(f"/alpha/attachments/{attachment.id}/delete").status_code == 404
    assert admin_client.get(f"/alpha/attachments/{attachment.id}").status_code == 404


def test_agents_download_their_partners_files_only(agent_client, make_account, make_invoice):
    own = make_invoice(account=make_account(partner=agent_client.partner.id).id)
    other = make_invoice()
    mine = add_attachment(own, "mien.txt", io.BytesIO(b"mien"))
    theirs = add_attachment(other, "autre.txt", io.BytesIO(b"autre"))
    db.session.commit()
    download = "/alpha/portal/attachments/{}/download"
    assert agent_client.get(download.format(mine.id)).data == b"mien"
    assert agent_client.get(download.format(theirs.id)).status_code == 404
    # The back office is not his: his own file is refused there too.
    assert agent_client.get(f"/alpha/attachments/{mine.id}/download").status_code == 403
    assert _upload(agent_client, "invoices", own.id).status_code == 403
    assert agent_client.post(f"/alpha/attachments/{mine.id}/delete").status_code == 403
    assert count_rows(Attachment) == 2


def test_sales_upload(sales_client, make_contract):
    contract = make_contract()
    assert _upload(sales_client, "contracts", contract.id).status_code == 302
    assert count_rows(Attachment) == 1
