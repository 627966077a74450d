"""A ZIP archive of CVs through /api/v1/imports: the kind of file is read from its content,
and the profile's documents setting round-trips through /api/v1/import-profiles."""

from __future__ import annotations

import io

from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, Contact
from tests.api.conftest import run_queued
from tests.importers.test_archives import HEADER, PROFILE, word_file


def _zip(rows: list[str], documents: dict[str, bytes]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cvs.csv", "\r\n".join([HEADER, *rows]).encode("cp1252"))
        for name, data in documents.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_zip_of_cvs_goes_in_through_the_api(
    api_client, tenant, make_account, make_field, queued_jobs
):
    make_account(external_ref="C1", name="Cabinet")
    make_field("contacts", "poste", label_fr="Poste")
    make_field("contacts", "dispo", type="date", label_fr="Dispo")
    created = api_client.post(
        "/api/v1/import-profiles", json={"name": "cv-hebdo", "entity": "contacts", **PROFILE}
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["documents"] == {"column": "Fichier CV"}
    data = _zip(
        [
            "K1;C1;Lefèvre;Hélène;Développeuse;;cv.docx",
            "K2;C1;Martin;Paul;Comptable;;manquant.docx",
        ],
        {"cv.docx": word_file("Hélène Lefèvre, soudeuse TIG")},
    )
    response = api_client.post(
        "/api/v1/imports",
        data={"profile": "cv-hebdo", "file": (io.BytesIO(data), "envoi.bin")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    run_queued(queued_jobs)
    run = api_client.get(f"/api/v1/imports/{response.get_json()['id']}").get_json()
    assert run["status"] == "partial" and run["counts"]["created"] == 1
    assert run["errors"][0]["line"] == 3 and "manquant.docx" in run["errors"][0]["message"]
    contact = db.session.scalar(select(Contact).where(Contact.external_ref == "K1"))
    attached = db.session.scalar(select(Attachment).where(Attachment.record_id == contact.id))
    assert "soudeuse TIG" in attached.extracted_text


def test_a_documents_setting_without_its_column_answers_422(api_client, tenant):
    response = api_client.post(
        "/api/v1/import-profiles",
        json={
            "name": "cv",
            "entity": "contacts",
            "columns": {"Nom": "last_name", "Réf": "external_ref"},
            "documents": {"col": "CV"},
        },
    )
    assert response.status_code == 422
