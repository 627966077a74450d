"""Back-office fixtures: cheap password hashing, custom fields, agents, CSRF, query counts."""
from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import AuditEvent, CustomField, Role, User
from app.services.attachments import add_attachment
from app.services.custom_field_defs import create_field
from tests.conftest import login, page_text

SPACES = str.maketrans({"\u202f": " ", "\xa0": " "})


@pytest.fixture
def make_field(tenant: Any) -> Callable[..., CustomField]:
    """A custom field of the tenant: make_field("invoices", "promoteur", type="text")."""

    def make(entity: str, key: str, **over: Any) -> CustomField:
        data = {"entity": entity, "key": key, "label_fr": over.pop("label_fr", key.title() + " FR"),
                "label_en": over.pop("label_en", key.title() + " EN"), "type": "text",
                "choices": [], "is_required": False, "is_portal_visible": False,
                "position": 0, "is_active": True, **over}
        field = create_field(data)
        db.session.commit()
        return field

    return make


@pytest.fixture
def admin_user(admin_client: FlaskClient) -> User:
    """The admin logged in by admin_client."""
    return db.session.scalar(select(User).where(User.role == Role.ADMIN.value).limit(1))


@pytest.fixture
def agent_client(app: Flask, make_user: Callable[..., User], make_partner: Callable[..., Any]
                 ) -> FlaskClient:
    """An agent of a partner of his own (records of other partners are invisible to him)."""
    partner = make_partner(name="Agence du Nord")
    client = login(app.test_client(), make_user(Role.AGENT.value, partner_id=partner.id))
    client.partner = partner  # type: ignore[attr-defined]
    return client


@pytest.fixture
def csrf_on(app: Flask) -> Iterator[None]:
    """CSRF protection as in production, for the length of one test."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@contextmanager
def count_statements(app: Flask) -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block."""
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def count_rows(model: type, *where: Any) -> int:
    """Rows of a model in the current tenant, read fresh from the database."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def audit_events(entity: str, record_id: int | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    stmt = select(AuditEvent).where(AuditEvent.entity == entity)
    if record_id is not None:
        stmt = stmt.where(AuditEvent.record_id == record_id)
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)))


def text(response: Any) -> str:
    """The visible text of a page, HTML entities decoded (for French apostrophes)."""
    return html.unescape(page_text(response)).translate(SPACES)


def fr(message: str, **values: Any) -> str:
    """A message as a French user reads it (the catalogue's translation, else the source)."""
    with force_locale("fr"):
        return gettext(message, **values).translate(SPACES)


def en(client: FlaskClient) -> FlaskClient:
    """The client's browser asks for English."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def shown_links(response: Any, entity: str) -> list[str]:
    """The first-column texts of a list page's table, in order (what the user sees listed)."""
    page = response.data.decode()
    table = page[page.index('id="records"'):page.index("</table>", page.index('id="records"'))]
    return [html.unescape(t).strip()
            for t in re.findall(rf'<a href="/alpha/{entity}/\d+">([^<]*)</a>', table)]


def result_count(response: Any) -> str:
    match = re.search(r'id="result-count">([^<]*)<', response.data.decode())
    assert match
    return html.unescape(match.group(1)).translate(SPACES).split()[0]


@pytest.fixture
def make_record(make_partner, make_account, make_contact, make_deal, make_quote, make_order,
                make_contract, make_delivery, make_invoice, make_activity) -> Callable[..., Any]:
    """One record of any entity, on a customer and partner of its own (so joins matter)."""

    def make(entity: str, **over: Any) -> Any:
        partner = make_partner()
        if entity == "partners":
            return partner
        account = make_account(partner=partner.id)
        if entity == "accounts":
            return account
        if entity == "attachments":
            invoice = make_invoice(account=account.id)
            attachment = add_attachment(invoice, over.get("file_name", "bon.txt"),
                                        io.BytesIO(b"bon de livraison"))
            db.session.commit()
            return attachment
        factory = {"contacts": make_contact, "deals": make_deal, "quotes": make_quote,
                   "orders": make_order, "contracts": make_contract,
                   "deliveries": make_delivery, "invoices": make_invoice,
                   "activities": make_activity}[entity]
        return factory(account=account.id, **over)

    return make


from tests.exports.servers import sshd  # noqa: E402, F401  (fixture: test_exports.py)
from tests.importers.conftest import make_profile  # noqa: E402, F401  (fixture)
