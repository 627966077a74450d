"""A tenant's data taken out and erased: `flask tenant export`, `flask tenant delete`, the
admin's download, and one person anonymised with the history kept."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select, text

from app.entities import ENTITIES
from app.extensions import db
from app.models import AuditEvent, Contact, PlatformEvent, Tenant, User, UserSession
from app.services.attachments import add_attachment
from app.services.custom_field_defs import create_field
from app.services.records import create_record, update_record
from app.services.tenant_settings import set_legal_mentions
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from tests.conftest import PASSWORD, login, page_text


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, **kwargs):
        db.session.commit()  # the command reads what the test wrote
        result = runner.invoke(args=list(args), **kwargs)
        db.session.expire_all()
        return result

    return invoke


@pytest.fixture
def filled(tenant, make_invoice, make_contact, make_partner):
    """A tenant with a custom field, documents with lines, a contact with a file."""
    create_field({"entity": "invoices", "key": "promoteur", "label_fr": "Promoteur",
                  "label_en": "Promoter", "type": "text"})
    db.session.commit()
    invoice = make_invoice(custom={"promoteur": "=Nord+1"}, external_ref="INV-1")
    contact = make_contact(email="claire@example.fr", phone="+33 6 12 34 56 78")
    add_attachment(contact, "cv.txt", io.BytesIO(b"Claire Martin, CV"))
    db.session.commit()
    return {"invoice": invoice, "contact": contact}


def _zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))


def test_the_export_holds_every_table_files_audit_and_a_manifest_that_checks_out(
        filled, cli, tmp_path):
    out = tmp_path / "alpha.zip"
    result = cli("tenant", "export", "alpha", "--output", str(out))
    assert result.exit_code == 0, result.output
    archive = _zip(out.read_bytes())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["tenant"]["slug"] == "alpha"
    assert manifest["tenant"]["name"] == "Alpha Stores" and "created_at" in manifest["tenant"]
    # the columns are those of this schema: the export names its migration
    assert manifest["schema_revision"] == _migration_head()
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
        assert archive.getinfo(entry["path"]).file_size == entry["size"]
    names = set(archive.namelist())
    for entity in ENTITIES:
        assert f"data/{entity}.csv" in names
    assert {"data/invoice_lines.csv", "data/audit_events.csv", "data/users.csv"} <= names

    invoices = _csv(archive, "data/invoices.csv")
    assert [row["external_ref"] for row in invoices] == ["INV-1"]
    # custom fields get a column of their own; a formula-like cell is neutralised
    assert invoices[0]["custom.promoteur"] == "'=Nord+1"
    assert invoices[0]["total"] == "1481.47"
    rows = {e["path"]: e.get("rows") for e in manifest["files"]}
    assert rows["data/invoices.csv"] == 1 and rows["data/invoice_lines.csv"] == 1

    contact = filled["contact"]
    files = [n for n in names if n.startswith("files/attachments/")]
    assert files == [f"files/attachments/{_attachment_id(contact)}/cv.txt"]
    assert archive.read(files[0]) == b"Claire Martin, CV"
    actions = {row["action"] for row in _csv(archive, "data/audit_events.csv")}
    assert {"create"} <= actions
    # no secret ever leaves
    users = archive.read("data/users.csv").decode()
    assert "password_hash" not in users and "$argon2" not in users
    assert "token_hash" not in archive.read("data/api_tokens.csv").decode()
    # the export itself is in the audit trail
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))


def _migration_head() -> str:
    from alembic.script import ScriptDirectory

    from app.extensions import migrations

    return ScriptDirectory.from_config(migrations(current_app).get_config()).get_current_head()


def test_every_entity_is_exported_with_its_custom_fields(tenant, cli, tmp_path, make_partner,
                                                         make_contact, make_deal, make_quote,
                                                         make_order, make_contract,
                                                         make_delivery, make_invoice):
    makers = {"partners": make_partner, "contacts": make_contact, "deals": make_deal,
              "quotes": make_quote, "orders": make_order, "contracts": make_contract,
              "deliveries": make_delivery, "invoices": make_invoice}
    for entity in makers | {"accounts": None}:
        create_field({"entity": entity, "key": "origine", "label_fr": "Origine",
                      "label_en": "Origin", "type": "text"})
    db.session.commit()
    account = create_record(ENTITIES["accounts"], {"name": "Client X", "kind": "company",
                                                   "custom": {"origine": "accounts-value"}})
    db.session.commit()
    for entity, make in makers.items():
        extra = {"account": account.id} if entity not in ("partners", "contacts") else {}
        make(custom={"origine": f"{entity}-value"}, **extra)
    out = tmp_path / "alpha.zip"
    assert cli("tenant", "export", "alpha", "-o", str(out)).exit_code == 0
    archive = _zip(out.read_bytes())
    for entity in makers | {"accounts": None}:
        values = {row["custom.origine"] for row in _csv(archive, f"data/{entity}.csv")}
        assert f"{entity}-value" in values, entity
    definitions = _csv(archive, "data/custom_fields.csv")
    assert len([d for d in definitions if d["key"] == "origine"]) == 9


def _attachment_id(contact: Contact) -> int:
    from app.models import Attachment

    return db.session.scalar(select(Attachment.id).where(Attachment.record_id == contact.id))


def test_the_export_reads_in_batches_so_every_row_is_there(tenant, make_partner, cli, tmp_path,
                                                           monkeypatch):
    from app.services import tenant_export

    monkeypatch.setattr(tenant_export, "BATCH", 3)
    for n in range(8):
        make_partner(name=f"Agence {n}", external_ref=f"P{n}")
    out = tmp_path / "alpha.zip"
    assert cli("tenant", "export", "alpha", "-o", str(out)).exit_code == 0
    partners = _csv(_zip(out.read_bytes()), "data/partners.csv")
    assert [p["external_ref"] for p in partners] == [f"P{n}" for n in range(8)]


def test_export_then_delete_leaves_nothing_of_the_tenant(filled, other_tenant, in_tenant,
                                                          cli, app, tmp_path):
    alpha = db.session.scalar(select(Tenant).where(Tenant.slug == "alpha"))
    beta_account = in_tenant(other_tenant, create_record, ENTITIES["accounts"],
                             {"name": "Beta client", "kind": "company"})
    files = Path(app.config["FILES_DIR"])
    (files / "imports" / str(alpha.id)).mkdir(parents=True, exist_ok=True)
    (files / "imports" / str(alpha.id) / "1").write_bytes(b"a;b\n")
    assert any((files / str(alpha.id)).rglob("*"))

    assert cli("tenant", "export", "alpha", "-o", str(tmp_path / "a.zip")).exit_code == 0
    refused = cli("tenant", "delete", "alpha", input="alpah\n")
    assert refused.exit_code == 1 and "Nothing deleted" in refused.output
    result = cli("tenant", "delete", "alpha", input="alpha\n")
    assert result.exit_code == 0, result.output

    with all_tenants_unsafe("tests"):
        for table in db.metadata.sorted_tables:
            if "tenant_id" in table.c:
                left = db.session.execute(text(
                    f"SELECT count(*) FROM {table.name} WHERE tenant_id = :t"),
                    {"t": alpha.id}).scalar()
                assert left == 0, table.name
        assert db.session.scalar(select(Tenant.id).where(Tenant.slug == "alpha")) is None
        event = db.session.scalar(select(PlatformEvent).where(
            PlatformEvent.action == "tenant_deleted"))
        assert event.tenant_slug == "alpha"
        assert event.details["rows"]["invoices"] == 1
    assert not (files / str(alpha.id)).exists()
    assert not (files / "imports" / str(alpha.id)).exists()
    # the other tenant is untouched
    with tenant_context(other_tenant.id, SYSTEM):
        assert db.session.get(type(beta_account), beta_account.id).name == "Beta client"


def test_an_unknown_tenant_is_refused(app_ctx, cli):
    assert cli("tenant", "delete", "nobody", "--yes").exit_code == 1
    assert cli("tenant", "export", "nobody").exit_code == 1


def test_an_admin_downloads_the_zip_others_cannot(filled, admin_client, app, make_user):
    page = admin_client.get("/alpha/admin/data")
    assert "Télécharger le ZIP" in page_text(page)  # the tenant speaks French
    response = admin_client.post("/alpha/admin/data/export")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = _zip(response.get_data())
    assert _csv(archive, "data/invoices.csv")[0]["external_ref"] == "INV-1"
    sales = login(app.test_client(), make_user("sales"))
    assert sales.post("/alpha/admin/data/export").status_code == 403


def test_anonymising_a_contact_clears_the_person_and_keeps_the_history(
        filled, admin_client, app):
    contact = filled["contact"]
    update_record(contact, {"phone": "+33 1 00 00 00 00"})
    db.session.commit()
    stored = list(Path(app.config["FILES_DIR"]).rglob("*"))
    history = db.session.scalar(select(db.func.count(AuditEvent.id)).where(
        AuditEvent.entity == "contacts", AuditEvent.record_id == contact.id))

    response = admin_client.post(f"/alpha/admin/contacts/{contact.id}/anonymise")
    assert response.status_code == 302
    db.session.expire_all()
    contact = db.session.get(Contact, contact.id)
    assert contact.email is None and contact.phone is None and contact.first_name is None
    assert contact.last_name == "anonymised"
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "contacts", AuditEvent.record_id == contact.id)).all()
    assert len(events) == history + 1  # every event kept, plus the erasure itself
    dumped = json.dumps([[e.before, e.after] for e in events])
    for personal in ("claire@example.fr", "Claire", "+33 6 12 34 56 78", "+33 1 00 00 00 00"):
        assert personal not in dumped
    assert not [p for p in Path(app.config["FILES_DIR"]).rglob("*")
                if p.is_file() and p.read_bytes() == b"Claire Martin, CV"]
    assert len(stored) > 0
    page = page_text(admin_client.get(f"/alpha/contacts/{contact.id}"))
    assert "Données personnelles effacées" in page and "claire@example.fr" not in page


def test_anonymising_a_subscriber_closes_his_login(tenant, make_user, make_account, app,
                                                   admin_client):
    account = make_account(name="Jean Abonné", kind="person")
    add_attachment(account, "rib.pdf", io.BytesIO(b"%PDF RIB Jean"))
    subscriber = make_user("subscriber", account_id=account.id, full_name="Jean Abonné",
                           email="jean@example.fr")
    login(app.test_client(), subscriber)  # his login is in the audit trail under his e-mail
    assert admin_client.post(f"/alpha/admin/users/{subscriber.id}/anonymise").status_code == 302
    db.session.expire_all()
    user = db.session.get(User, subscriber.id)
    # he is the customer: his account is a person's, and it goes with him
    assert db.session.get(type(account), account.id).name == "anonymised"
    assert not [p for p in Path(app.config["FILES_DIR"]).rglob("*")
                if p.is_file() and p.read_bytes() == b"%PDF RIB Jean"]
    assert user.email == f"anonymised-{user.id}@invalid" and not user.is_active
    assert user.password_hash is None and user.full_name == ""
    assert not db.session.scalars(select(UserSession).where(
        UserSession.user_id == user.id)).all()  # his login opened one: it is gone
    labels = db.session.scalars(select(AuditEvent.actor_label).where(
        AuditEvent.actor_id == user.id, AuditEvent.actor_kind == "user")).all()
    assert labels and all("jean@example.fr" not in label for label in labels)
    response = app.test_client().post("/alpha/portal/login", data={
        "email": "jean@example.fr", "password": PASSWORD})
    assert response.status_code != 302


def test_only_subscribers_are_anonymised_from_users(tenant, make_user, admin_client):
    sales = make_user("sales")
    assert admin_client.post(f"/alpha/admin/users/{sales.id}/anonymise").status_code == 404


def test_the_download_streams_after_the_request_is_over(filled, admin_client):
    """Read the ZIP where a real server reads it: after the view, outside any app context."""
    import threading

    result: dict[str, object] = {}

    def download() -> None:
        try:
            response = admin_client.post("/alpha/admin/data/export")
            result["zip"] = response.get_data()
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            result["error"] = exc

    worker = threading.Thread(target=download)
    worker.start()
    worker.join(60)
    assert "error" not in result, result.get("error")
    archive = _zip(result["zip"])
    assert _csv(archive, "data/invoices.csv")[0]["external_ref"] == "INV-1"


@pytest.fixture
def make_profile(tenant):
    from app.services import feeds

    def make(entity: str, columns: dict[str, str], name: str):
        profile = feeds.create_profile({"name": name, "entity": entity, "columns": columns})
        db.session.commit()
        return profile

    return make


def test_a_tenant_with_work_under_way_is_not_deleted_unless_forced(tenant, cli, make_profile):
    from app.models import ImportRun

    profile = make_profile("accounts", {"Code": "external_ref", "Nom": "name"}, name="clients")
    db.session.add(ImportRun(profile_id=profile.id, profile_version=1, source="upload",
                             file_name="c.csv", file_size=4, sha256="0" * 64, status="running",
                             started_by="test"))
    db.session.commit()
    refused = cli("tenant", "delete", "alpha", "--yes")
    assert refused.exit_code == 1 and "1 import runs" in refused.output
    with all_tenants_unsafe("tests"):
        assert db.session.scalar(select(Tenant.id).where(Tenant.slug == "alpha"))
    assert cli("tenant", "delete", "alpha", "--yes", "--force").exit_code == 0


def test_anonymising_a_contact_reaches_his_files_events_import_rows_and_webhooks(
        filled, admin_client, make_profile):
    from app.models import ImportRowError, ImportRun, WebhookDelivery, WebhookEndpoint
    from app.services.webhook_outbox import forget_subscriptions

    contact = filled["contact"]
    contact.external_ref = "claire@example.fr"
    profile = make_profile("contacts", {"Code": "external_ref", "Nom": "last_name"},
                           name="contacts")
    run = ImportRun(profile_id=profile.id, profile_version=1, source="upload",
                    file_name="c.csv", file_size=4, sha256="0" * 64, status="succeeded",
                    started_by="test", error_groups={"total": 1, "groups": [[1, 1]],
                                                     "more": False})
    db.session.add(run)
    db.session.flush()
    db.session.add(ImportRowError(run_id=run.id, line=3, column="Téléphone",
                                  value="+33 6 12 34 56 78", message="Téléphone invalide",
                                  raw=["claire@example.fr", "Martin", "+33 6 12 34 56 78"]))
    db.session.add(WebhookEndpoint(url="https://erp.example.com/hooks", secret="s" * 32,
                                   secret_prefix="s" * 8, events=["contacts.updated"]))
    db.session.commit()
    forget_subscriptions(contact.tenant_id)  # as the webhook service does

    assert admin_client.post(f"/alpha/admin/contacts/{contact.id}/anonymise").status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).external_ref is None
    row = db.session.scalar(select(ImportRowError))
    assert row.raw is None and row.value is None and row.line == 3
    # Its run's errors by kind are counted again, without the value, when next read.
    assert db.session.get(ImportRun, run.id).error_groups is None
    dumped = json.dumps([[e.before, e.after] for e in db.session.scalars(select(AuditEvent))])
    assert "cv.txt" not in dumped and "claire@example.fr" not in dumped
    announced = db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.event == "contacts.updated")).all()
    assert [d.payload["data"]["after"]["last_name"] for d in announced] == ["anonymised"]


def test_anonymising_a_subscriber_erases_his_failed_logins_too(tenant, make_user, make_account,
                                                              app, admin_client):
    account = make_account()
    subscriber = make_user("subscriber", account_id=account.id, email="jean@example.fr")
    app.test_client().post("/alpha/portal/login", data={"email": "Jean@example.fr ",
                                                        "password": "wrong-password-1"})
    assert admin_client.post(f"/alpha/admin/users/{subscriber.id}/anonymise").status_code == 302
    db.session.expire_all()
    dumped = json.dumps([[e.before, e.after, e.actor_label]
                         for e in db.session.scalars(select(AuditEvent))]).lower()
    assert "jean@example.fr" not in dumped


def _history(entity: str, record_id: int) -> str:
    return json.dumps([[e.before, e.after] for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == entity, AuditEvent.record_id == record_id))], ensure_ascii=False)


def test_a_contact_is_anonymised_from_the_command_line_after_confirmation(filled, cli):
    contact = filled["contact"]
    refused = cli("tenant", "anonymise", "alpha", "--contact", str(contact.id), input="n\n")
    assert refused.exit_code == 1 and "Nothing erased" in refused.output
    assert db.session.get(Contact, contact.id).email == "claire@example.fr"

    result = cli("tenant", "anonymise", "alpha", "--contact", str(contact.id), input="y\n")
    assert result.exit_code == 0, result.output
    contact = db.session.get(Contact, contact.id)
    assert (contact.first_name, contact.last_name, contact.email, contact.phone) == (
        None, "anonymised", None, None)
    history = _history("contacts", contact.id)
    assert "claire@example.fr" not in history and "Claire" not in history
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "anonymise"))
    assert event.actor_label == "cli:tenant anonymise"


def test_the_command_line_names_what_it_cannot_anonymise(tenant, make_user, cli):
    sales = make_user("sales")
    assert cli("tenant", "anonymise", "alpha", "--yes").exit_code == 2
    assert "Unknown contact #999" in cli("tenant", "anonymise", "alpha", "--contact", "999",
                                         "--yes").output
    staff = cli("tenant", "anonymise", "alpha", "--subscriber", sales.email, "--yes")
    assert staff.exit_code == 1
    assert db.session.get(User, sales.id).is_active


def test_a_subscriber_who_is_the_customer_loses_his_account_details_too(
        tenant, make_user, make_account, cli, app):
    person = make_account(name="Jean Dupont", kind="person", email="jean@example.fr",
                          phone="06 11 22 33 44", address_line="3 rue des Lilas",
                          postal_code="69003", city="Lyon")
    update_record(person, {"address_line": "5 rue des Roses"})
    add_attachment(person, "piece-identite.pdf", io.BytesIO(b"%PDF Jean Dupont"))
    company = make_account(name="Volets SA", kind="company", email="contact@volets.fr")
    make_user("subscriber", account_id=person.id, email="jean@example.fr",
              full_name="Jean Dupont")
    colleague = make_user("subscriber", account_id=company.id, email="paul@volets.fr")
    db.session.commit()

    result = cli("tenant", "anonymise", "alpha", "--subscriber", "Jean@example.fr", "--yes")
    assert result.exit_code == 0, result.output
    person = db.session.get(type(person), person.id)
    assert person.name == "anonymised" and person.kind == "person"
    assert (person.email, person.phone, person.address_line, person.postal_code,
            person.city) == (None, None, None, None, None)
    history = _history("accounts", person.id)
    for personal in ("Jean Dupont", "jean@example.fr", "3 rue des Lilas", "5 rue des Roses",
                     "06 11 22 33 44"):
        assert personal not in history
    assert not [p for p in Path(app.config["FILES_DIR"]).rglob("*")
                if p.is_file() and p.read_bytes() == b"%PDF Jean Dupont"]
    # a company's account holds no person: another subscriber's erasure leaves it alone
    cli("tenant", "anonymise", "alpha", "--subscriber", colleague.email, "--yes")
    assert db.session.get(type(company), company.id).email == "contact@volets.fr"


def test_a_row_of_every_table_is_exported_then_deleted_and_the_other_tenant_keeps_all(
        tenant, other_tenant, cli, app, tmp_path):
    from tests.test_tenancy import make_rows

    alpha, beta = tenant.id, other_tenant.id
    rows = {alpha: make_rows(alpha), beta: make_rows(beta)}
    files = Path(app.config["FILES_DIR"])
    for tenant_id in (alpha, beta):
        for folder in (files / str(tenant_id) / "ab", files / "imports" / str(tenant_id)):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "kept").write_bytes(b"data")

    out = tmp_path / "alpha.zip"
    assert cli("tenant", "export", "alpha", "-o", str(out)).exit_code == 0
    counted = {e["path"]: e.get("rows") for e in
               json.loads(_zip(out.read_bytes()).read("manifest.json"))["files"]}
    for model in rows[alpha]:
        expected = 2 if model.__tablename__ == "audit_events" else 1  # + the export itself
        assert counted[f"data/{model.__tablename__}.csv"] == expected, model.__tablename__

    # the sample rows include a run and a delivery "under way"
    assert cli("tenant", "delete", "alpha", "--yes", "--force").exit_code == 0
    tables = [t for t in db.metadata.sorted_tables if "tenant_id" in t.c]
    assert {t.name for t in tables} == {m.__tablename__ for m in rows[beta]}
    with all_tenants_unsafe("tests"):
        for table in tables:
            left = dict(db.session.execute(text(
                f"SELECT tenant_id, count(*) FROM {table.name} GROUP BY tenant_id")).all())
            assert left == {beta: 1}, table.name
    assert not (files / str(alpha)).exists() and not (files / "imports" / str(alpha)).exists()
    assert (files / str(beta) / "ab" / "kept").read_bytes() == b"data"
    assert (files / "imports" / str(beta) / "kept").read_bytes() == b"data"


def test_an_export_that_fails_midway_leaves_no_zip_to_mistake_for_a_whole_one(
        filled, cli, app, tmp_path):
    from app.models import Attachment
    from app.services.attachments import storage_path

    attachment = db.session.scalar(select(Attachment))
    stored = storage_path(attachment.tenant_id, attachment.sha256)
    stored.unlink()
    stored.mkdir()  # the disk answers, but the file cannot be read: the export stops there
    out = tmp_path / "alpha.zip"
    try:
        result = cli("tenant", "export", "alpha", "-o", str(out))
    finally:
        stored.rmdir()  # the file store outlives the test
    assert result.exit_code != 0
    assert list(tmp_path.iterdir()) == []


HOSTILE_NAMES = ["..\\..\\evil.bat", "../../etc/passwd", "..", "C:\\Users\\claire\\cv.pdf",
                 "CON", "nul.txt", "a\x07b\r\n.txt", "facture\u202etxt.exe", " . ",
                 "what?*:<>|.csv", "x" * 240 + ".pdf", "..\\..\\evil.bat"]


def test_hostile_file_names_become_safe_distinct_entries_of_the_export(
        filled, cli, app, tmp_path):
    from app.models import ImportProfile, ImportRun
    from tests.test_tenancy import build_row

    contact = filled["contact"]
    attachments = [add_attachment(contact, "x.txt", io.BytesIO(f"file {n}".encode()))
                   for n in range(len(HOSTILE_NAMES))]
    db.session.flush()
    for attachment, name in zip(attachments, HOSTILE_NAMES, strict=True):
        attachment.file_name = name  # as a feed or an older version may have stored it
    imports = Path(app.config["FILES_DIR"]) / "imports" / str(contact.tenant_id)
    imports.mkdir(parents=True, exist_ok=True)  # another test may have made it
    with all_tenants_unsafe("tests"):
        profile = build_row(ImportProfile, contact.tenant_id, {})
        db.session.add(profile)
        db.session.flush()
        runs = []
        for name in ("..\\..\\feed.csv", "../../feed.csv"):
            run = build_row(ImportRun, contact.tenant_id, {ImportProfile: profile.id})
            run.file_name = name
            db.session.add(run)
            db.session.flush()
            (imports / str(run.id)).write_bytes(name.encode())
            runs.append(run.id)
    db.session.commit()

    out = tmp_path / "alpha.zip"
    assert cli("tenant", "export", "alpha", "-o", str(out)).exit_code == 0
    archive = _zip(out.read_bytes())
    names = archive.namelist()
    assert len(names) == len(set(names))
    for name in names:
        parts = name.split("/")
        assert "\\" not in name and ".." not in parts and all(parts), name
        assert all(c.isprintable() and c not in '<>:"|?*' for c in name), name
        assert parts[-1].split(".")[0].upper() not in ("CON", "NUL"), name
        assert len(parts[-1]) <= 120, name
    for attachment in attachments:
        entry = [n for n in names if n.startswith(f"files/attachments/{attachment.id}/")]
        content = f"file {attachments.index(attachment)}".encode()
        assert len(entry) == 1 and archive.read(entry[0]) == content
    assert f"files/attachments/{attachments[0].id}/evil.bat" in names
    assert f"files/attachments/{attachments[3].id}/cv.pdf" in names
    assert f"files/attachments/{attachments[10].id}/{'x' * 116}.pdf" in names
    assert {n for n in names if n.startswith("files/imports/")} == {
        f"files/imports/{run}/feed.csv" for run in runs}
    extracted = tmp_path / "out"
    archive.extractall(extracted)
    assert len([p for p in extracted.rglob("*") if p.is_file()]) == len(names)
    if shutil.which("sha256sum"):  # the odd names read back as written
        checked = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=extracted,
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_archive_checks_out_with_sha256sum(filled, cli, tmp_path):
    out = tmp_path / "alpha.zip"
    assert cli("tenant", "export", "alpha", "-o", str(out)).exit_code == 0
    folder = tmp_path / "extracted"
    _zip(out.read_bytes()).extractall(folder)
    listed = {}
    for line in (folder / "SHA256SUMS").read_text("utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    every = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(listed) == every - {"SHA256SUMS"}
    assert "manifest.json" in listed and "data/invoices.csv" in listed
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    if shutil.which("sha256sum"):
        checked = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=folder,
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.count(": OK") == len(listed)
        (folder / "data" / "invoices.csv").write_text("tampered")
        tampered = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder,
                                  capture_output=True, text=True)
        assert tampered.returncode == 1 and "data/invoices.csv: FAILED" in tampered.stdout


@pytest.fixture
def stopped_deletion(tenant, other_tenant, cli, app, tmp_path, monkeypatch):
    """Alpha deleted by a command that stopped after its commit, before its files went; beta
    and a folder this database knows nothing of sit beside them."""
    from app.services import erasure

    files = tmp_path / "files"
    monkeypatch.setitem(app.config, "FILES_DIR", str(files))
    monkeypatch.setitem(app.config, "FEED_STORAGE_DIR", str(files / "feeds"))
    folders = {}
    for name, tenant_id in (("alpha", tenant.id), ("beta", other_tenant.id), ("stray", 99999)):
        folders[name] = [files / str(tenant_id) / "ab", files / "imports" / str(tenant_id),
                         files / "feeds" / str(tenant_id) / "1"]
        for folder in folders[name]:
            folder.mkdir(parents=True)
            (folder / "kept").write_bytes(name.encode())

    def stop(paths):
        raise KeyboardInterrupt  # the operator's Ctrl-C, a killed process

    with monkeypatch.context() as crash:
        crash.setattr(erasure, "remove_files", stop)
        stopped = cli("tenant", "delete", "alpha", "--yes")
    assert stopped.exit_code != 0
    with all_tenants_unsafe("tests"):
        assert db.session.scalar(select(Tenant.id).where(Tenant.slug == "alpha")) is None
    assert all((folder / "kept").exists() for folder in folders["alpha"])  # the orphans
    return folders


def _untouched(folders):
    for name in ("beta", "stray"):
        for folder in folders[name]:
            assert (folder / "kept").read_bytes() == name.encode()


def test_deleting_again_removes_what_a_stopped_deletion_left(stopped_deletion, cli, tenant):
    result = cli("tenant", "delete", "alpha")  # no slug to type: nothing left to confirm
    assert result.exit_code == 0, result.output
    assert "deleted already" in result.output
    assert not any(folder.exists() for folder in stopped_deletion["alpha"])
    assert not any(folder.parent.exists() for folder in stopped_deletion["alpha"][:1])
    _untouched(stopped_deletion)
    removed = db.session.scalar(select(PlatformEvent).where(
        PlatformEvent.action == "tenant_files_removed"))
    assert removed.tenant_slug == "alpha" and removed.actor_label == "cli:tenant delete"
    assert removed.details["folders"] == [str(tenant.id), f"imports/{tenant.id}",
                                          f"feeds/{tenant.id}"]
    assert cli("tenant", "delete", "alpha").exit_code == 0  # nothing left: says so again
    assert cli("tenant", "delete", "beta-never", "--yes").exit_code == 1


def test_the_periodic_job_removes_what_a_stopped_deletion_left(stopped_deletion, app,
                                                                monkeypatch):
    from app import jobs

    monkeypatch.setitem(app.config, "TENANT_FILES_SWEEP", True)
    assert "remove_deleted_tenants_files" in {job.name for job, _every in jobs.periodic(app)}
    jobs.execute("remove_deleted_tenants_files")
    db.session.expire_all()
    assert not any(folder.exists() for folder in stopped_deletion["alpha"])
    _untouched(stopped_deletion)
    assert db.session.scalar(select(PlatformEvent.actor_label).where(
        PlatformEvent.action == "tenant_files_removed")) == "job:remove_deleted_tenants_files"


def test_an_admin_erases_a_private_customer_without_a_login(tenant, make_account, make_user,
                                                            admin_client, app):
    person = make_account(name="Lucie Morel", kind="person", email="lucie@example.fr",
                          phone="06 99 88 77 66", address_line="8 rue Haute",
                          postal_code="44000", city="Nantes")
    update_record(person, {"address_line": "9 rue Basse"})
    add_attachment(person, "contrat-lucie.pdf", io.BytesIO(b"%PDF Lucie Morel"))
    db.session.commit()
    page = admin_client.get(f"/alpha/accounts/{person.id}/360").data.decode()
    assert f"/alpha/admin/accounts/{person.id}/anonymise" in page
    assert "Effacer définitivement le nom" in page  # asked before anything is erased
    sales = login(app.test_client(), make_user("sales"))
    assert sales.post(f"/alpha/admin/accounts/{person.id}/anonymise").status_code == 403

    response = admin_client.post(f"/alpha/admin/accounts/{person.id}/anonymise",
                                 follow_redirects=True)
    assert "Les données personnelles du client ont été effacées" in page_text(response)
    db.session.expire_all()
    person = db.session.get(type(person), person.id)
    assert person.name == "anonymised" and person.kind == "person"
    assert (person.email, person.phone, person.address_line, person.postal_code,
            person.city) == (None, None, None, None, None)
    history = _history("accounts", person.id)
    for personal in ("Lucie Morel", "lucie@example.fr", "8 rue Haute", "9 rue Basse",
                     "06 99 88 77 66"):
        assert personal not in history
    assert not [p for p in Path(app.config["FILES_DIR"]).rglob("*")
                if p.is_file() and p.read_bytes() == b"%PDF Lucie Morel"]


def test_a_customer_with_a_login_or_a_company_is_not_erased_from_the_account(
        tenant, make_account, make_user, admin_client):
    person = make_account(name="Jean Dupont", kind="person", email="jean@example.fr")
    make_user("subscriber", account_id=person.id, email="jean@example.fr")
    company = make_account(name="Volets SA", kind="company", email="contact@volets.fr")
    db.session.commit()
    assert "/anonymise" not in admin_client.get(
        f"/alpha/accounts/{company.id}/360").data.decode()

    refused = admin_client.post(f"/alpha/admin/accounts/{person.id}/anonymise",
                                follow_redirects=True)
    assert "a un accès à l’extranet" in page_text(refused)
    refused = admin_client.post(f"/alpha/admin/accounts/{company.id}/anonymise",
                                follow_redirects=True)
    assert "Seul le compte d’un particulier" in page_text(refused)
    db.session.expire_all()
    assert db.session.get(type(person), person.id).email == "jean@example.fr"
    assert db.session.get(type(company), company.id).name == "Volets SA"


def test_a_private_customer_is_erased_from_the_command_line(tenant, make_account, cli):
    person = make_account(name="Lucie Morel", kind="person", email="lucie@example.fr")
    company = make_account(name="Volets SA", kind="company")
    db.session.commit()
    refused = cli("tenant", "anonymise", "alpha", "--account", str(company.id), "--yes")
    assert refused.exit_code == 1 and "particulier" in refused.output  # the tenant speaks French
    result = cli("tenant", "anonymise", "alpha", "--account", str(person.id), input="y\n")
    assert result.exit_code == 0, result.output
    assert db.session.get(type(person), person.id).email is None
    assert cli("tenant", "anonymise", "alpha", "--account", "1", "--contact", "1",
               "--yes").exit_code == 2


def test_the_manifest_keeps_the_legal_mentions_of_documents(tenant, cli, tmp_path):
    set_legal_mentions(tenant, {"siren": "732829320", "late_penalty_rate": "12,5"})
    out = tmp_path / "alpha.zip"
    assert cli("tenant", "export", "alpha", "--output", str(out)).exit_code == 0
    manifest = json.loads(_zip(out.read_bytes()).read("manifest.json"))
    assert manifest["tenant"]["siren"] == "732829320"
    assert manifest["tenant"]["late_penalty_rate"] == "12.50"


def test_anonymising_a_contact_erases_his_name_from_the_activities_on_him(
        filled, admin_client):
    from app.models import Activity
    from app.services.activities import log_call

    contact = filled["contact"]
    call = log_call(contact)
    update_record(call, {"body": "Claire rappellera, mail claire@example.fr"})
    db.session.commit()
    assert "Claire" in call.subject
    admin_client.post(f"/alpha/admin/contacts/{contact.id}/anonymise")
    db.session.expire_all()
    call = db.session.get(Activity, call.id)
    assert "claire" not in f"{call.subject} {call.body}".lower()
    assert call.kind == "call" and call.done_at is not None
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "activities", AuditEvent.record_id == call.id)).all()
    assert "laire" not in json.dumps([[e.before, e.after] for e in events])
