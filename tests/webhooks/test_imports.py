"""Imports announce their end (finished or failed) and the records they create, change or
archive, through both writing paths of the feed engine (batch and row by row)."""
from __future__ import annotations

import time

import pytest

from app.services import webhook_outbox
from tests.webhooks.conftest import DELAY, deliveries

ACCOUNTS = {"Code client": "external_ref", "Raison sociale": "name", "Ville": "city"}


@pytest.fixture
def spy(monkeypatch):
    """Which of the bulk helpers the engine called (by key: the batch path)."""
    calls = []
    original = webhook_outbox.enqueue_created

    def enqueue_created(entity, **how):
        calls.append((entity, "key" if how.get("key") else "ids"))
        return original(entity, **how)

    for module in ("importers.engine", "importers.column_import"):
        monkeypatch.setattr(f"{module}.enqueue_created", enqueue_created)
    return calls


def test_an_import_announces_its_records_then_its_end(receiver, make_endpoint, make_profile,
                                                      run_import, feed_file, spy):
    make_endpoint(receiver.url, ["accounts.created", "accounts.updated", "import.finished"])
    profile = make_profile("accounts", ACCOUNTS, name="clients-nuit")
    run = run_import(profile, feed_file("Code client;Raison sociale;Ville\n"
                                        "C1;Stores Dupont;Lyon\nC2;Volets Martin;Nice\n"))
    assert run.status == "succeeded"
    assert spy == [("accounts", "key")]  # the batch path

    receiver.wait(3)
    events = [(c.event, c.json["data"].get("after", {}) and c.json["data"]["after"].get("name"))
              for c in receiver.delivered()]
    assert sorted(events[:2]) == [("accounts.created", "Stores Dupont"),
                                  ("accounts.created", "Volets Martin")]
    assert events[2][0] == "import.finished"
    end = receiver.delivered("import.finished")[0].json
    assert end["data"]["id"] == run.id and end["data"]["profile"] == "clients-nuit"
    assert (end["data"]["status"], end["data"]["created"], end["data"]["failed"]) == (
        "succeeded", 2, 0)
    assert end["actor"]["kind"] == "feed"

    run_import(profile, feed_file("Code client;Raison sociale;Ville\n"
                                  "C1;Stores Dupont;Lyon\nC2;Volets Martin;Nantes\n",
                                  name="j2.csv"))
    [update] = receiver.wait(1, "accounts.updated")
    assert update.json["data"]["before"]["city"] == "Nice"
    assert update.json["data"]["after"]["city"] == "Nantes"
    receiver.wait(2, "import.finished")


def test_documents_with_lines_are_announced_by_the_row_path(
        receiver, make_endpoint, make_profile, run_import, feed_file, make_account, spy):
    make_account(external_ref="C1")
    make_endpoint(receiver.url, ["invoices.created"])
    profile = make_profile("invoices", {
        "N°": "number", "Client": "account.external_ref", "Libellé": "lines.label",
        "Qté": "lines.quantity", "PU": "lines.unit_price"}, key="number")
    run_import(profile, feed_file("N°;Client;Libellé;Qté;PU\nF1;C1;Store;1;100\n"
                                  "F1;C1;Pose;1;50\n"))
    assert spy == [("invoices", "ids")]

    [call] = receiver.wait()
    after = call.json["data"]["after"]
    assert after["number"] == "F1" and [line["label"] for line in after["lines"]] == [
        "Store", "Pose"]


def test_full_sync_archives_are_updates(receiver, make_endpoint, make_profile, run_import,
                                        feed_file):
    make_endpoint(receiver.url, ["accounts.updated"])
    profile = make_profile("accounts", ACCOUNTS, full_sync=True)
    run_import(profile, feed_file("Code client;Raison sociale;Ville\nC1;A;Lyon\nC2;B;Nice\n"))
    run_import(profile, feed_file("Code client;Raison sociale;Ville\nC1;A;Lyon\n",
                                  name="j2.csv"))
    [call] = receiver.wait()
    assert call.json["data"]["before"] == {"archived_at": None}
    assert call.json["data"]["after"]["archived_at"]


def test_a_failed_import_is_announced_and_a_dry_run_is_not(
        receiver, make_endpoint, make_profile, run_import, feed_file):
    make_endpoint(receiver.url, ["import.finished", "import.failed", "accounts.created"])
    profile = make_profile("accounts", ACCOUNTS)
    failed = run_import(profile, feed_file("Nom;Ville\nA;Lyon\n"))  # no key column
    assert failed.status == "failed"
    [call] = receiver.wait(1, "import.failed")
    assert call.json["data"]["id"] == failed.id and call.json["data"]["message"]

    run_import(profile, feed_file("Code client;Raison sociale;Ville\nC1;A;Lyon\n",
                                  name="dry.csv"), dry_run=True)
    time.sleep(3 * DELAY)
    assert [c.event for c in receiver.calls] == ["import.failed"]
    assert len(deliveries()) == 1


def test_imports_queue_nothing_without_a_subscriber(receiver, make_endpoint, make_profile,
                                                   run_import, feed_file):
    make_endpoint(receiver.url, ["invoices.deleted"])
    run_import(make_profile("accounts", ACCOUNTS),
               feed_file("Code client;Raison sociale;Ville\nC1;A;Lyon\n"))
    assert deliveries() == []
