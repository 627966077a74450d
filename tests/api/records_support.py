"""What the record collections' tests share: custom fields, a small world of related records,
a creation and a change per entity, and a few request helpers."""
from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models import CustomField
from app.services.custom_field_defs import create_field

WRITABLE = ["partners", "accounts", "contacts", "deals", "quotes", "orders", "contracts",
            "deliveries", "invoices"]
LINES = [{"sku": "SB-4", "label": "Store banne 4 m", "quantity": "2", "unit_price": "500.00",
          "tax_rate": "20"},
         {"label": "Pose", "unit_price": 150}]


def creation(entity: str, world: SimpleNamespace) -> dict[str, Any]:
    """A valid body to create a record of `entity`, with an external_ref."""
    ref = {"external_ref": f"NEW-{entity}"}
    document = {"account_ref": "C001", "lines": LINES}
    return {
        "partners": {"name": "Agence Sud", "email": "sud@example.com", "phone": "0491000000"},
        "accounts": {"name": "Dupont SARL", "kind": "company", "city": "Lyon",
                     "postal_code": "69001", "partner_ref": "P001", "vat_number": "FR123"},
        "contacts": {"account_id": world.account.id, "last_name": "Durand",
                     "first_name": "Anne", "email": "anne@example.com"},
        "deals": {"title": "Stores du siège", "account_ref": "C001", "stage": "proposal",
                  "amount": "1500.00", "expected_close_on": "2026-12-01"},
        "quotes": {**document, "number": "D-NEW", "status": "draft", "issued_on": "2026-10-01",
                   "valid_until": "2026-10-31", "deal_id": world.deal.id},
        "orders": {**document, "number": "C-NEW", "ordered_on": "2026-10-05",
                   "quote_ref": "Q001"},
        "contracts": {"number": "CT-NEW", "title": "Maintenance", "account_ref": "C001",
                      "starts_on": "2026-01-01", "ends_on": "2026-12-31",
                      "recurring_amount": 49.9},
        "deliveries": {"number": "BL-NEW", "account_ref": "C001", "status": "planned",
                       "expected_on": "2026-11-30", "carrier": "Geodis", "order_ref": "O001"},
        "invoices": {**document, "number": "F-NEW", "issued_on": "2026-10-10",
                     "due_on": "2026-11-10", "order_id": world.order.id},
    }[entity] | ref


# A change per entity: (body, the field to read back, its expected value).
CHANGES = {
    "partners": ({"phone": "0102030405"}, "phone", "0102030405"),
    "accounts": ({"city": "Paris"}, "city", "Paris"),
    "contacts": ({"job_title": "Gérante"}, "job_title", "Gérante"),
    "deals": ({"stage": "won"}, "stage", "won"),
    "quotes": ({"status": "sent"}, "status", "sent"),
    "orders": ({"status": "in_progress"}, "status", "in_progress"),
    "contracts": ({"status": "active"}, "status", "active"),
    "deliveries": ({"carrier": "DHL"}, "carrier", "DHL"),
    "invoices": ({"amount_paid": "100"}, "amount_paid", "100.00"),
}


def english(client: FlaskClient) -> FlaskClient:
    """The client asks for English messages (the tenant's language is French)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def en_client(api_client: FlaskClient) -> FlaskClient:
    """Tenant A's client with every scope, reading English messages."""
    return english(api_client)


@pytest.fixture
def make_field(tenant: Any) -> Callable[..., CustomField]:
    """A custom field of the tenant: make_field("invoices", "promoteur", type="text")."""

    def make(entity: str, key: str, **over: Any) -> CustomField:
        data = {"entity": entity, "key": key, "label_fr": key.title(), "label_en": key.title(),
                "type": "text", "choices": [], "is_required": False,
                "is_portal_visible": False, "position": 0, "is_active": True, **over}
        field = create_field(data)
        db.session.commit()
        return field

    return make


@pytest.fixture
def world(make_partner: Callable[..., Any], make_account: Callable[..., Any],
          make_deal: Callable[..., Any], make_quote: Callable[..., Any],
          make_order: Callable[..., Any]) -> SimpleNamespace:
    """Partner P001, its customer C001, a deal, quote Q001 and order O001 of that customer."""
    partner = make_partner(name="Agence du Nord", external_ref="P001")
    account = make_account(name="Client Nord", external_ref="C001", partner=partner.id)
    deal = make_deal(account=account.id)
    quote = make_quote(account=account.id, external_ref="Q001")
    order = make_order(account=account.id, external_ref="O001")
    return SimpleNamespace(partner=partner, account=account, deal=deal, quote=quote,
                           order=order)


def next_cursor(response: Any) -> str | None:
    return json.loads(response.headers["X-Pagination"])["next_cursor"]


def all_pages(client: FlaskClient, url: str, cursor: str | None = None
              ) -> tuple[list[dict[str, Any]], list[Any]]:
    """Every row of a list from `cursor` on, following next_cursor; and the responses."""
    rows: list[dict[str, Any]] = []
    responses = []
    while True:
        separator = "&" if "?" in url else "?"
        response = client.get(url + (f"{separator}cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.data[:500]
        responses.append(response)
        rows += response.get_json()
        cursor = next_cursor(response)
        if not cursor:
            return rows, responses
