"""Every back-office page answers, for each staff role, and each has a test of its own."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.documents import PRINTABLE
from app.entities import EDITABLE, ENTITIES
from app.extensions import db
from app.models import CustomField
from tests.backoffice.conftest import fr, text

# Where each back-office endpoint is exercised the way a user uses it.
COVERED = {
    "backoffice.login": "test_auth.py", "backoffice.logout": "test_auth.py",
    "backoffice.set_language": "test_i18n.py", "backoffice.profile": "test_i18n.py",
    "backoffice.dashboard": "test_dashboard.py", "backoffice.account_360": "test_account_360.py",
    "backoffice.record_list": "test_lists.py", "backoffice.record_export": "test_export.py",
    "backoffice.record_detail": "test_lists.py", "backoffice.record_new": "test_forms.py",
    "backoffice.record_edit": "test_forms.py", "backoffice.record_delete": "test_forms.py",
    "backoffice.lookup": "test_forms.py", "backoffice.attachment_upload": "test_attachments.py",
    "backoffice.attachment_download": "test_attachments.py",
    "backoffice.attachment_delete": "test_attachments.py",
    "backoffice.admin_users": "test_admin.py", "backoffice.admin_user_new": "test_admin.py",
    "backoffice.admin_user_edit": "test_admin.py",
    "backoffice.admin_user_invite": "../portal/test_passwords.py",
    "backoffice.admin_user_resend_invitation": "../portal/test_passwords.py",
    "backoffice.admin_user_end_sessions": "test_sessions.py",
    "backoffice.profile_end_sessions": "test_sessions.py",
    "backoffice.profile_password": "test_change_password.py",
    "backoffice.admin_offers": "../selling/test_offers_pages.py",
    "backoffice.admin_offer_new": "../selling/test_offers_pages.py",
    "backoffice.admin_offer_edit": "../selling/test_offers_pages.py",
    "backoffice.admin_offer_delete": "../selling/test_offers_pages.py",
    "backoffice.admin_sepa": "../selling/test_offers_pages.py",
    "backoffice.admin_seal": "../selling/test_tenant_seal.py",
    "backoffice.admin_seal_remove": "../selling/test_tenant_seal.py",
    "backoffice.mandate_list": "../selling/test_online_channel_pages.py",
    "backoffice.mandate_detail": "../selling/test_online_channel_pages.py",
    "backoffice.admin_mandate_new": "../selling/test_online_channel_pages.py",
    "backoffice.admin_mandate_amend": "../selling/test_online_channel_pages.py",
    "backoffice.admin_mandate_revoke": "../selling/test_online_channel_pages.py",
    "backoffice.collection_list": "../selling/test_online_channel_pages.py",
    "backoffice.collection_detail": "../selling/test_online_channel_pages.py",
    "backoffice.admin_collection_new": "../selling/test_online_channel_pages.py",
    "backoffice.admin_collection_file": "../selling/test_online_channel_pages.py",
    "backoffice.admin_collection_prenotify": "../selling/test_online_channel_pages.py",
    "backoffice.admin_collection_settle": "../selling/test_online_channel_pages.py",
    "backoffice.admin_debit_return": "../selling/test_online_channel_pages.py",
    "backoffice.admin_subscriptions": "../selling/test_subscriptions_admin.py",
    "backoffice.admin_custom_fields": "test_custom_fields.py",
    "backoffice.admin_custom_field_new": "test_custom_fields.py",
    "backoffice.admin_custom_field_edit": "test_custom_fields.py",
    "backoffice.feed_health": "test_feeds/test_health.py",
    "backoffice.feed_profiles": "test_feeds/test_profiles.py",
    "backoffice.feed_profile": "test_feeds/test_profiles.py",
    "backoffice.feed_profile_edit": "test_feeds/test_profiles.py",
    "backoffice.feed_profile_json": "test_feeds/test_profiles.py",
    "backoffice.feed_run_start": "test_feeds/test_runs.py",
    "backoffice.feed_runs": "test_feeds/test_runs.py",
    "backoffice.feed_run": "test_feeds/test_runs.py",
    "backoffice.feed_run_status": "test_feeds/test_runs.py",
    "backoffice.feed_run_errors": "test_feeds/test_runs.py",
    "backoffice.feed_run_rerun": "test_feeds/test_runs.py",
    "backoffice.feed_run_apply": "test_feeds/test_runs.py",
    "backoffice.feed_run_corrected": "test_feeds/test_runs.py",
    "backoffice.feed_value_map": "test_feeds/test_value_maps.py",
    "backoffice.feed_expectation": "../services/test_feed_alerts.py",
    "backoffice.profile_feed_digest": "../services/test_feed_alerts.py",
    "backoffice.feed_run_revert": "test_feeds/test_revert.py",
    "backoffice.admin_extranet": "test_extranet_look.py",
    "backoffice.admin_documents": "test_documents.py",
    "backoffice.record_pdf": "test_documents.py",
    "backoffice.document_send": "test_document_mail.py",
    "backoffice.admin_tokens": "test_tokens_admin.py",
    "backoffice.activity_add": "test_activities.py", "backoffice.call_log": "test_activities.py",
    "backoffice.activity_note": "test_activities.py",
    "backoffice.activity_done": "test_activities.py",
    "backoffice.activities_mine": "test_activities.py",
    "backoffice.admin_token_new": "test_tokens_admin.py",
    "backoffice.admin_token_revoke": "test_tokens_admin.py",
    "backoffice.admin_webhooks": "../webhooks/test_admin.py",
    "backoffice.admin_webhook_new": "../webhooks/test_admin.py",
    "backoffice.admin_webhook_edit": "../webhooks/test_admin.py",
    "backoffice.admin_webhook_deliveries": "../webhooks/test_admin.py",
    "backoffice.admin_webhook_delivery": "../webhooks/test_admin.py",
    "backoffice.admin_webhook_ping": "../webhooks/test_admin.py",
    "backoffice.admin_webhook_retry": "../webhooks/test_admin.py",
    "backoffice.admin_webhook_delete": "../webhooks/test_admin.py",
    "backoffice.admin_webhook_enable": "../webhooks/test_delivery.py",
    "backoffice.admin_data": "../test_tenant_data.py",
    "backoffice.admin_data_export": "../test_tenant_data.py",
    "backoffice.admin_contact_anonymise": "../test_tenant_data.py",
    "backoffice.admin_user_anonymise": "../test_tenant_data.py",
    "backoffice.admin_account_anonymise": "../test_tenant_data.py",
    "backoffice.search": "test_search.py",
    "backoffice.admin_exports": "test_exports.py",
    "backoffice.admin_export_new": "test_exports.py",
    "backoffice.admin_export_edit": "test_exports.py",
    "backoffice.admin_export_run": "test_exports.py",
    "backoffice.admin_export_delete": "test_exports.py",
    "backoffice.admin_export_file": "test_exports.py",
    "backoffice.admin_sftp_server_new": "test_exports.py",
    "backoffice.admin_sftp_server_delete": "test_exports.py",
    "backoffice.admin_feed_pull": "test_exports.py",
    "backoffice.feed_accounts": "test_feeds/test_accounts.py",
    "backoffice.feed_account_new": "test_feeds/test_accounts.py",
    "backoffice.feed_account": "test_feeds/test_accounts.py",
    "backoffice.feed_account_active": "test_feeds/test_accounts.py",
    "backoffice.signing_link_send": "../selling/test_quote_signing.py",
    "backoffice.signing_link_revoke": "../selling/test_quote_signing.py",
    "backoffice.admin_mails": "../selling/test_outgoing_mails_page.py",
    "backoffice.admin_mail_retry": "../selling/test_outgoing_mails_page.py",
}


def test_every_back_office_endpoint_has_a_view_test(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.endpoint.startswith("backoffice.")}
    assert endpoints - COVERED.keys() == set(), "a new back-office page needs a view test"


@pytest.fixture
def one_of_each(make_record, make_user, make_field):
    make_field("invoices", "promoteur")
    records = {name: make_record(name) for name in ENTITIES}
    return records, make_user("sales")


def _pages(records, user, field_id) -> list[str]:
    pages = ["/alpha/", "/alpha/profile", "/alpha/profile/password", "/alpha/activities/mine",
             "/alpha/admin/users",
             "/alpha/admin/users/new",
             "/alpha/admin/users/invite",
             f"/alpha/admin/users/{user.id}", "/alpha/admin/custom-fields",
             "/alpha/admin/custom-fields/new", f"/alpha/admin/custom-fields/{field_id}",
             "/alpha/admin/extranet", "/alpha/admin/documents", "/alpha/admin/tokens",
             "/alpha/admin/tokens/new",
             "/alpha/admin/webhooks", "/alpha/admin/webhooks/new",
             "/alpha/mandates/", "/alpha/collections/",
             f"/alpha/accounts/{records['accounts'].id}/360", "/alpha/lookup/accounts?q=C",
             "/alpha/search?q=a",
             f"/alpha/attachments/{records['attachments'].id}/download"]
    for name, record in records.items():
        pages += [f"/alpha/{name}/", f"/alpha/{name}/export.csv"]
        if name != "accounts":
            pages.append(f"/alpha/{name}/{record.id}")
        if name in PRINTABLE:
            pages.append(f"/alpha/{name}/{record.id}/pdf")
        if name in EDITABLE:
            pages += [f"/alpha/{name}/new", f"/alpha/{name}/{record.id}/edit"]
    return pages


def test_every_page_renders_for_an_admin(admin_client, one_of_each):
    records, user = one_of_each
    field_id = db.session.scalar(select(CustomField.id))
    for path in _pages(records, user, field_id):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        if response.mimetype == "text/html":
            assert "Alpha Stores" in text(response), path


def test_sales_reach_every_page_but_the_settings(sales_client, one_of_each):
    records, user = one_of_each
    field_id = db.session.scalar(select(CustomField.id))
    for path in _pages(records, user, field_id):
        expected = 403 if path.startswith("/alpha/admin/") else 200
        assert sales_client.get(path).status_code == expected, path


def test_health_check(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_the_health_check_answers_503_while_the_database_does_not(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.extensions import db

    def refuse(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "database unavailable"}


def test_unknown_pages_are_a_friendly_404(admin_client):
    response = admin_client.get("/alpha/no/such/page")
    assert response.status_code == 404
    assert fr("This page does not exist or you may not see it.") in text(response)
    record = admin_client.get("/alpha/invoices/424242")
    assert record.status_code == 404
    assert "Alpha Stores" in text(record)  # a missing record stays in the application's frame
