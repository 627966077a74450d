"""A record's history as its reader reads it: labels, names, dates and amounts in his language,
never column names, ids or ISO dates."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import force_locale

from app.extensions import db
from app.queries.history import readable_changes
from app.services.records import update_record
from tests.backoffice.conftest import en, text


def _history(response) -> str:
    """The page's text from its history on: the timeline of a customer's 360° page and of the
    documents' pages, the history card of the others."""
    page = response.data.decode()
    card = 'id="timeline"' if 'id="timeline"' in page else 'id="audit"'
    assert card in page
    shown = text(response)
    start = max(shown.rfind(heading) for heading in ("Fil d'activité", "Timeline",
                                                     "Historique", "History"))
    return shown[start:]


def test_the_history_names_fields_owners_and_formats_values(admin_client, make_user,
                                                           make_account, make_field):
    make_field("accounts", "segment", label_fr="Segment client", label_en="Customer segment")
    make_field("accounts", "visite", type="date", label_fr="Dernière visite",
               label_en="Last visit")
    owner = make_user("sales", full_name="Claire Dupont")
    account = make_account(external_ref="C-OLD")
    update_record(account, {"external_ref": "C-NEW", "owner": owner.id,
                            "custom": {"segment": "PME", "visite": "2026-03-31"}})
    db.session.commit()
    french = _history(admin_client.get(f"/alpha/accounts/{account.id}",
                                                follow_redirects=True))
    for shown in ("Référence externe", "C-OLD → C-NEW", "Segment client", "PME",
                  "Claire Dupont", "Dernière visite", "31/03/2026"):
        assert shown in french, shown
    for hidden in ("external_ref", "custom.segment", "owner_id", "2026-03-31"):
        assert hidden not in french, hidden
    english = _history(en(admin_client).get(f"/alpha/accounts/{account.id}",
                                                    follow_redirects=True))
    for shown in ("External reference", "Customer segment", "Last visit", "31 Mar 2026",
                  "Claire Dupont"):
        assert shown in english, shown


def test_amounts_statuses_and_lines_read_in_the_readers_language(app, make_invoice):
    invoice = make_invoice()
    before = {"status": "issued", "amount_paid": "0.00", "currency": "EUR", "lines": [{}]}
    after = {"status": "paid", "amount_paid": "1234.50", "currency": "EUR", "lines": [{}, {}]}
    with force_locale("fr"):
        changes = {c.key: c for c in readable_changes("invoices", before, after)}
        assert (changes["status"].label, changes["status"].before, changes["status"].after) \
            == ("Statut", "Émise", "Payée")
        assert changes["amount_paid"].after.replace("\u202f", " ").replace("\xa0", " ") \
            == "1 234,50 €"
        assert changes["lines"].after == "2 ligne(s)"
        assert "currency" not in changes  # unchanged
    with force_locale("en"):
        changes = {c.key: c for c in readable_changes("invoices", before, after)}
        assert (changes["status"].before, changes["status"].after) == ("Issued", "Paid")
        assert changes["amount_paid"].after == "€1,234.50"
    assert invoice.total >= Decimal(0)


def test_a_value_an_old_event_stored_otherwise_reads_as_stored(tenant):
    with force_locale("fr"):
        changes = readable_changes("invoices", {"due_on": "bientôt", "owner_id": 999999}, None)
    assert [(c.key, c.before) for c in changes] == [("due_on", "bientôt"),
                                                    ("owner_id", "#999999")]


def test_users_and_custom_fields_history_name_their_roles_and_types(tenant):
    with force_locale("en"):
        user = readable_changes("users", {"role": "sales", "is_active": True},
                                {"role": "admin", "is_active": False})
        field = readable_changes("custom_fields", None, {"type": "multi_choice",
                                                         "label_fr": "Gamme"})
    assert [(c.label, c.before, c.after) for c in user] == [
        ("Active", "Yes", "No"), ("Role", "Sales", "Administrator")]
    assert {(c.label, c.after) for c in field} == {("Type", "Multiple choice"),
                                                  ("Label (French)", "Gamme")}
