"""A record is the same record whichever path writes it: the API's single create (the path of
the forms too: both call app/services/records.py), the API's bulk upsert and a feed import,
from the same input, for every entity with forms. Its audit events too.

Left out of the comparison, each for its reason:
- id, created_at, updated_at: a new row's own; audit events' id and created_at likewise;
- external_ref and number: the key of each path's copy, which the tenant holds once (they
  differ only by the path's prefix, checked);
- import_run_id, import_profile_id and import_digest: set by a feed only (the run that wrote
  the record, the fingerprint of its row), the stamps in its update's audit event too;
- actor_kind, actor_id, actor_label, ip of audit events: who wrote, a token or a feed;
- a feed's creation has no audit event: the record names the run that created it instead
  (docs/feeds.md, "Audit"); its update has one, compared with the others.
Attachments are uploaded files, not written by any of these paths.
"""
from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from app.entities import EDITABLE, ENTITIES
from app.extensions import db
from app.models import AuditEvent, ImportRun
from app.models.base import FEED_STAMPS
from app.services import feeds
from app.services.custom_field_defs import create_field
from app.services.record_rules import snapshot
from app.services.records import create_record
from app.services.tokens import create_token
from importers import runs
from tests.api.conftest import bearer

ACCOUNT = {"account_ref": "C1"}
LINES = [{"sku": "SB-4", "label": "Store banne 4 m", "quantity": "2", "unit_price": "612.35",
          "tax_rate": "20"},
         {"label": "Pose", "unit_price": "150"}]  # quantity 1, 20 % by default
# The input of each entity: the JSON item (single and bulk) and the feed's cells for it.
INPUTS: dict[str, dict[str, Any]] = {
    "partners": {"name": "Agence Nord", "email": "Nord@Example.com", "phone": "03 20 00 00 00"},
    "accounts": {"name": "Dupont SARL", "kind": "person", "email": "contact@dupont.example",
                 "address_line": "3 rue Nationale", "postal_code": "59000", "city": "Lille",
                 "country": "be", "vat_number": "BE0123456789", "partner_ref": "P1"},
    "contacts": {**ACCOUNT, "first_name": "Claire", "last_name": "Martin",
                 "email": "claire@dupont.example", "job_title": "Gérante"},
    "deals": {**ACCOUNT, "title": "Véranda", "stage": "qualified", "amount": "15000.5",
              "expected_close_on": "2026-12-15"},
    "quotes": {**ACCOUNT, "number": "1", "issued_on": "2026-10-01",
               "valid_until": "2026-10-31", "status": "sent", "lines": LINES},
    "orders": {**ACCOUNT, "number": "1", "ordered_on": "2026-10-05", "currency": "usd",
               "lines": LINES},
    "contracts": {**ACCOUNT, "number": "1", "title": "Maintenance", "starts_on": "2026-01-01",
                  "ends_on": "2026-12-31", "status": "active", "recurring_amount": "49.9"},
    "deliveries": {**ACCOUNT, "number": "1", "status": "shipped", "shipped_on": "2026-11-02",
                   "expected_on": "2026-11-30", "carrier": "Geodis"},
    "invoices": {**ACCOUNT, "number": "1", "issued_on": "2026-10-10", "due_on": "2026-11-10",
                 "amount_paid": "100", "lines": LINES},
    "activities": {**ACCOUNT, "kind": "task", "subject": "Rappeler pour la pose",
                   "body": "Le client préfère le matin.", "due_at": "2026-12-10T09:30:00Z",
                   "is_staff_only": True},
}
# A change of each record, given by each path again.
CHANGES = {"partners": {"phone": "03 20 99 99 99"}, "accounts": {"city": "Roubaix"},
           "contacts": {"job_title": "Associée"}, "deals": {"stage": "won"},
           "quotes": {"status": "accepted"}, "orders": {"status": "delivered"},
           "contracts": {"status": "terminated"}, "deliveries": {"carrier": "DB Schenker"},
           "invoices": {"amount_paid": "1000.5"},
           "activities": {"done_at": "2026-12-10T10:05:00+01:00"}}
PATHS = ("single", "bulk", "feed")
IGNORED = {"id", "created_at", "updated_at", "import_run_id", "import_profile_id",
           "import_digest"}
AUDIT_IGNORED = {"id", "record_id", "created_at", "actor_kind", "actor_id", "actor_label", "ip"}


def test_every_editable_entity_is_covered() -> None:
    assert set(INPUTS) == set(CHANGES) == set(EDITABLE) == set(ENTITIES) - {"attachments"}


@pytest.mark.parametrize("name", list(INPUTS))
def test_a_record_is_the_same_whichever_path_writes_it(app, tenant, name: str) -> None:
    entity = ENTITIES[name]
    partner = create_record(ENTITIES["partners"], {"name": "Agence", "external_ref": "P1"})
    create_record(ENTITIES["accounts"], {"name": "Client", "external_ref": "C1",
                                         "partner": partner.id})
    create_field({"entity": name, "key": "niveau", "type": "integer", "label_fr": "Niveau",
                  "label_en": "Level"})
    _token, secret = create_token("ERP", "read,write,import")
    db.session.commit()
    client = bearer(app, secret)
    profile = None
    for step, data in (("create", INPUTS[name]), ("update", CHANGES[name])):
        for path in PATHS:
            item = {**(INPUTS[name] if step == "create" else data), "external_ref": f"{path}-1"}
            if "number" in INPUTS[name]:
                item["number"] = f"{path}-1"
            item["custom"] = {"niveau": 3 if step == "create" else 4}
            if path == "single":
                _single(client, entity, step, item)
            elif path == "bulk":
                response = client.post(f"/api/v1/{name}/bulk", json={"items": [item]})
                assert response.status_code == 200, response.data[:500]
                assert response.get_json()["failed"] == 0, response.get_json()
            else:
                profile = profile or _profile(name)
                run = _feed(profile, name, item)
                assert (run.failed, run.created + run.updated) == (0, 1), run.counts
        db.session.expire_all()
        states = {path: _state(entity, f"{path}-1") for path in PATHS}
        assert states["bulk"] == states["single"], step
        assert states["feed"] == states["single"], step
    audits = {path: _audits(name, f"{path}-1") for path in PATHS}
    assert [a["action"] for a in audits["single"]] == ["create", "update"]
    assert audits["bulk"] == audits["single"]
    assert audits["feed"] == audits["single"][1:]  # a feed's creation: the run (above)


def _single(client: Any, entity: Any, step: str, item: dict[str, Any]) -> None:
    if step == "create":
        response = client.post(f"/api/v1/{entity.name}", json=item)
        assert response.status_code == 201, response.data[:500]
        return
    url = f"/api/v1/{entity.name}/{_record(entity, item['external_ref']).id}"
    body = {k: v for k, v in item.items() if k not in ("external_ref", "number")}
    response = client.patch(url, json=body, headers={"If-Match": client.get(url).headers["ETag"]})
    assert response.status_code == 200, response.data[:500]


def _profile(name: str) -> Any:
    columns = {"Code": "external_ref", "Niveau": "custom.niveau"}
    for key in {k for d in (INPUTS[name], CHANGES[name]) for k in d}:
        if key == "lines":
            columns.update({f"Ligne {f}": f"lines.{f}" for f in
                            ("sku", "label", "quantity", "unit_price", "tax_rate")})
        elif key.endswith("_ref"):
            columns[key] = f"{key[:-4]}.external_ref"
        else:
            columns[key] = key
    profile = feeds.create_profile({"name": f"flux-{name}", "entity": name,
                                      "columns": columns, "decimal": ".",
                                      "date_format": "%Y-%m-%d"})
    db.session.commit()
    return profile


def _feed(profile: Any, name: str, item: dict[str, Any]) -> ImportRun:
    """The item as a feed's rows (one per line of a document), with every mapped column:
    a column the item does not give is the record's current value, as an export holds it."""
    state = INPUTS[name] | item
    headers = list(profile.definition["columns"])
    rows = []
    for line in state.get("lines") or [{}]:
        row = []
        for header in headers:
            target = profile.definition["columns"][header]
            if target == "external_ref":
                value = item["external_ref"]
            elif target == "custom.niveau":
                value = item["custom"]["niveau"]
            elif target.startswith("lines."):
                value = line.get(target[6:])
            else:
                value = state.get(header)
            row.append("" if value is None else str(value))
        rows.append(row)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows([headers, *rows])
    stream = io.BytesIO(buffer.getvalue().encode())
    created = feeds.create_run(profile, stream, "export.csv", source="cli", dry_run=False,
                               force=True)
    db.session.commit()
    runs.run_import(created.id, created.tenant_id, max_wait=0)
    db.session.expire_all()
    return db.session.get(ImportRun, created.id)


def _record(entity: Any, key: str) -> Any:
    return db.session.scalars(select(entity.model).where(
        entity.model.external_ref == key)).one()


def _state(entity: Any, key: str) -> dict[str, Any]:
    """The record's columns and lines, its key's path prefix taken off."""
    record = _record(entity, key)
    state = {column.key: getattr(record, column.key) for column in entity.model.__table__.c
             if column.key not in IGNORED}
    for name in ("external_ref", "number"):
        if name in state:
            state[name] = state[name].split("-", 1)[1]
    if "search_text" in state:  # written by every path, from the same fields
        assert state["search_text"], key
        state["search_text"] = state["search_text"].replace(key.split("-", 1)[0] + "-", "")
    state["snapshot"] = _unprefixed(snapshot(entity, record))
    return state


def _unprefixed(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.split("-", 1)[1] if k in ("external_ref", "number") and v else v
            for k, v in state.items() if k not in FEED_STAMPS}


def _audits(name: str, key: str) -> list[dict[str, Any]]:
    record = _record(ENTITIES[name], key)
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == name, AuditEvent.record_id == record.id).order_by(AuditEvent.id))
    return [{column.key: _unprefixed(value) if isinstance(value := getattr(event, column.key),
                                                          dict) else value
             for column in AuditEvent.__table__.c if column.key not in AUDIT_IGNORED}
            for event in events]
