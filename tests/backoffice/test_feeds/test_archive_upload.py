"""A ZIP archive of CVs uploaded on a profile's page: the run page says how many documents
went in and which members were refused."""

from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import select

from app.extensions import db
from app.models import ImportProfile, ImportRun
from app.services import feeds
from tests.backoffice.conftest import text
from tests.importers.test_archives import HEADER, PROFILE, word_file


def test_an_archive_uploaded_on_the_profile_page_attaches_its_documents(
    admin_client, tenant, make_account, make_field, submitted
):
    make_account(external_ref="C1", name="Cabinet")
    make_field("contacts", "poste", label_fr="Poste")
    make_field("contacts", "dispo", type="date", label_fr="Dispo")
    profile = feeds.create_profile({"name": "cv", "entity": "contacts", **PROFILE})
    db.session.commit()
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "cvs.csv",
            "\r\n".join(
                [
                    HEADER,
                    "K1;C1;Lefèvre;Hélène;Développeuse;;cv.docx",
                    "K2;C1;Martin;Paul;Comptable;;../hors.docx",
                ]
            ).encode("cp1252"),
        )
        archive.writestr("cv.docx", word_file("Hélène"))
        archive.writestr("../hors.docx", word_file("hors"))
    data.seek(0)
    response = admin_client.post(
        f"/alpha/feeds/profiles/{profile.id}/runs",
        data={"file": (data, "cvs.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.data[:300]
    run_id = int(re.search(r"/feeds/runs/(\d+)$", response.headers["Location"]).group(1))
    db.session.expire_all()
    run = db.session.get(ImportRun, run_id)
    assert run.status == "partial" and run.created == 1 and run.failed == 1
    page = text(admin_client.get(f"/alpha/feeds/runs/{run_id}"))
    assert "../hors.docx" in page and "1" in page


def test_the_profile_form_sets_and_keeps_the_documents_column(admin_client, tenant, make_field):
    make_field("contacts", "poste", label_fr="Poste")
    make_field("contacts", "dispo", type="date", label_fr="Dispo")
    form = {
        "name": "cv",
        "entity": "contacts",
        "mode": "upsert",
        "key": "external_ref",
        "encoding": "auto",
        "delimiter": "auto",
        "date_format": "auto",
        "decimal": "auto",
        "documents_column": "Fichier CV",
        "column_header": list(PROFILE["columns"]),
        "column_target": list(PROFILE["columns"].values()),
        "action": "save",
    }
    response = admin_client.post("/alpha/feeds/profiles/new", data=form)
    assert response.status_code == 302, text(response)[:500]
    profile = db.session.scalar(select(ImportProfile))
    assert profile.definition["documents"] == {"column": "Fichier CV"}
    page = admin_client.get(f"/alpha/feeds/profiles/{profile.id}/edit").data.decode()
    assert 'value="Fichier CV"' in page
    assert "Fichier CV" in text(admin_client.get(f"/alpha/feeds/profiles/{profile.id}"))
    response = admin_client.post(
        f"/alpha/feeds/profiles/{profile.id}/edit", data={**form, "documents_column": ""}
    )
    db.session.expire_all()
    assert "documents" not in db.session.get(ImportProfile, profile.id).definition
