"""The goes of one file and their revert: a run cut short, then a dry run of the same file,
or a second go that stopped where the first did and wrote nothing: the first go's records can
still be undone (through its last go when that one can be reverted, else by itself)."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask_babel import gettext

from app.errors import ValidationError
from app.extensions import db
from app.models import ImportRun
from app.queries.feeds import find_profile
from app.services import feeds, import_revert
from app.tenancy import tenant_context
from importers import engine as engine_module
from importers import runs
from tests.importers.conftest import by_key

INVOICE_COLUMNS = {"Réf": "external_ref", "N° facture": "number",
                   "Code client": "account.external_ref", "Total TTC": "total"}
INVOICE_HEADER = "Réf;N° facture;Code client;Total TTC\n"


def _invoice_rows(count: int) -> str:
    return "".join(f"R-{n:04d};FA-{n:04d};C{n % 3};1 234,{n % 100:02d}\n"
                   for n in range(count))


def _stopped_at_the_limit(app, make_account, make_profile, feed_file, run_import,
                          monkeypatch) -> ImportRun:
    """A 20-row file's first go, stopped by the tenant's limit of 8 rows (batches of 4)."""
    monkeypatch.setattr(engine_module, "BATCH_ROWS", 4)
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 8)
    for n in range(3):
        make_account(external_ref=f"C{n}", name=f"Client {n}")
    profile = make_profile("invoices", INVOICE_COLUMNS, name="factures-nuit")
    return run_import(profile, feed_file(INVOICE_HEADER + _invoice_rows(20), name="n.csv"))


def _run_again(tenant, run: ImportRun) -> ImportRun:
    """"Run again" of a run cut short, run to its end."""
    later = feeds.rerun(run)
    db.session.commit()
    runs.run_import(later.id, tenant.id, max_wait=0)
    db.session.expire_all()
    return db.session.get(ImportRun, later.id)


def _failed_part_way(tenant, path: Path, run: ImportRun | None = None) -> ImportRun:
    """The file's first go (or `run`), stopped by an error after 8 rows (committed in
    batches of 4), as a file that fails each time at the same row does."""
    if run is None:
        with path.open("rb") as stream:
            run = feeds.create_run(find_profile("factures-nuit"), stream, path.name,
                                   source="cli")
        db.session.commit()
    assert runs.claim(run)

    def progress(current: ImportRun) -> None:
        if current.rows_done >= 8:
            raise RuntimeError("disk full")

    with tenant_context(tenant.id, runs.feed_actor(run)):
        assert runs.execute_run(run, progress).status == "failed"
    db.session.rollback()
    return db.session.get(ImportRun, run.id)


def test_a_dry_run_of_the_same_file_does_not_make_a_cut_short_run_unrevertible(
        tenant, make_account, make_profile, feed_file, run_import, admin_client, monkeypatch):
    """A dry run of the file after a failed go (the admin checks the file before sending it
    again) wrote nothing: it is not the go that took the file up, and the failed go's revert
    is not refused for it."""
    monkeypatch.setattr(engine_module, "BATCH_ROWS", 4)
    for n in range(3):
        make_account(external_ref=f"C{n}", name=f"Client {n}")
    profile = make_profile("invoices", INVOICE_COLUMNS, name="factures-nuit")
    path = feed_file(INVOICE_HEADER + _invoice_rows(20), name="nuit.csv")
    failed = _failed_part_way(tenant, path)
    assert failed.can_revert and len(by_key("invoices")) == 8
    dry = run_import(profile, path, dry_run=True)
    assert dry.is_dry_run and dry.status == "succeeded"

    failed = db.session.get(ImportRun, failed.id)
    page = admin_client.get(f"/alpha/feeds/runs/{failed.id}",
                            headers={"Accept-Language": "en"}).get_data(as_text=True)
    try:
        plan = import_revert.plan_revert(failed)
    except ValidationError as exc:
        pytest.fail(f"the revert of #{failed.id} is refused after dry run #{dry.id}: "
                    f"{exc.errors}")
    assert len(plan.deleted) == 8
    assert "Revert this run" in page and 'id="taken-up"' not in page


def test_a_cut_short_run_taken_up_by_a_go_that_wrote_nothing_can_still_be_reverted(
        app, tenant, make_account, make_profile, feed_file, run_import, admin_client,
        monkeypatch):
    """A file that fails at the same row each time (here one row more than the tenant's
    limit; a file that kills its worker, run again by the recovery, does the same): its
    first go writes 8 invoices, then "Run again" finds those 8 unchanged and fails at the
    same row, writing nothing. That second go cannot be reverted: the first one can, alone,
    and takes its 8 invoices out."""
    first = _stopped_at_the_limit(app, make_account, make_profile, feed_file, run_import,
                                  monkeypatch)
    assert first.status == "failed" and first.created == 8 and first.can_revert
    again = _run_again(tenant, first)
    assert again.status == "failed" and (again.created, again.updated) == (0, 0)

    first = db.session.get(ImportRun, first.id)
    pointed = import_revert.later_go(first) or first
    page = admin_client.get(f"/alpha/feeds/runs/{pointed.id}",
                            headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert pointed.can_revert, (
        f"run #{first.id}'s revert is refused for #{pointed.id}, which cannot be reverted")
    assert "Revert this run" in page
    assert len(import_revert.plan_revert(pointed).deleted) == 8


def test_a_first_go_is_reverted_through_the_last_go_that_wrote_records(
        app, tenant, make_account, make_profile, feed_file, run_import, admin_client,
        monkeypatch):
    """Three goes of one file: the first writes 8 invoices and stops (the tenant's row
    limit), the second ("Run again", the limit raised to 12) 4 more, the third ("Run again"
    once more) stops where the second did and writes nothing. Reverting the first alone
    leaves the second's 4 invoices in: its page must point to the second go, whose revert
    undoes both; the third, which cannot be reverted, is no reason to offer the first's
    revert alone."""
    first = _stopped_at_the_limit(app, make_account, make_profile, feed_file, run_import,
                                  monkeypatch)
    assert first.status == "failed" and first.created == 8
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 12)
    second = _run_again(tenant, first)
    assert second.status == "failed" and (second.created, second.updated) == (4, 0)
    third = _run_again(tenant, second)
    assert third.status == "failed" and (third.created, third.updated) == (0, 0)
    assert len(by_key("invoices")) == 12

    first = db.session.get(ImportRun, first.id)
    page = admin_client.get(f"/alpha/feeds/runs/{first.id}",
                            headers={"Accept-Language": "en"}).get_data(as_text=True)
    later = import_revert.later_go(first)
    assert later is not None and later.id == second.id, (
        f"run #{first.id} (8 invoices) offered for revert alone: #{second.id} took its file "
        f"up and wrote 4 more; later_go gives {later and later.id}")
    assert 'id="taken-up"' in page
    with pytest.raises(ValidationError):
        import_revert.plan_revert(first)


def test_no_go_of_a_file_is_reverted_while_a_later_go_is_still_to_run(
        app, tenant, make_account, make_profile, feed_file, run_import, monkeypatch):
    """The first go writes 8 invoices, the second 4 more, the third ("Run again") is queued:
    reverting the first two now, the third would import the file again once it runs. Both
    reverts are refused, naming the go under way."""
    first = _stopped_at_the_limit(app, make_account, make_profile, feed_file, run_import,
                                  monkeypatch)
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 12)
    second = _run_again(tenant, first)
    assert second.status == "failed" and second.created == 4
    third = feeds.rerun(second)  # queued, not started yet
    db.session.commit()
    assert third.status == "queued"
    for run in (first, second):
        run = db.session.get(ImportRun, run.id)
        assert import_revert.later_go(run).id == third.id
        for attempt in (import_revert.plan_revert, import_revert.request_revert):
            with pytest.raises(ValidationError) as refused:
                attempt(run)
            assert refused.value.errors[""] == gettext(
                "Import #%(id)d is taking this file up again: revert once it has finished.",
                id=third.id)
    assert len(by_key("invoices")) == 12  # nothing was undone
    runs.run_import(third.id, tenant.id, max_wait=0)
    db.session.expire_all()
    assert import_revert.later_go(db.session.get(ImportRun, first.id)).id == second.id
