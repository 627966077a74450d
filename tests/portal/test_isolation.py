"""The extranet's isolation matrix: no user reaches, lists, exports or answers anything that is
not his, across partners, accounts and tenants, and staff-only custom values never show.

Two tenants; in each, partner 1 with accounts 1 and 2, partner 2 with account 3; an agent per
partner and a subscriber per account. Each account has a "bundle" of records of every extranet
entity (lines, files, custom values) whose every text carries the bundle's token, and amounts of
its own: a page shows a token or an amount only when its user may see that bundle.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Quote
from app.services.attachments import add_attachment
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from tests.conftest import page_text
from tests.portal.conftest import portal_login

ENTITIES = ("accounts", "deals", "contracts", "quotes", "orders", "deliveries", "invoices")
ROLE_ENTITIES = {"agent": set(ENTITIES),
                 "subscriber": {"contracts", "quotes", "orders", "deliveries", "invoices"}}
# Per tenant: (partner token, [account tokens]); tokens are words no page contains otherwise.
LAYOUT = {
    "alpha": (("kestrel", ("quaxo", "wimbo")), ("vortan", ("yzzar",))),
    "beta": (("mylox", ("plonk", "grivx")), ("brenz", ("tazmo",))),
}
# Never shown to anyone in the extranet: staff-only custom values and label, the sales owner.
NEVER = ("secretcf", "marge cach", "okapi")
USERS = [f"{slug}-{kind}-{token}" for slug, partners in LAYOUT.items()
         for partner, accounts in partners
         for kind, token in (("agent", partner), *(("subscriber", a) for a in accounts))]


@dataclass
class Record:
    slug: str
    entity: str
    id: int
    bundle: str  # the token of the account whose record it is


@dataclass
class World:
    records: list[Record] = field(default_factory=list)
    attachments: list[Record] = field(default_factory=list)
    users: dict[str, Any] = field(default_factory=dict)  # label -> (slug, role, user, bundles)
    amounts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # bundle -> texts
    partner_of: dict[str, str] = field(default_factory=dict)  # bundle -> partner token


def _amount_texts(value: Decimal) -> tuple[str, ...]:
    """How an amount reads on a French page (1 234,56) and in a CSV export (1234,56)."""
    plain = format(value, "f").replace(".", ",")
    whole, cents = plain.split(",")
    grouped = f"{int(whole):,}".replace(",", " ") + "," + cents
    return plain, grouped


def _bundle(world: World, slug: str, token: str, price: Decimal, account: Any, partner: Any,
            f: dict[str, Any]) -> dict[str, Any]:
    """The records of one account, every text carrying the token, every amount its own."""
    upper = token.upper()
    line = [{"label": f"Ligne {token}", "sku": f"SKU-{upper}", "quantity": Decimal("1"),
             "unit_price": price, "tax_rate": Decimal("20")}]

    def custom(entity: str) -> dict[str, str]:
        return {"zone": f"visiblecf {token}", "marge": f"secretcf {token}"}

    ids = {"accounts": account.id}
    deal = f["deal"](title=f"Affaire {token}", account=account.id, amount=price,
                     custom=custom("deals"))
    quote = f["quote"](number=f"DV-{upper}", account=account.id, deal=deal.id, status="sent",
                       lines=line, custom=custom("quotes"))
    order = f["order"](number=f"CM-{upper}", account=account.id, quote=quote.id, lines=line,
                       custom=custom("orders"))
    made = {
        "deals": deal, "quotes": quote, "orders": order,
        "contracts": f["contract"](number=f"CT-{upper}", title=f"Contrat {token}",
                                   account=account.id, recurring_amount=price,
                                   custom=custom("contracts")),
        "deliveries": f["delivery"](number=f"BL-{upper}", account=account.id, order=order.id,
                                    carrier=f"Transport {token}", tracking_number=f"TRK{upper}",
                                    custom=custom("deliveries")),
        "invoices": f["invoice"](number=f"FA-{upper}", account=account.id, order=order.id,
                                 lines=line, custom=custom("invoices")),
    }
    ids.update({name: record.id for name, record in made.items()})
    for name in ("accounts", "quotes", "invoices"):
        target = account if name == "accounts" else made[name]
        attachment = add_attachment(target, f"piece-{token}-{name}.txt",
                                    io.BytesIO(f"contenu {token}".encode()))
        world.attachments.append(Record(slug, "attachments", attachment.id, token))
    db.session.commit()
    for name, record_id in ids.items():
        world.records.append(Record(slug, name, record_id, token))
    world.amounts[token] = _amount_texts(price) + _amount_texts(price * Decimal("1.2"))
    world.partner_of[token] = partner
    return made


def _tenant(world: World, slug: str, index: int, f: dict[str, Any]) -> None:
    for entity in ENTITIES:
        f["field"](entity, "zone", is_portal_visible=True, label_fr="Zone visible")
        f["field"](entity, "marge", label_fr="Marge cachée")
    owner = f["user"]("sales", email=f"okapi.{slug}@example.com", full_name="Vendeur Okapi")
    bundles: dict[str, dict[str, Any]] = {}
    for partner_token, accounts in LAYOUT[slug]:
        partner = f["partner"](name=f"Agence {partner_token}")
        agent = f["user"]("agent", email=f"agent.{partner_token}@example.com",
                          partner_id=partner.id)
        world.users[f"{slug}-agent-{partner_token}"] = (slug, "agent", agent, set(accounts))
        for token in accounts:
            index += 1
            account = f["account"](name=f"Client {token}", partner=partner.id, owner=owner.id,
                                   custom={"zone": f"visiblecf {token}",
                                           "marge": f"secretcf {token}"})
            subscriber = f["user"]("subscriber", email=f"abonne.{token}@example.com",
                                   account_id=account.id)
            world.users[f"{slug}-subscriber-{token}"] = (slug, "subscriber", subscriber, {token})
            price = Decimal("7000.00") + Decimal("111.11") * index
            bundles[token] = _bundle(world, slug, token, price, account, partner_token, f)
    # Records wrongly tied across customers and partners (as a feed may do): an invoice of the
    # second account on the first account's order, a quote of partner 2 on partner 1's deal.
    first, second, third = (token for _, accounts in LAYOUT[slug] for token in accounts)
    accounts_by_token = {r.bundle: r.id for r in world.records
                         if r.slug == slug and r.entity == "accounts"}
    upper = second.upper()
    cross = f["invoice"](number=f"FA-{upper}-X", account=accounts_by_token[second],
                         order=bundles[first]["orders"].id)
    world.records.append(Record(slug, "invoices", cross.id, second))
    cross = f["quote"](number=f"DV-{third.upper()}-X", account=accounts_by_token[third],
                       deal=bundles[first]["deals"].id, status="sent")
    world.records.append(Record(slug, "quotes", cross.id, third))


@pytest.fixture
def world(tenant, other_tenant, make_user, make_partner, make_account, make_deal, make_quote,
          make_order, make_contract, make_delivery, make_invoice, make_field) -> World:
    f = {"user": make_user, "partner": make_partner, "account": make_account, "deal": make_deal,
         "quote": make_quote, "order": make_order, "contract": make_contract,
         "delivery": make_delivery, "invoice": make_invoice, "field": make_field}
    built = World()
    _tenant(built, "alpha", 0, f)
    with tenant_context(other_tenant.id, SYSTEM):
        _tenant(built, "beta", 3, f)
        # Read and detached in their tenant: back in alpha, PostgreSQL's row-level security
        # would hide their rows from the refresh that a later commit makes necessary.
        for slug, _role, user, _bundles in built.users.values():
            if slug == "beta":
                db.session.refresh(user)
                db.session.expunge(user)
    return built


def _forbidden(world: World, slug: str, role: str, bundles: set[str]) -> list[str]:
    """Every text this user must never read: other bundles' tokens and amounts, other
    partners (every partner, for a subscriber), staff-only values."""
    own_partners = {world.partner_of[b] for b in bundles} if role == "agent" else set()
    texts = list(NEVER)
    for bundle, amounts in world.amounts.items():
        if bundle not in bundles:
            texts += [bundle, *amounts]
    texts += [p for p in set(world.partner_of.values()) if p not in own_partners]
    return texts


def _clean(body: str, forbidden: list[str], where: str) -> None:
    lowered = body.lower()
    leaks = [t for t in forbidden if t in lowered]
    assert not leaks, f"{where} shows {leaks}"


@pytest.mark.parametrize("label", USERS)
def test_isolation_matrix(app, world, label):
    slug, role, user, bundles = world.users[label]
    client = portal_login(app.test_client(), user, slug)
    forbidden = _forbidden(world, slug, role, bundles)
    menu = ROLE_ENTITIES[role]
    other_slug = "beta" if slug == "alpha" else "alpha"

    def check(url: str, status: int, method: str = "get", echo: str = "", **kwargs: Any) -> str:
        response = getattr(client, method)(url, **kwargs)
        assert response.status_code == status, f"{label}: {method} {url}"
        body = response.data.decode("utf-8-sig")
        if echo:  # the search box and the links keep what the user typed: that is no leak
            body = body.replace(f'value="{echo}"', "").replace(f"q={echo}", "") \
                .replace(f"q%3D{echo}", "")
        _clean(page_text(response) if response.mimetype == "text/html" else body, forbidden,
               f"{label}: {method} {url}")
        _clean(body, forbidden, f"{label}: {method} {url} (source)")
        return body

    # Lists and exports: only the user's own bundles, whatever the search or filter asks.
    foreign_accounts = [r.id for r in world.records
                        if r.entity == "accounts" and r.bundle not in bundles]
    for entity in ENTITIES:
        status = 200 if entity in menu else 404
        export_status = status if role == "agent" else 404  # subscribers have no export
        page = check(f"/{slug}/portal/{entity}/", status)
        csv = check(f"/{slug}/portal/{entity}/export.csv", export_status)
        if status == 200:
            for bundle in bundles:  # the matrix sees what it must, so its silence means something
                assert bundle in page.lower(), f"{label}: {entity}"
                assert export_status == 404 or bundle in csv.lower(), f"{label}: {entity}"
        for bundle in world.amounts:
            check(f"/{slug}/portal/{entity}/?q={bundle}", status, echo=bundle)
        for account_id in foreign_accounts:
            check(f"/{slug}/portal/{entity}/?account={account_id}&archived=1", status)
            check(f"/{slug}/portal/{entity}/export.csv?account={account_id}", export_status)

    # Detail pages: every record of the world, by its id, under the user's tenant and the other.
    for record in world.records:
        mine = record.slug == slug and record.bundle in bundles and record.entity in menu
        check(f"/{slug}/portal/{record.entity}/{record.id}", 200 if mine else 404)
        check(f"/{other_slug}/portal/{record.entity}/{record.id}", 302)

    # Files: through visibility only.
    for attachment in world.attachments:
        mine = attachment.slug == slug and attachment.bundle in bundles
        body = check(f"/{slug}/portal/attachments/{attachment.id}/download", 200 if mine else 404)
        assert ("contenu" in body) == mine
        check(f"/{other_slug}/portal/attachments/{attachment.id}/download", 302)

    # Answers: no quote but the user's own can be answered, and nothing changes.
    for record in world.records:
        if record.entity != "quotes" or (record.slug == slug and record.bundle in bundles):
            continue
        check(f"/{slug}/portal/quotes/{record.id}/answer", 404, "post",
              data={"decision": "accept", "comment": "pirate"})
        check(f"/{other_slug}/portal/quotes/{record.id}/answer", 302, "post",
              data={"decision": "refuse", "comment": "pirate"})
    with all_tenants_unsafe("tests"):
        db.session.expire_all()
        statuses = set(db.session.scalars(select(Quote.status)))
        comments = set(db.session.scalars(select(Quote.answer_comment)))
    assert statuses == {"sent"} and comments == {None}
