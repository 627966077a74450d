"""What the subscription tests share: a tenant selling a published offer, the details a
customer types, and the code read from the mail he receives."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from app.extensions import db
from app.models import Offer
from app.services.custom_field_defs import create_field
from app.services.offers import create_offer, set_creditor
from tests.selling.test_offers_api import CREDITOR

TEMPLATE = ("Entre {{ creditor.name }} et {{ customer.name }}, {{ customer.address }}.\n\n"
            "{{ customer.name }} souscrit à {{ offer.name }} pour {{ offer.price }} "
            "({{ offer.recurrence }}), mandat {{ mandate.reference }}.")
DETAILS = {"first_name": "Hélène", "last_name": "Dupré", "street": "Avenue des Châtaigniers",
           "building_number": "4", "postal_code": "69003", "town": "Lyon", "country": "FR",
           "email": "helene@example.com", "phone": "",
           "iban": "FR76 3000 6000 0112 3456 7890 189", "bic": "", "custom.plaque": "AB-123-CD"}


def selling(**offer: Any) -> Offer:
    """The current tenant's creditor and a published badge offer collecting a plate."""
    set_creditor({**CREDITOR, "name": "Telepeage Services"})
    create_field({"entity": "accounts", "key": "plaque", "label_fr": "Plaque",
                  "label_en": "Plate", "type": "text", "is_required": True})
    made = create_offer({
        "code": "badge", "name": "Badge mensuel", "price": Decimal("2.50"),
        "recurrence": "monthly", "contract_template": TEMPLATE, "collected_fields": ["plaque"],
        "fulfilment_sku": "BADGE-V1", "fulfilment_quantity": 1, "is_published": True,
        **offer})
    db.session.commit()
    return made


def code_from(inbox: Any) -> str:
    """The six-digit code of the last signature mail."""
    for message in reversed(inbox.messages):
        if "signature" in message["Subject"].lower():
            body = message.get_body(("plain",)).get_content()
            return re.search(r"\b(\d{6})\b", body).group(1)
    raise AssertionError("no signature code mail")


class RecordingSms:
    """An SMS gateway (ESIGN_SMS_SENDER) that keeps what it was given to send."""

    sent: list[tuple[str, str]] = []

    def __init__(self, config: Any) -> None:
        self.config = config

    def send(self, phone: str, text: str) -> None:
        RecordingSms.sent.append((phone, text))


def texts_sent(inbox: Any) -> list[tuple[str, str]]:
    """The SMS sent so far: texts leave from the outbox after their commit, as mails do, so
    this waits as the inbox does for what was queued."""
    inbox.messages  # noqa: B018 - waits until no message awaits its first attempt
    return RecordingSms.sent
