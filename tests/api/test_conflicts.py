"""A number or a reference already used is a 422 naming the field, whatever language the
client asks for (or none: curl, httpx and generated clients send no Accept-Language); a record
deleted by another transaction while a request changes it is a 404."""
from __future__ import annotations

import threading

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import AuditEvent, Invoice
from app.services.record_batches import RecordWriter
from app.tenancy import SYSTEM, tenant_context
from tests.api.conftest import problem
from tests.api.test_bulk import bulk, invoice

# No header, a language Relais does not speak, and both it does.
LANGUAGES = [None, "de", "fr", "en"]
REF_TAKEN = "This reference is already used."
NUMBER_TAKEN = "This number is already used."


def headers(language: str | None) -> dict[str, str]:
    return {"Accept-Language": language} if language else {}


def said(message: str, language: str | None) -> str:
    """The message in the language the client gets: its own, else the tenant's (French)."""
    with force_locale("en" if language == "en" else "fr"):
        return gettext(message)


@pytest.fixture
def taken(api_client, world):
    """Invoices F-1 (ref I1) and F-2 (ref I2) of customer C001."""
    for ref, number in (("I1", "F-1"), ("I2", "F-2")):
        made = api_client.post("/api/v1/invoices", json=invoice(ref, number=number))
        assert made.status_code == 201, made.data[:500]
    return api_client.get("/api/v1/invoices/by-ref/I2").get_json()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_post_with_a_reference_or_number_already_used_is_a_422(api_client, taken, language):
    same_ref = api_client.post("/api/v1/invoices", json=invoice("I1", number="F-9"),
                               headers=headers(language))
    assert problem(same_ref, 422)["errors"] == {"external_ref": [said(REF_TAKEN, language)]}
    same_number = api_client.post("/api/v1/invoices", json=invoice("I9", number="F-1"),
                                  headers=headers(language))
    assert problem(same_number, 422)["errors"] == {"number": [said(NUMBER_TAKEN, language)]}
    account = api_client.post("/api/v1/accounts", json={"name": "X", "external_ref": "C001"},
                              headers=headers(language))
    assert problem(account, 422)["errors"] == {"external_ref": [said(REF_TAKEN, language)]}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_patch_to_a_reference_or_number_already_used_is_a_422(api_client, taken, language):
    url = f"/api/v1/invoices/{taken['id']}"
    same_ref = api_client.patch(url, json={"external_ref": "I1"}, headers=headers(language))
    assert problem(same_ref, 422)["errors"] == {"external_ref": [said(REF_TAKEN, language)]}
    same_number = api_client.patch(url, json={"number": "F-1"}, headers=headers(language))
    assert problem(same_number, 422)["errors"] == {"number": [said(NUMBER_TAKEN, language)]}
    assert api_client.get(url).get_json()["number"] == "F-2"


@pytest.mark.parametrize("language", [None, "de"])
def test_a_bulk_item_with_a_number_already_used_fails_alone(api_client, taken, language):
    api_client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    if language:
        api_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    result = bulk(api_client, "invoices", [invoice("B1"), invoice("B2", number="F-1")])
    assert [o["status"] for o in result["items"]] == ["created", "error"]
    assert result["items"][1]["errors"] == {"number": [said(NUMBER_TAKEN, language)]}


def test_a_patch_of_a_record_deleted_meanwhile_is_a_404_and_leaves_no_trace(
        app, api_client, taken, tenant, monkeypatch):
    # Deleted by another transaction (a run's revert, say) after the request read it and
    # before it writes: nothing to update, so no audit event of an update that never was.
    original = RecordWriter.update

    def deleted_first(writer, rows):
        def other():
            with app.app_context(), tenant_context(tenant.id, SYSTEM):
                db.session.execute(delete(Invoice).where(Invoice.id == taken["id"]))
                db.session.commit()
                db.session.remove()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(30)
        return original(writer, rows)

    monkeypatch.setattr(RecordWriter, "update", deleted_first)
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = api_client.patch(f"/api/v1/invoices/{taken['id']}", json={"total": "99.00"})
    assert problem(response, 404)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
