"""The agent's home reads his partner's invoice figures kept by the database
(app/models/partner_figures.py): after every kind of write to invoices (form, API single and
bulk, import, full-sync archive, revert of a run, deletion, a partner's or a customer's
deletion, a tenant's erasure) they equal what the invoices say, the home shows them, and an
agent sees his partner's figures only, in his tenant only."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.entities import ENTITIES
from app.extensions import db
from app.models import ImportRun, Invoice, Partner, PartnerInvoiceFigure, Tenant
from app.models.partner_figures import NO_DUE_DATE, NO_ISSUE_DATE
from app.queries.dashboard import monthly_invoiced, overdue_invoices
from app.services import feeds
from app.services.erasure import delete_tenant_rows
from app.services.import_revert import revert_run
from app.services.records import create_record, delete_record, update_record
from app.services.tokens import create_token
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from importers import runs
from tests.api.conftest import bearer
from tests.conftest import local_day, login, page_text

OPEN = ("issued", "overdue")


def _kept() -> dict[tuple, tuple[int, int, int]]:
    """Every tenant's kept figures, rows that add up to nothing aside."""
    db.session.expire_all()
    with all_tenants_unsafe("test: the figures of every tenant"):
        rows = db.session.scalars(select(PartnerInvoiceFigure)).all()
    # A key has one row once committed; the writing transaction's own pending rows (on
    # PostgreSQL, until its commit) add to it.
    sums: dict[tuple, Counter] = {}
    for f in rows:
        key = (f.tenant_id, f.partner_id, f.issued_month, f.due_on, f.is_open, f.is_unpaid)
        sums.setdefault(key, Counter()).update(n=f.invoices, total=f.total_cents,
                                               left=f.open_cents)
    return {key: (c["n"], c["total"], c["left"]) for key, c in sums.items()
            if (c["n"], c["total"], c["left"]) != (0, 0, 0)}


def _recounted() -> dict[tuple, tuple[int, int, int]]:
    """The same figures summed again from every tenant's invoices."""
    sums: dict[tuple, Counter] = {}
    with all_tenants_unsafe("test: the invoices of every tenant"):
        for i in db.session.scalars(select(Invoice)):
            if i.partner_id is None or i.archived_at is not None \
                    or i.status in ("draft", "cancelled"):
                continue
            is_open = i.status in OPEN
            key = (i.tenant_id, i.partner_id,
                   i.issued_on.replace(day=1) if i.issued_on else NO_ISSUE_DATE,
                   (i.due_on or NO_DUE_DATE) if is_open else NO_DUE_DATE, is_open,
                   is_open and i.amount_paid < i.total)
            left = (i.total - i.amount_paid) if is_open else Decimal(0)
            sums.setdefault(key, Counter()).update(
                n=1, total=int(i.total * 100), left=int(left * 100))
    return {key: (c["n"], c["total"], c["left"]) for key, c in sums.items()
            if (c["n"], c["total"], c["left"]) != (0, 0, 0)}


def _consistent() -> None:
    assert _kept() == _recounted()


def _kpi(client, element_id: str) -> str:
    page = client.get("/alpha/portal/").data.decode()
    start = page.index(f'id="{element_id}"')
    return page[page.index(">", start) + 1:page.index("<", start)]


def _what_he_sees(partner_id: int) -> dict[str, Any]:
    """The home's figures, from the invoices the agent sees (his partner's, no drafts)."""
    db.session.expire_all()
    today = local_day()
    mine = [i for i in db.session.scalars(select(Invoice).where(
        Invoice.partner_id == partner_id, Invoice.archived_at.is_(None),
        Invoice.status != "draft"))]
    unpaid = [i for i in mine if i.status in OPEN]
    late = [i for i in mine if i.is_overdue_on(today)]
    first = today.replace(day=1)
    months = {first: Decimal("0")}
    while len(months) < 12:
        first = (first - timedelta(days=1)).replace(day=1)
        months[first] = Decimal("0")
    for i in mine:
        month = i.issued_on.replace(day=1) if i.issued_on else None
        if month in months and i.issued_on <= today and i.status != "cancelled":
            months[month] += i.total
    return {"kpi-unpaid": str(len(unpaid)), "kpi-overdue": str(len(late)),
            "monthly": sorted(months.items()),
            "unpaid": sum((i.total - i.amount_paid for i in unpaid), Decimal(0)),
            "overdue": sum((i.total - i.amount_paid for i in late), Decimal(0))}


def _home_matches(client, partner_id: int) -> None:
    _consistent()
    expected = _what_he_sees(partner_id)
    for kpi in ("kpi-unpaid", "kpi-overdue"):
        assert _kpi(client, kpi) == expected[kpi]
    from app.queries.portal_home import unpaid_invoices

    agent = db.session.get(type(client.agent), client.agent.id)
    assert unpaid_invoices(agent)[1] == expected["unpaid"]
    assert overdue_invoices(agent, local_day())[1] == expected["overdue"]
    assert monthly_invoiced(agent, local_day()) == expected["monthly"]


@pytest.fixture
def world(app, make_user, make_partner, make_account):
    """Tenant alpha: an agent of the north partner, a customer of each of two partners."""
    north, south = make_partner(name="Agence du Nord"), make_partner(name="Agence du Sud")
    mine = make_account(name="Client du Nord", partner=north.id, external_ref="C-N")
    theirs = make_account(name="Client du Sud", partner=south.id, external_ref="C-S")
    agent = make_user("agent", partner_id=north.id)
    client = login(app.test_client(), agent)
    client.agent = agent
    return client, north, south, mine, theirs


def test_forms_keep_the_home_figures(world, admin_client):
    client, north, _south, mine, _theirs = world
    today = local_day()
    form = {"number": "F-FORM-1", "account": f"#{mine.id}", "status": "issued",
            "issued_on": (today - timedelta(days=40)).isoformat(),
            "due_on": (today - timedelta(days=10)).isoformat(),
            "lines-0-label": "Store", "lines-0-quantity": "1", "lines-0-unit_price": "100",
            "lines-0-tax_rate": "20"}
    response = admin_client.post("/alpha/invoices/new", data=form)
    assert response.status_code == 302
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == "F-FORM-1"))
    _home_matches(client, north.id)
    assert _kpi(client, "kpi-overdue") == "1"
    assert "120,00 €" in page_text(client.get("/alpha/portal/"))
    edited = admin_client.post(f"/alpha/invoices/{invoice.id}/edit",
                               data={**form, "due_on": (today + timedelta(days=5)).isoformat()})
    assert edited.status_code == 302
    _home_matches(client, north.id)
    assert _kpi(client, "kpi-overdue") == "0" and _kpi(client, "kpi-unpaid") == "1"
    admin_client.post(f"/alpha/invoices/{invoice.id}/edit", data={**form, "status": "paid"})
    _home_matches(client, north.id)
    assert _kpi(client, "kpi-unpaid") == "0"
    assert admin_client.post(f"/alpha/invoices/{invoice.id}/delete").status_code == 302
    _home_matches(client, north.id)


def test_the_api_one_by_one_and_in_bulk_keeps_them(world, app):
    client, north, _south, _mine, _theirs = world
    _token, secret = create_token("ERP", "read,write")
    db.session.commit()
    api = bearer(app, secret)
    today = local_day()
    body = {"external_ref": "API-1", "number": "F-API-1", "account_ref": "C-N",
            "status": "issued", "issued_on": (today - timedelta(days=60)).isoformat(),
            "due_on": (today - timedelta(days=30)).isoformat(), "total": "500.00"}
    made = api.post("/api/v1/invoices", json=body)
    assert made.status_code == 201, made.data[:300]
    _home_matches(client, north.id)
    url = f"/api/v1/invoices/{made.get_json()['id']}"
    paid = api.patch(url, json={"amount_paid": "200"},
                     headers={"If-Match": api.get(url).headers["ETag"]})
    assert paid.status_code == 200, paid.data[:300]
    _home_matches(client, north.id)
    items = [{**body, "external_ref": f"B-{n}", "number": f"F-B-{n}", "total": f"{n}0.10",
              "account_ref": "C-N" if n % 2 else "C-S"} for n in range(1, 7)]
    assert api.post("/api/v1/invoices/bulk", json={"items": items}).status_code == 200
    _home_matches(client, north.id)
    assert _kpi(client, "kpi-unpaid") == "4"  # API-1 and B-1, B-3, B-5; the south's aside
    changed = [{**item, "status": "paid", "amount_paid": item["total"]} for item in items[:3]]
    assert api.post("/api/v1/invoices/bulk", json={"items": changed}).status_code == 200
    _home_matches(client, north.id)
    # DELETE cancels an invoice (never deleted through the API): out of every figure.
    cancelled = api.delete(url, headers={"If-Match": api.get(url).headers["ETag"]})
    assert cancelled.status_code == 200 and api.get(url).get_json()["status"] == "cancelled"
    _home_matches(client, north.id)
    assert _kpi(client, "kpi-unpaid") == "1"  # B-5


def _import(profile, tmp_path, rows: list[tuple[str, str, str, str]], name: str) -> ImportRun:
    """A file of `rows` (ref, customer, status, amount; all due long ago) run as the CLI does."""
    path = tmp_path / name
    path.write_text("\n".join(["Ref;Client;Statut;Echeance;Montant", *[
        f"{ref};{account};{status};2020-01-31;{amount}"
        for ref, account, status, amount in rows]]) + "\n", encoding="utf-8")
    with path.open("rb") as stream:
        created = feeds.create_run(profile, stream, name, source="cli")
    db.session.commit()
    assert runs.run_import(created.id, profile.tenant_id, max_wait=0) is not None
    db.session.expire_all()
    return db.session.get(ImportRun, created.id)


def test_imports_archives_and_reverts_keep_them(world, tmp_path):
    client, north, _south, _mine, _theirs = world
    profile = feeds.create_profile({"name": "factures", "entity": "invoices", "full_sync": True,
                                    "columns": {"Ref": "external_ref",
                                                "Client": "account.external_ref",
                                                "Statut": "status", "Echeance": "due_on",
                                                "Montant": "total"}})
    db.session.commit()
    first = _import(profile, tmp_path, [
        ("I1", "C-N", "issued", "100,00"), ("I2", "C-N", "issued", "250,50"),
        ("I3", "C-S", "issued", "75,00"), ("I4", "C-N", "draft", "9,99")], "a.csv")
    assert first.counts["created"] == 4, first.counts
    _home_matches(client, north.id)
    assert (_kpi(client, "kpi-unpaid"), _kpi(client, "kpi-overdue")) == ("2", "2")
    # The next night: I1 paid, I2 gone (archived by the full sync), I5 new.
    second = _import(profile, tmp_path, [
        ("I1", "C-N", "paid", "100,00"), ("I3", "C-S", "issued", "75,00"),
        ("I4", "C-N", "draft", "9,99"), ("I5", "C-N", "issued", "40,00")], "b.csv")
    assert second.status in ("succeeded", "partial"), second.counts
    assert db.session.scalar(select(Invoice).where(Invoice.external_ref == "I2")).archived_at
    _home_matches(client, north.id)
    assert _kpi(client, "kpi-unpaid") == "1"
    revert_run(second)
    db.session.commit()
    _home_matches(client, north.id)
    assert (_kpi(client, "kpi-unpaid"), _kpi(client, "kpi-overdue")) == ("2", "2")


def test_moving_an_invoice_and_deleting_a_partner_keep_them(world, make_invoice):
    client, north, south, mine, theirs = world
    today = local_day()
    late = {"issued_on": today - timedelta(days=50), "due_on": today - timedelta(days=20)}
    moved = make_invoice(account=mine.id, **late)
    make_invoice(account=mine.id, **late)
    make_invoice(account=theirs.id, **late)
    _home_matches(client, north.id)
    assert _kpi(client, "kpi-overdue") == "2"
    # Given to the south's partner: out of the north's figures, into the south's.
    update_record(db.session.get(Invoice, moved.id), {"partner": south.id})
    db.session.commit()
    _home_matches(client, north.id)
    assert _kpi(client, "kpi-overdue") == "1"
    # The south's partner deleted: his invoices keep their customer, lose their partner.
    delete_record(db.session.get(Partner, south.id))
    db.session.commit()
    _consistent()
    assert not [key for key in _kept() if key[1] == south.id]
    _home_matches(client, north.id)


def test_an_agent_sees_his_partners_figures_in_his_tenant_only(
        world, app, make_invoice, make_user, other_tenant, in_tenant):
    client, north, south, mine, theirs = world
    today = local_day()
    make_invoice(account=mine.id, issued_on=today - timedelta(days=3),
                 due_on=today + timedelta(days=30))
    make_invoice(account=theirs.id, issued_on=today - timedelta(days=3),
                 due_on=today - timedelta(days=1))
    make_invoice(account=mine.id, status="draft", issued_on=today, due_on=today)
    make_invoice(account=mine.id, issued_on=today - timedelta(days=400),
                 due_on=today - timedelta(days=370))  # before the chart's twelve months
    make_invoice(account=mine.id, issued_on=today + timedelta(days=1),
                 due_on=today + timedelta(days=31))  # not issued yet: no month counts it
    def beta_invoices() -> None:
        # Beta's partner may have the north's id in another sequence; never his figures.
        partner = create_record(ENTITIES["partners"], {"name": "Agence Beta"})
        account = create_record(ENTITIES["accounts"], {"name": "Client Beta", "kind": "company",
                                                       "partner": partner.id})
        for n in range(3):
            create_record(ENTITIES["invoices"], {
                "account": account.id, "number": f"F-BETA-{n}", "status": "issued",
                "issued_on": today - timedelta(days=40), "due_on": today - timedelta(days=9),
                "total": Decimal("999")})
        db.session.commit()

    in_tenant(other_tenant, beta_invoices)
    _home_matches(client, north.id)
    assert (_kpi(client, "kpi-unpaid"), _kpi(client, "kpi-overdue")) == ("3", "1")
    south_agent = make_user("agent", partner_id=south.id, email="sud@alpha.example")
    south_client = login(app.test_client(), south_agent)
    south_client.agent = south_agent
    _home_matches(south_client, south.id)
    assert (_kpi(south_client, "kpi-unpaid"), _kpi(south_client, "kpi-overdue")) == ("1", "1")


def test_a_deleted_tenant_leaves_no_figures(world, make_invoice):
    _client, _north, _south, mine, _theirs = world
    make_invoice(account=mine.id)
    tenant_id = mine.tenant_id
    _consistent()

    def erase() -> None:
        delete_tenant_rows(db.session.get(Tenant, tenant_id))
        db.session.commit()

    with tenant_context(tenant_id, SYSTEM):
        erase()
    with all_tenants_unsafe("test: what the tenant left"):
        assert not db.session.scalars(select(PartnerInvoiceFigure).where(
            PartnerInvoiceFigure.tenant_id == tenant_id)).all()
