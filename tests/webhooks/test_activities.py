"""Activities announce themselves like every record: created, updated, deleted."""
from __future__ import annotations

from app.extensions import db
from app.services.activities import log_call, mark_done
from app.services.records import delete_record


def test_an_activity_is_announced_when_created_updated_and_deleted(
        receiver, make_endpoint, make_account):
    make_endpoint(receiver.url, ["activities.created", "activities.updated",
                                 "activities.deleted"])
    account = make_account(name="Stores Dupont")
    call = log_call(account)
    db.session.commit()
    mark_done(call, False)
    db.session.commit()
    delete_record(call)
    db.session.commit()
    calls = receiver.wait(3)
    assert [c.json["event"] for c in calls] == ["activities.created", "activities.updated",
                                                 "activities.deleted"]
    created = calls[0].json["data"]
    assert created["after"]["kind"] == "call" and created["after"]["account_id"] == account.id
