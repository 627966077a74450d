"""A run killed in the middle: marked interrupted, its profile released, and re-running it gives
exactly the state one clean run gives — with a real `flask feed import` process killed by
SIGKILL, and in-process with a run that dies between two batches."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, ImportRun, Invoice, InvoiceLine
from app.queries.feeds import find_profile
from app.services import feeds
from app.tenancy import SYSTEM, tenant_context
from importers import engine, recovery, runs
from tests.conftest import owner_engine
from tests.importers.conftest import by_key

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 300
COLUMNS = {"N° facture": "number", "Code client": "account.external_ref",
           "Date": "issued_on", "Statut": "status", "Réf article": "lines.sku",
           "Désignation": "lines.label", "Qté": "lines.quantity", "PU HT": "lines.unit_price",
           "TVA": "lines.tax_rate"}


def invoice_file(path: Path, documents: int) -> Path:
    """The nightly invoice export: cp1252, `;`, French dates and amounts, two lines each."""
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write("N° facture;Code client;Date;Statut;Réf article;Désignation;Qté;PU HT;TVA\r\n")
        for n in range(documents):
            number, account, day = f"F-{n:06d}", f"C{n % ACCOUNTS:04d}", 1 + n % 28
            out.write(f"{number};{account};{day:02d}/10/2026;Émise;SB-{n % 7};"
                      f"Store banne n°{n};1;1 234,{n % 100:02d};20\r\n")
            out.write(f"{number};{account};{day:02d}/10/2026;Émise;POSE;Pose et réglage;"
                      f"{1 + n % 3};85,50;10\r\n")
    return path


def set_up_tenant(tenant_id: int, tmp_path: Path, run_import, make_profile) -> None:
    """The tenant's customers and its invoice profile, committed (other processes read them)."""
    with tenant_context(tenant_id, SYSTEM):
        customers = tmp_path / f"clients-{tenant_id}.csv"
        customers.write_text("Code client;Raison sociale\n" + "".join(
            f"C{n:04d};Client n°{n}\n" for n in range(ACCOUNTS)), encoding="cp1252")
        profile = make_profile("accounts", {"Code client": "external_ref",
                                            "Raison sociale": "name"})
        assert run_import(profile, customers, tenant_id=tenant_id).counts["created"] == ACCOUNTS
        make_profile("invoices", COLUMNS, name="factures-nuit", key="number")


def fresh_statistics() -> None:
    """PostgreSQL plans by its statistics, stale right after a bulk load (autovacuum lags);
    only the tables' owner may gather them."""
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with owner_engine(current_app).connect() as connection:
            connection.exec_driver_sql("ANALYZE accounts, invoices, invoice_lines")


def tenant_state(tenant_id: int) -> tuple[list[tuple], list[tuple]]:
    """Every invoice and every line of a tenant, by number: what a tenant would compare."""
    with tenant_context(tenant_id, SYSTEM):
        invoices = db.session.execute(
            select(Invoice.number, Account.external_ref, Invoice.issued_on, Invoice.status,
                   Invoice.total_excl_tax, Invoice.tax_total, Invoice.total,
                   Invoice.archived_at).join(Account, Invoice.account_id == Account.id)
            .order_by(Invoice.number)).all()
        lines = db.session.execute(
            select(Invoice.number, InvoiceLine.position, InvoiceLine.sku, InvoiceLine.label,
                   InvoiceLine.quantity, InvoiceLine.unit_price, InvoiceLine.tax_rate)
            .join(Invoice, InvoiceLine.invoice_id == Invoice.id)
            .order_by(Invoice.number, InvoiceLine.position)).all()
    return [tuple(row) for row in invoices], [tuple(row) for row in lines]


def clean_run_state(other_tenant, path: Path, tmp_path, run_import, make_profile):
    set_up_tenant(other_tenant.id, tmp_path, run_import, make_profile)
    with tenant_context(other_tenant.id, SYSTEM):
        profile = find_profile("factures-nuit")
        clean = run_import(profile, path, tenant_id=other_tenant.id)
        assert clean.status == "succeeded" and clean.counts["failed"] == 0
    fresh_statistics()
    return tenant_state(other_tenant.id)


def assert_rerun_equals_a_clean_run(tenant, other_tenant, interrupted: ImportRun, path,
                                    documents, tmp_path, run_import, make_profile) -> None:
    again = feeds.rerun(interrupted)
    db.session.commit()
    assert again.is_forced and again.sha256 == interrupted.sha256
    done = runs.run_import(again.id, tenant.id, max_wait=0)
    assert done.status == "succeeded", done.message
    assert done.counts["created"] + done.counts["unchanged"] == documents
    assert 0 < done.counts["unchanged"] and done.counts["failed"] == 0
    fresh_statistics()
    state = tenant_state(tenant.id)
    assert len(state[0]) == documents and len(state[1]) == 2 * documents
    assert state == clean_run_state(other_tenant, path, tmp_path, run_import, make_profile)


def test_a_killed_flask_feed_import_reruns_to_the_state_of_one_clean_run(
        app, tenant, other_tenant, tmp_path, run_import, make_profile, monkeypatch):
    documents = 15_000  # 30,000 rows: many batches, so the kill lands mid-run
    set_up_tenant(tenant.id, tmp_path, run_import, make_profile)
    path = invoice_file(tmp_path / "factures.csv", documents)
    db.session.commit()
    env = {**os.environ, "FLASK_APP": "wsgi.py", "SECRET_KEY": "test-secret",
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "FILES_DIR": app.config["FILES_DIR"], "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "flask.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "feed", "import", str(path), "--tenant", "alpha",
         "--profile", "factures-nuit"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            db.session.rollback()  # a fresh snapshot at each look
            run = db.session.scalar(select(ImportRun).where(ImportRun.file_name == path.name))
            if run is not None and run.rows_done > 0:
                break
            assert process.poll() is None, (tmp_path / "flask.log").read_text()
            assert time.monotonic() < deadline, "the import never showed progress"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        log.close()
    assert process.returncode == -signal.SIGKILL
    db.session.rollback()
    run = db.session.get(ImportRun, run.id)
    assert run.status == "running" and 0 < run.rows_done < 2 * documents, \
        "the run ended before the kill: make the file bigger"
    kept = db.session.scalar(select(func.count()).select_from(Invoice))
    assert 0 < kept < documents  # committed batches stay
    assert runs.holder(run) == run.id  # a dead process still holds the profile
    fresh_statistics()

    # Its heartbeat is fresh, but its process is gone: recovered at once, no restart needed.
    assert recovery.recover_interrupted_runs() == 1
    db.session.expire_all()
    assert run.status == "interrupted" and run.finished_at is not None
    assert runs.holder(run) is None
    assert_rerun_equals_a_clean_run(tenant, other_tenant, run, path, documents, tmp_path,
                                    run_import, make_profile)


class ProcessDied(BaseException):
    """Stands for the process stopping between two batches (not an error the engine catches)."""


def test_a_run_dying_between_batches_reruns_to_the_state_of_one_clean_run(
        tenant, other_tenant, tmp_path, run_import, make_profile, monkeypatch):
    documents = 40
    monkeypatch.setattr(engine, "BATCH_ROWS", 6)
    set_up_tenant(tenant.id, tmp_path, run_import, make_profile)
    path = invoice_file(tmp_path / "factures.csv", documents)
    profile = find_profile("factures-nuit")
    with path.open("rb") as stream:
        run = feeds.create_run(profile, stream, path.name, source="cli")
    db.session.commit()
    assert runs.claim(run)

    def progress(current: ImportRun) -> None:
        if current.rows_done >= 24:
            raise ProcessDied

    with tenant_context(tenant.id, runs.feed_actor(run)), pytest.raises(ProcessDied):
        runs.execute_run(run, progress)
    db.session.rollback()
    assert len(by_key("invoices", "number")) == 12
    with path.open("rb") as stream:
        second = feeds.create_run(profile, stream, "encore.csv", source="cli", force=True)
    db.session.commit()
    assert runs.run_import(second.id, tenant.id, max_wait=0).status == "queued"

    # The dead run (this process's, no longer held by it) and the one queued behind it.
    assert recovery.recover_interrupted_runs(stale_seconds=0) == 2
    db.session.expire_all()
    assert (run.status, second.status) == ("interrupted", "interrupted")
    assert_rerun_equals_a_clean_run(tenant, other_tenant, run, path, documents, tmp_path,
                                    run_import, make_profile)
