"""The single write (app/services/records.py) goes through the record writer, beside the ORM:
the object it returns, or was given, reads what was written, lines included, before any
commit; a refused write leaves the transaction usable; records detached by a deletion read
their emptied reference."""
from __future__ import annotations

from decimal import Decimal

import pytest

from app.entities import ENTITIES
from app.errors import ValidationError
from app.extensions import db
from app.services.records import create_record, delete_record, update_record

LINES = [{"label": "Store banne 4 m", "quantity": Decimal(2), "unit_price": Decimal("500")},
         {"label": "Pose", "unit_price": Decimal("150")}]


def test_the_record_reads_what_was_written_before_the_commit(make_account):
    account = make_account()
    quote = create_record(ENTITIES["quotes"], {"account": account.id, "number": "D-1",
                                               "lines": LINES})
    assert [line.label for line in quote.lines] == ["Store banne 4 m", "Pose"]
    assert (quote.total, quote.status, quote.currency) == (Decimal("1380.00"), "draft", "EUR")
    same = update_record(quote, {"status": "sent", "lines": LINES[1:]})
    assert same is quote
    assert [line.label for line in quote.lines] == ["Pose"]
    assert (quote.total, quote.status) == (Decimal("180.00"), "sent")


def test_a_number_already_used_is_a_message_and_the_transaction_goes_on(make_account):
    account = make_account()
    create_record(ENTITIES["invoices"], {"account": account.id, "number": "F-1"})
    with pytest.raises(ValidationError) as refused:
        create_record(ENTITIES["invoices"], {"account": account.id, "number": "F-1"})
    assert list(refused.value.errors) == ["number"]  # "This number is already used."
    other = create_record(ENTITIES["invoices"], {"account": account.id, "number": "F-2"})
    db.session.commit()
    assert other.number == "F-2"


def test_a_record_detached_by_a_deletion_reads_its_emptied_reference(make_account, make_deal,
                                                                      make_quote):
    account = make_account()
    deal = make_deal(account=account.id)
    quote = make_quote(account=account.id, deal=deal.id)
    assert quote.deal is deal
    delete_record(deal)
    assert quote.deal_id is None and quote.deal is None
