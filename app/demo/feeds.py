"""The demo tenant's feeds: three weeks of nightly runs, so that the feeds' health page shows a
working set-up on the first `make run`.

- "Clients – import nocturne": the ERP's customers every weekday by 06:30, three weeks of
  runs, one of them partial (two rows with an e-mail address the ERP let through);
- "Partenaires – annuaire": expected every day by 07:00, its last file three days ago: late,
  red on the health page;
- "CV candidats (ZIP)": a ZIP archive of CVs (Word files) whose rows create contacts with
  their position sought and availability, each CV attached and searchable;
- the SFTP account `demo.erp-nuit` (password `demo-sftp-2026`, README.md "Try the SFTP
  inbox"), whose routes lead `clients/*.csv`, `partenaires/*.csv` and `*.zip` to the three
  feeds above;
- the export "Factures – comptabilité": the invoices, as French accounting software reads
  them, into that account's `outbox/` every weekday at 05:00, changes only; run once.

The runs go through the real engine (importers/runs.py) on files made here, then are dated
back to the night they stand for.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Account, ImportProfile
from app.services import exports, feed_accounts, feed_alerts, feed_storage, feeds
from app.services.custom_field_defs import create_field
from app.tenancy import current_tenant_id
from importers import export_runs, runs

CUSTOMERS = {
    "name": "Clients – import nocturne",
    "entity": "accounts",
    "columns": {
        "Code client": "external_ref",
        "Raison sociale": "name",
        "E-mail": "email",
        "CP": "postal_code",
        "Ville": "city",
    },
}
PARTNERS = {
    "name": "Partenaires – annuaire",
    "entity": "partners",
    "columns": {"Code": "external_ref", "Nom": "name", "Mail": "email"},
}
CVS = {
    "name": "CV candidats (ZIP)",
    "entity": "contacts",
    "columns": {
        "Réf": "external_ref",
        "Client": "account.external_ref",
        "Nom": "last_name",
        "Prénom": "first_name",
        "Poste recherché": "custom.poste_recherche",
        "Disponibilité": "custom.disponibilite",
    },
    "documents": {"column": "Fichier CV"},
}
FEED_ACCOUNT = "erp-nuit"
FEED_ACCOUNT_PASSWORD = "demo-sftp-2026"  # stated in README.md
INVOICES_EXPORT = {
    "name": "Factures – comptabilité",
    "entity": "invoices",
    "columns": [
        "number",
        "account.external_ref",
        "account",
        "issued_on",
        "due_on",
        "status",
        "total_excl_tax",
        "tax_total",
        "total",
        "amount_paid",
    ],
    "headers": {"number": "N° pièce", "account.external_ref": "Compte client"},
    "format": "csv_cp1252",
    "destination": "outbox",
    "schedule": "0 5 * * 1-5",
    "changes_only": True,
}
CANDIDATES = [
    (
        "Lefèvre",
        "Hélène",
        "Poseuse de stores",
        "Pose de stores bannes et de volets roulants, habilitation électrique B1V, permis C.",
    ),
    (
        "Moreau",
        "Karim",
        "Technicien SAV motorisation",
        "Dépannage de moteurs Somfy et automatismes io-homecontrol, diagnostic à distance.",
    ),
    (
        "Garnier",
        "Sophie",
        "Commerciale terrain",
        "Dix ans de vente de menuiseries aux "
        "particuliers, Lyon et Grenoble, fichier de prescripteurs.",
    ),
]


def load_feeds(today: date) -> None:
    """The demo's feed profiles and their runs (each run commits, as a real run does)."""
    customers = list(
        db.session.scalars(
            select(Account).where(Account.external_ref.is_not(None)).order_by(Account.id).limit(12)
        )
    )
    customers_feed = feeds.create_profile(dict(CUSTOMERS))
    partners_feed = feeds.create_profile(dict(PARTNERS))
    for key, fr, en, kind in (
        ("poste_recherche", "Poste recherché", "Position sought", "text"),
        ("disponibilite", "Disponibilité", "Available from", "date"),
    ):
        create_field(
            {"entity": "contacts", "key": key, "label_fr": fr, "label_en": en, "type": kind}
        )
    cv_feed = feeds.create_profile(dict(CVS))
    db.session.commit()
    start = today - timedelta(days=21)
    # Expected since before the first run: every weekday by 06:30, every day by 07:00.
    _expect(customers_feed, "30 6 * * 1-5", start)
    _expect(partners_feed, "0 7 * * *", start)
    db.session.commit()
    bad = partial_offset(today)
    for offset in range(21, 0, -1):
        day = today - timedelta(days=offset)
        if day.weekday() < 5:
            _run(
                customers_feed,
                _customers_file(customers, day, bad=offset == bad),
                f"clients-{day:%Y%m%d}.csv",
                day,
                time(4, 40),
            )
        if offset >= 3:
            _run(
                partners_feed,
                _partners_file(day),
                f"partenaires-{day:%Y%m%d}.csv",
                day,
                time(6, 10),
            )
    _run(
        cv_feed,
        _cv_archive(customers[0].external_ref),
        "cv-semaine.zip",
        today - timedelta(days=2),
        time(8, 15),
    )
    _account_and_export(customers_feed, partners_feed, cv_feed)


def partial_offset(today: date) -> int:
    """How many days back the customers' partial run is: a weekday's (the feed runs on
    weekdays), a week or so ago, whatever weekday the demo is loaded on."""
    return next(n for n in range(9, 21) if (today - timedelta(days=n)).weekday() < 5)


def _account_and_export(
    customers_feed: ImportProfile, partners_feed: ImportProfile, cv_feed: ImportProfile
) -> None:
    """The SFTP account the README sends its sample file with, and an export into its
    outbox, run once so that the outbox holds a file."""
    account = feed_accounts.create_account(
        {
            "name": FEED_ACCOUNT,
            "password": FEED_ACCOUNT_PASSWORD,
            "routes": [
                {"pattern": "clients/*.csv", "profile_id": customers_feed.id},
                {"pattern": "partenaires/*.csv", "profile_id": partners_feed.id},
                {"pattern": "*.zip", "profile_id": cv_feed.id},
            ],
        }
    )
    root = feed_storage.account_root(account.tenant_id, account.id)
    for folder in ("clients", "partenaires"):
        (root / folder).mkdir(exist_ok=True)
    export = exports.create_export({**INVOICES_EXPORT, "feed_account_id": account.id})
    run = exports.start_run(export, "cli")
    db.session.commit()
    export_runs.run_export(run.id, current_tenant_id())


def _expect(profile: ImportProfile, cron: str, since: date) -> None:
    expectation = feed_alerts.set_expectation(profile, cron, 0)
    expectation.created_at = datetime.combine(since, time(0, 0), tzinfo=UTC)


def _run(profile: ImportProfile, data: bytes, name: str, day: date, at: time) -> None:
    """A run of the file through the engine, dated back to `day` at `at` (UTC)."""
    run = feeds.create_run(profile, io.BytesIO(data), name, source="upload")
    run.started_by = "demo"
    db.session.commit()
    done = runs.run_import(run.id, current_tenant_id(), max_wait=0)
    moment = datetime.combine(day, at, tzinfo=UTC)
    took = timedelta(seconds=2 + len(data) // 20_000)
    db.session.refresh(done)
    done.created_at, done.started_at = moment, moment
    done.finished_at = done.heartbeat_at = moment + took
    db.session.commit()


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("cp1252")


def _customers_file(customers: list[Account], day: date, bad: bool) -> bytes:
    rows = [
        [c.external_ref, c.name, c.email or "", c.postal_code or "", c.city or ""]
        for c in customers
    ]
    rows[day.toordinal() % len(rows)][4] = rows[day.toordinal() % len(rows)][4].upper()
    if bad:  # the ERP let two addresses through that are none
        rows[2][2], rows[5][2] = "compta@", "pas d'adresse"
    return _csv(["Code client", "Raison sociale", "E-mail", "CP", "Ville"], rows)


def _partners_file(day: date) -> bytes:
    rows = [
        ["PAR-001", "Immobilière Rhône-Alpes", "contact@ira.example"],
        ["PAR-002", "Courtage Habitat Sud", f"agence{day.day % 3}@chs.example"],
    ]
    return _csv(["Code", "Nom", "Mail"], rows)


def _cv_archive(customer_ref: str) -> bytes:
    import docx

    out = io.BytesIO()
    header = ["Réf", "Client", "Nom", "Prénom", "Poste recherché", "Disponibilité", "Fichier CV"]
    rows = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, (last, first, post, summary) in enumerate(CANDIDATES, start=1):
            document = docx.Document()
            document.sections[0].header.paragraphs[0].text = f"Candidature — {first} {last}"
            document.add_heading(f"{first} {last}", level=1)
            document.add_paragraph(post)
            document.add_paragraph(summary)
            buffer = io.BytesIO()
            document.save(buffer)
            name = f"cv/{last.lower()}-{first.lower()}.docx"
            archive.writestr(name, buffer.getvalue())
            rows.append([f"CAND-{n:03d}", customer_ref, last, first, post, f"0{n}/02/2027", name])
        archive.writestr("candidats.csv", _csv(header, rows))
    return out.getvalue()
