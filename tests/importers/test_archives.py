"""ZIP archives of documents: a metadata file (CSV or TXT) whose rows create or update records
and attach the Word, PDF or OpenDocument file each names, its text searchable; hostile
archives refused member by member, or whole; a missing or unreadable document fails its row
alone, with its line."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from reportlab.pdfgen import canvas
from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, Contact, ImportRun
from app.services.attachments import add_attachment, delete_attachment
from app.services.import_revert import revert_run
from tests.backoffice.conftest import text
from tests.importers.conftest import records, row_errors

PROFILE = {
    "columns": {
        "Réf": "external_ref",
        "Client": "account.external_ref",
        "Nom": "last_name",
        "Prénom": "first_name",
        "Poste recherché": "custom.poste",
        "Disponibilité": "custom.dispo",
    },
    "documents": {"column": "Fichier CV"},
}
HEADER = "Réf;Client;Nom;Prénom;Poste recherché;Disponibilité;Fichier CV"


def word_file(*paragraphs: str, header: str = "", table: list[list[str]] | None = None) -> bytes:
    """A real .docx, as Word writes it (python-docx)."""
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    if header:
        document.sections[0].header.paragraphs[0].text = header
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_file(line: str) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, line)
    page.save()
    return out.getvalue()


def odt_file(paragraph: str) -> bytes:
    """A minimal OpenDocument text, as LibreOffice packs it."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">'
        f'<office:body><office:text><text:p>{paragraph}<text:s text:c="2"/>fin</text:p>'
        "</office:text></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr(
            "mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED
        )
        package.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def archive(
    tmp_path: Path,
    rows: list[str],
    documents: dict[str, bytes],
    *,
    metadata: str = "cvs.csv",
    encoding: str = "cp1252",
    extra: list[tuple[zipfile.ZipInfo, bytes]] = (),
    name: str = "cvs.zip",
) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(metadata, "\r\n".join([HEADER, *rows]).encode(encoding) + b"\r\n")
        for member, data in documents.items():
            out.writestr(member, data)
        for info, data in extra:
            out.writestr(info, data)
    return path


def mark_encrypted(path: Path, name: str) -> None:
    """Set a member's "encrypted" flag, as a password-protecting archiver does (zipfile
    writes no encrypted member)."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    with zipfile.ZipFile(path) as opened:
        local = opened.getinfo(name).header_offset
    data[local + 6] |= 0x1
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        length = int.from_bytes(data[start + 28 : start + 30], "little")
        if bytes(data[start + 46 : start + 46 + length]) == encoded:
            data[start + 8] |= 0x1
        start += 4
    path.write_bytes(bytes(data))


@pytest.fixture
def cv_profile(make_profile, make_custom_field, make_account):
    make_account(external_ref="C1", name="Cabinet Recrutement")
    make_custom_field("contacts", "poste", "text", label_fr="Poste recherché")
    make_custom_field("contacts", "dispo", "date", label_fr="Disponibilité")
    return make_profile("contacts", PROFILE["columns"], documents=PROFILE["documents"])


def _attachments(contact: Contact) -> list[Attachment]:
    return list(
        db.session.scalars(
            select(Attachment)
            .where(Attachment.record_type == "contacts", Attachment.record_id == contact.id)
            .order_by(Attachment.id)
        )
    )


def test_each_row_creates_its_contact_and_attaches_its_cv_with_its_text(
    tmp_path, cv_profile, run_import
):
    cv = word_file(
        "Hélène Lefèvre, développeuse Python",
        table=[["Compétences", "Années"], ["PostgreSQL", "8"]],
        header="Curriculum vitae — confidentiel",
    )
    path = archive(
        tmp_path,
        [
            "K1;C1;Lefèvre;Hélène;Développeuse;01/02/2027;cv/lefevre.docx",
            "K2;C1;Martin;Paul;Comptable;15/03/2027;martin.pdf",
            "K3;C1;Roux;Anne;Juriste;;ROUX.ODT",
        ],
        {
            "cv/lefevre.docx": cv,
            "martin.pdf": pdf_file("Paul Martin expert-comptable"),
            "roux.odt": odt_file("Anne Roux juriste droit social"),
        },
    )
    run = run_import(cv_profile, path)
    assert run.status == "succeeded", (run.message, [e.message for e in row_errors(run)])
    assert run.created == 3 and "3" in run.message
    helene = records("contacts", external_ref="K1")[0]
    assert helene.first_name == "Hélène" and helene.custom["poste"] == "Développeuse"
    assert helene.custom["dispo"] == "2027-02-01"
    [attached] = _attachments(helene)
    assert attached.file_name == "lefevre.docx" and attached.account_id == helene.account_id
    # Paragraphs, table cells and the page header all read.
    for words in ("développeuse Python", "PostgreSQL", "confidentiel"):
        assert words in attached.extracted_text
    pdf = _attachments(records("contacts", external_ref="K2")[0])[0]
    assert "expert-comptable" in pdf.extracted_text and pdf.media_type == "application/pdf"
    odt = _attachments(records("contacts", external_ref="K3")[0])[0]
    assert "droit social" in odt.extracted_text


def test_the_header_search_finds_a_cv_by_a_word_it_holds(
    tmp_path, cv_profile, run_import, admin_client, other_tenant, in_tenant
):
    cv = word_file("Spécialiste des réseaux électriques haute tension")
    run = run_import(
        cv_profile, archive(tmp_path, ["K1;C1;Dupont;Jean;Ingénieur;;jean.docx"], {"jean.docx": cv})
    )
    assert run.status == "succeeded"
    contact = records("contacts", external_ref="K1")[0]
    page = admin_client.get("/alpha/search?q=RESEAUX electriques")
    assert page.status_code == 200
    html = page.data.decode()
    assert 'id="results-attachments"' in html and "jean.docx" in text(page)
    assert f"/alpha/contacts/{contact.id}" in html
    assert "jean.docx" not in text(admin_client.get("/alpha/search?q=plomberie"))
    # The attachments list searches the text as well.
    assert "jean.docx" in text(admin_client.get("/alpha/attachments/?q=haute tension"))


def test_an_agent_does_not_find_a_file_of_a_record_he_may_not_see(
    tmp_path, cv_profile, run_import, app, make_user, make_partner
):
    from tests.conftest import login

    run_import(
        cv_profile,
        archive(
            tmp_path,
            ["K1;C1;Dupont;Jean;Ingénieur;;jean.docx"],
            {"jean.docx": word_file("Soudure orbitale")},
        ),
    )
    sales = login(app.test_client(), make_user("sales"))
    assert "jean.docx" in text(sales.get("/alpha/search?q=soudure"))
    partner = make_partner(external_ref="P9", name="Autre")
    agent = make_user("agent", partner_id=partner.id)
    from app.policies import visible

    stmt = visible(select(Attachment), Attachment, agent)
    assert list(db.session.scalars(stmt)) == []


def test_a_missing_or_unreadable_document_fails_its_row_alone(tmp_path, cv_profile, run_import):
    path = archive(
        tmp_path,
        [
            "K1;C1;Lefèvre;Hélène;Développeuse;;lefevre.docx",
            "K2;C1;Martin;Paul;Comptable;;absent.docx",
            "K3;C1;Roux;Anne;Juriste;;abime.docx",
            "K4;C1;Blanc;Luc;Chauffeur;;",
        ],
        {"lefevre.docx": word_file("Hélène"), "abime.docx": b"PK\x03\x04 not a document"},
    )
    run = run_import(cv_profile, path)
    assert run.status == "partial" and run.created == 2 and run.failed == 2
    errors = {e.line: e for e in row_errors(run)}
    assert set(errors) == {3, 4}
    assert errors[3].column == "Fichier CV" and "absent.docx" in errors[3].message
    assert "not in the archive" in errors[3].message or "n’est pas" in errors[3].message
    assert "abime.docx" in errors[4].message
    assert {c.external_ref for c in records("contacts")} == {"K1", "K4"}
    assert _attachments(records("contacts", external_ref="K4")[0]) == []


def test_hostile_members_are_refused_one_by_one_and_the_good_rows_kept(
    tmp_path, cv_profile, run_import, app, monkeypatch
):
    link = zipfile.ZipInfo("lien.docx")
    link.external_attr = 0o120777 << 16
    bomb = zipfile.ZipInfo("bombe.docx")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    path = archive(
        tmp_path,
        [
            "K1;C1;Lefèvre;Hélène;Développeuse;;lefevre.docx",
            "K2;C1;A;A;A;;../../evil.docx",
            "K3;C1;B;B;B;;/etc/cv.docx",
            "K4;C1;C;C;C;;lien.docx",
            "K5;C1;D;D;D;;secret.docx",
            "K6;C1;E;E;E;;bombe.docx",
        ],
        {
            "lefevre.docx": word_file("Hélène"),
            "../../evil.docx": word_file("evil"),
            "/etc/cv.docx": word_file("abs"),
        },
        extra=[
            (link, b"/etc/passwd"),
            (zipfile.ZipInfo("secret.docx"), word_file("locked")),
            (bomb, b"\0" * (4 * 1024 * 1024)),
        ],
    )
    mark_encrypted(path, "secret.docx")
    run = run_import(cv_profile, path)
    assert run.status == "partial" and run.created == 1 and run.failed == 5, (
        run.message,
        [(e.line, e.message) for e in row_errors(run)],
    )
    errors = {e.line: e.message for e in row_errors(run)}
    assert "symbolic link" in errors[5] or "lien symbolique" in errors[5]
    assert "encrypted" in errors[6] or "chiffré" in errors[6]
    assert "times its packed size" in errors[7] or "fois" in errors[7]
    for name in ("../../evil.docx", "/etc/cv.docx", "lien.docx", "secret.docx", "bombe.docx"):
        assert name in run.message, name
    # Nothing was written outside the run's folder.
    assert not (Path(app.config["FILES_DIR"]).parent / "evil.docx").exists()
    [good] = records("contacts")
    assert good.external_ref == "K1" and len(_attachments(good)) == 1


@pytest.mark.parametrize(
    "setting, value, words",
    [
        ("IMPORT_ZIP_MAX_MEMBERS", 3, ("4", "3")),
        ("IMPORT_ZIP_MAX_BYTES", 1024 * 1024, ("1 MB", "1 Mo")),
    ],
)
def test_an_archive_over_its_limits_is_refused_whole(
    tmp_path, cv_profile, run_import, app, monkeypatch, setting, value, words
):
    monkeypatch.setitem(app.config, setting, value)
    path = archive(
        tmp_path,
        ["K1;C1;A;A;A;;a.docx", "K2;C1;B;B;B;;b.docx"],
        {"a.docx": word_file("a"), "b.docx": b"x" * (2 * 1024 * 1024), "c.pdf": pdf_file("c")},
    )
    run = run_import(cv_profile, path)
    assert run.status == "failed" and records("contacts") == []
    assert any(word in run.message for word in words), run.message


def test_an_archive_needs_exactly_one_metadata_file(tmp_path, cv_profile, run_import):
    path = tmp_path / "docs.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("a.docx", word_file("a"))
    run = run_import(cv_profile, path)
    assert run.status == "failed" and ".csv" in run.message
    with zipfile.ZipFile(path, "a") as out:
        out.writestr("un.csv", HEADER)
        out.writestr("deux.txt", HEADER)
    run = run_import(cv_profile, path, force=True)
    assert run.status == "failed" and "un.csv" in run.message and "deux.txt" in run.message


def test_the_same_archive_again_attaches_nothing_twice_and_a_new_cv_replaces_the_old(
    tmp_path, cv_profile, run_import
):
    rows = ["K1;C1;Lefèvre;Hélène;Développeuse;;lefevre.docx"]
    run_import(cv_profile, archive(tmp_path, rows, {"lefevre.docx": word_file("version un")}))
    again = run_import(
        cv_profile, archive(tmp_path, rows, {"lefevre.docx": word_file("version un")}), force=True
    )
    assert again.status == "succeeded" and again.unchanged == 1
    contact = records("contacts")[0]
    assert len(_attachments(contact)) == 1
    run_import(
        cv_profile,
        archive(tmp_path, rows, {"lefevre.docx": word_file("version deux")}, name="v2.zip"),
    )
    [attached] = _attachments(contact)
    assert "version deux" in attached.extracted_text


def test_a_txt_metadata_file_in_utf8_with_tabs_is_read_like_a_csv(tmp_path, cv_profile, run_import):
    path = tmp_path / "cvs.zip"
    lines = [HEADER.replace(";", "\t"), "K1\tC1\tŒuvre\tZoë\tCheffe\t\tzoe.docx"]
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("export/metadata.TXT", "\n".join(lines).encode("utf-8"))
        out.writestr("export/zoe.docx", word_file("Zoë"))
    run = run_import(cv_profile, path)
    assert run.status == "succeeded", run.message
    contact = records("contacts")[0]
    assert contact.last_name == "Œuvre" and len(_attachments(contact)) == 1


def test_a_dry_run_checks_the_documents_and_attaches_nothing(tmp_path, cv_profile, run_import):
    path = archive(
        tmp_path, ["K1;C1;A;A;A;;a.docx", "K2;C1;B;B;B;;b.docx"], {"a.docx": word_file("a")}
    )
    run = run_import(cv_profile, path, dry_run=True)
    assert run.created == 1 and run.failed == 1
    assert records("contacts") == [] and db.session.scalar(select(Attachment.id)) is None


def test_a_profile_refuses_a_documents_setting_without_its_column(make_profile):
    from app.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        make_profile(
            "contacts", {"Nom": "last_name", "Réf": "external_ref"}, documents={"colonne": "CV"}
        )
    assert "documents" in refused.value.errors


def test_a_revert_deletes_the_contacts_the_archive_created_with_their_cvs(
    tmp_path, cv_profile, run_import
):
    run = run_import(
        cv_profile,
        archive(tmp_path, ["K1;C1;Martin;Paul;Comptable;15/03/2027;martin.pdf"],
                {"martin.pdf": pdf_file("Paul Martin expert-comptable")}),
    )
    assert run.created == 1
    plan = revert_run(db.session.get(ImportRun, run.id))
    db.session.commit()
    assert (len(plan.deleted), plan.archived) == (1, [])
    assert records("contacts", external_ref="K1") == []
    assert db.session.scalars(select(Attachment)).all() == []


def test_a_created_contact_someone_attached_a_file_to_since_is_archived_with_its_files(
    tmp_path, cv_profile, run_import
):
    run = run_import(
        cv_profile,
        archive(tmp_path, ["K1;C1;Martin;Paul;Comptable;15/03/2027;martin.pdf"],
                {"martin.pdf": pdf_file("Paul Martin expert-comptable")}),
    )
    contact = records("contacts", external_ref="K1")[0]
    add_attachment(contact, "lettre.pdf", io.BytesIO(pdf_file("Lettre de motivation")))
    db.session.commit()
    plan = revert_run(db.session.get(ImportRun, run.id))
    db.session.commit()
    assert (plan.deleted, plan.archived) == ([], [contact.id])
    assert len(_attachments(records("contacts", external_ref="K1")[0])) == 2


def test_a_revert_gives_back_the_cv_the_run_replaced_and_removes_the_one_it_added(
    tmp_path, cv_profile, run_import
):
    rows = ["K1;C1;Lefèvre;Hélène;Développeuse;;lefevre.docx"]
    run_import(cv_profile, archive(tmp_path, rows, {"lefevre.docx": word_file("version un")}))
    contact = records("contacts")[0]
    second = run_import(cv_profile, archive(
        tmp_path, ["K1;C1;Lefèvre;Hélène;Développeuse senior;;lefevre.docx",
                   "K2;C1;Roux;Anne;Juriste;;roux.pdf"],
        {"lefevre.docx": word_file("version deux"), "roux.pdf": pdf_file("Anne Roux")},
        name="v2.zip"))
    [attached] = _attachments(contact)
    assert "version deux" in attached.extracted_text
    plan = revert_run(db.session.get(ImportRun, second.id))
    db.session.commit()
    db.session.expire_all()
    assert plan.restored == [contact.id] and len(plan.deleted) == 1
    assert records("contacts", external_ref="K1")[0].custom["poste"] == "Développeuse"
    [back] = _attachments(contact)
    assert back.file_name == "lefevre.docx" and "version un" in back.extracted_text
    assert db.session.scalars(select(Attachment)).all() == [back]


def _night(tmp_path, cv_profile, run_import, poste: str, text: str, name: str):
    rows = [f"K1;C1;Lefèvre;Hélène;{poste};;lefevre.docx"]
    return run_import(cv_profile, archive(tmp_path, rows, {"lefevre.docx": word_file(text)},
                                          name=name))


def test_a_revert_leaves_the_files_someone_changed_since_as_they_are(
    tmp_path, cv_profile, run_import
):
    _night(tmp_path, cv_profile, run_import, "Dév", "version zéro", "v0.zip")
    contact = records("contacts")[0]
    monday = _night(tmp_path, cv_profile, run_import, "Dév senior", "version un", "v1.zip")
    [theirs] = _attachments(contact)
    delete_attachment(theirs)  # a user replaces the run's CV by hers
    add_attachment(contact, "lefevre.docx", io.BytesIO(word_file("version de l'utilisatrice")))
    db.session.commit()
    plan = revert_run(db.session.get(ImportRun, monday.id))
    db.session.commit()
    db.session.expire_all()
    assert plan.restored == [contact.id]
    assert [a.extracted_text.strip() for a in _attachments(contact)] \
        == ["version de l'utilisatrice"]


def test_an_archive_run_that_only_replaced_a_cv_can_be_reverted(tmp_path, cv_profile,
                                                                 run_import):
    """The nightly archive gives an existing contact a new CV (same values otherwise): the
    run changed the contact's files, so it can be undone and the former CV comes back."""
    rows = ["K1;C1;Lefèvre;Hélène;Développeuse;;lefevre.docx"]
    run_import(cv_profile, archive(tmp_path, rows, {"lefevre.docx": word_file("version un")}))
    contact = records("contacts")[0]
    second = run_import(cv_profile, archive(
        tmp_path, rows, {"lefevre.docx": word_file("version deux")}, name="v2.zip"))
    [attached] = _attachments(contact)
    assert "version deux" in attached.extracted_text  # the run did replace the CV
    assert (second.counts["updated"], second.attached) == (0, 1)
    assert second.can_revert
    revert_run(db.session.get(ImportRun, second.id))
    db.session.commit()
    db.session.expire_all()
    [back] = _attachments(contact)
    assert "version un" in back.extracted_text
