"""Row errors and run messages kept by id, read in the reader's language: an English
reader of a run made by a French worker reads English."""
from __future__ import annotations

from app.extensions import db
from tests.importers.conftest import all_errors
from tests.importers.test_archives import archive, cv_profile, word_file  # noqa: F401

CALL_REPORT = {"N° appel": "external_ref", "Code client": "account.external_ref",
               "Type": "kind", "Date": "done_at", "Objet": "subject", "Compte rendu": "body",
               "Contact": "contact.external_ref"}


def test_an_activity_on_another_customers_record_reads_in_the_readers_language(
        make_profile, run_import, feed_file, make_account, make_contact, api_client):
    """The run ran in the tenant's language (French); an English reader reads its error in
    English, with its message's id."""
    dupont = make_account(name="Stores Dupont", external_ref="C001")
    martin = make_account(name="Volets Martin", external_ref="C002")
    make_contact(account=martin.id, external_ref="K2", last_name="Martin")
    make_contact(account=dupont.id, external_ref="K1", last_name="Dupont")
    profile = make_profile("activities", CALL_REPORT)
    run = run_import(profile, feed_file(
        "N° appel;Code client;Type;Date;Objet;Compte rendu;Contact\n"
        "A1;C001;Appel;04/12/2026 14:30;Relance;;K1\n"
        "A2;C001;Appel;04/12/2026 15:00;Mauvais contact;;K2\n"))
    assert run.failed == 1
    [error] = all_errors(api_client, run.id, language="en")
    assert error["message"] == "This record is not one of the activity's customer.", error
    assert error["code"] is not None


def test_a_refused_documents_reason_reads_in_the_readers_language(
        tmp_path, cv_profile, run_import, api_client):  # noqa: F811
    """Why a member was refused is a message of its own, inside the row's: an English reader
    reads it in English too, a French one in French."""
    import zipfile

    profile = cv_profile
    link = zipfile.ZipInfo("lien.docx")
    link.external_attr = 0o120777 << 16
    path = archive(tmp_path, ["K1;C1;Lefèvre;Hélène;Dev;;ok.docx",
                              "K2;C1;Martin;Paul;Dev;;lien.docx"],
                   {"ok.docx": word_file("Hélène")}, extra=[(link, b"/etc/passwd")])
    run = run_import(profile, path)
    assert run.failed == 1
    [error] = all_errors(api_client, run.id, language="en")
    assert error["message"] == "The document “lien.docx” was refused: it is a symbolic link."
    [error] = all_errors(api_client, run.id, language="fr")
    assert error["message"] == "Le document « lien.docx » a été refusé : c’est un lien symbolique."


def test_a_run_stopped_by_an_unexpected_error_says_so_in_the_readers_language(
        make_profile, run_import, feed_file, api_client, monkeypatch):
    """The worker (French, the tenant's language) ends the run failed: an English reader
    reads why in English."""
    from importers.engine import ImportEngine

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(ImportEngine, "execute", broken)
    profile = make_profile("partners", {"Code": "external_ref", "Nom": "name"})
    run = run_import(profile, feed_file("Code;Nom\nP1;Un\n"))
    assert run.status == "failed"
    body = api_client.get(f"/api/v1/imports/{run.id}",
                          headers={"Accept-Language": "en"}).get_json()
    assert body["message"] == ("The run stopped on an unexpected error (RuntimeError: boom). "
                               "Run it again."), body["message"]


def test_a_run_of_a_profile_whose_custom_field_was_switched_off_reads_in_the_readers_language(
        make_profile, make_custom_field, run_import, feed_file, api_client):
    """The run fails on its profile (a custom field switched off since it was saved): each
    reader reads why in his language."""
    field = make_custom_field("partners", "region", "text", label_fr="Région", label_en="Region")
    profile = make_profile("partners", {"Code": "external_ref", "Nom": "name",
                                        "Région": "custom.region"})
    field.is_active = False
    db.session.commit()
    run = run_import(profile, feed_file("Code;Nom;Région\nP1;Un;Nord\n"))
    assert run.status == "failed" and run.message
    english = api_client.get(f"/api/v1/imports/{run.id}",
                             headers={"Accept-Language": "en"}).get_json()["message"]
    french = api_client.get(f"/api/v1/imports/{run.id}",
                            headers={"Accept-Language": "fr"}).get_json()["message"]
    assert english == ("The profile cannot be used: columns.Région: “custom.region” is not a "
                       "field of Partners.")
    assert french == ("Le profil ne peut pas servir : columns.Région: «\u00a0custom.region\u00a0» "
                      "n’est pas un champ de Partenaires.")


def test_a_refused_metadata_files_reason_reads_in_the_readers_language(
        tmp_path, cv_profile, run_import, api_client):  # noqa: F811
    """The archive's only metadata file is a symbolic link: the run fails "The metadata file
    “cvs.csv” was refused: …", its reason in the reader's language too."""
    import zipfile

    profile = cv_profile
    path = tmp_path / "cvs.zip"
    link = zipfile.ZipInfo("cvs.csv")
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(path, "w") as out:
        out.writestr(link, b"/etc/passwd")
        out.writestr("ok.docx", word_file("Luc"))
    run = run_import(profile, path)
    assert run.status == "failed"
    english = api_client.get(f"/api/v1/imports/{run.id}",
                             headers={"Accept-Language": "en"}).get_json()["message"]
    assert english == "The metadata file “cvs.csv” was refused: it is a symbolic link.", english


def test_an_archive_runs_note_reads_in_the_readers_language(
        tmp_path, cv_profile, run_import, api_client):  # noqa: F811
    """A run of an archive says how many documents it attached and which members it refused;
    an English reader reads it in English, a French one in French."""
    import zipfile

    profile = cv_profile
    link = zipfile.ZipInfo("lien.docx")
    link.external_attr = 0o120777 << 16
    path = archive(tmp_path, ["K1;C1;Blanc;Luc;Dev;;ok.docx"], {"ok.docx": word_file("Luc")},
                   extra=[(link, b"/etc/passwd")])
    run = run_import(profile, path)
    assert run.status == "succeeded" and run.message, run.message
    english = api_client.get(f"/api/v1/imports/{run.id}",
                             headers={"Accept-Language": "en"}).get_json()["message"]
    assert english == ("Documents attached: 1. Files of the archive refused: “lien.docx” was "
                       "refused: it is a symbolic link."), english
    french = api_client.get(f"/api/v1/imports/{run.id}",
                            headers={"Accept-Language": "fr"}).get_json()["message"]
    assert "Documents joints" in french and "lien symbolique" in french, french
