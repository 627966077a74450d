"""Import profiles in the back office: the mapping screen and its suggestions, the JSON
editor, versions, and input that must be refused with a message and nothing saved."""
from __future__ import annotations

import html
import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import select

from app.backoffice.feed_mapping import suggest
from app.entities import ENTITIES
from app.extensions import db
from app.models import ImportProfile, ImportProfileVersion
from app.services.tokens import create_token
from tests.api.conftest import bearer
from tests.backoffice.conftest import count_rows, fr, text
from tests.backoffice.test_feeds.conftest import INVOICE_PROFILE, csv_file

SAMPLE_HEADERS = ["N° Facture", "Code client", "Date", "Montant TTC", "Promoteur"]
EXPECTED = {"N° Facture": "number", "Code client": "account.external_ref", "Date": "issued_on",
            "Montant TTC": "total", "Promoteur": "custom.promoteur"}


def chosen_targets(response) -> dict[str, str]:
    """Each column of the mapping screen and the target its select shows chosen."""
    page = response.data.decode()
    found = {}
    for index, header in re.findall(r'<label class="fw-semibold d-block" for="target-(\d+)">'
                                    r'([^<]*)</label>', page):
        select_html = re.search(rf'<select[^>]*id="target-{index}">(.*?)</select>', page, re.S)
        selected = re.search(r'<option value="([^"]*)" selected>', select_html.group(1))
        found[html.unescape(header)] = selected.group(1) if selected else ""
    return found


def _options(**over) -> dict:
    return {"name": "factures-nuit", "entity": "invoices", "mode": "upsert", "key": "number",
            "encoding": "auto", "delimiter": "auto", "date_format": "auto", "decimal": "auto",
            **over}


def _mapping(columns: dict[str, str], **over) -> dict:
    return {**_options(**over), "column_header": list(columns), "column_target": list(
        columns.values()), "action": "save"}


def _xlsx(rows: list[list]) -> io.BytesIO:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    return out


def test_headers_are_matched_to_fields_whatever_their_case_and_accents(app_ctx, promoteur):
    assert suggest(ENTITIES["invoices"], SAMPLE_HEADERS) == EXPECTED
    shouting = ["N° FACTURE", "code CLIENT", "DATE", "montant ttc", "PROMOTEUR", "Commentaire"]
    assert suggest(ENTITIES["invoices"], shouting) == {
        h: EXPECTED[s] for h, s in zip(shouting, SAMPLE_HEADERS, strict=False)}


@pytest.mark.parametrize(("entity", "headers", "expected"), [
    ("invoices", ["Invoice number", "Customer", "Issued on", "Total", "Developer"],
     ["number", "account.external_ref", "issued_on", "total", "custom.promoteur"]),
    ("accounts", ["Code client", "Raison sociale", "Nom", "CP", "Ville", "Téléphone"],
     ["external_ref", "name", "", "postal_code", "city", "phone"]),
    ("accounts", ["RAISON SOCIALE", "Adresse 1", "Code Postal", "Commune", "TVA intracom"],
     ["name", "address_line", "postal_code", "city", "vat_number"]),
    ("accounts", ["Dénomination", "c.p."], ["name", "postal_code"]),
    ("partners", ["Société", "Courriel"], ["name", "email"]),
    ("contacts", ["Nom de famille", "Prénom", "Poste", "Code client"],
     ["last_name", "first_name", "job_title", "account.external_ref"]),
    ("invoices", ["N° facture", "Date facture", "Date d'échéance", "Montant HT", "Montant TTC",
                  "TVA", "Déjà réglé"],
     ["number", "issued_on", "due_on", "total_excl_tax", "total", "tax_total", "amount_paid"]),
    ("quotes", ["HT", "TTC", "Validité"], ["total_excl_tax", "total", "valid_until"]),
    ("deals", ["Objet", "Montant HT", "Phase", "Date de clôture"],
     ["title", "amount", "stage", "expected_close_on"]),
    ("contracts", ["Date d'effet", "Date de fin", "Mensualité"],
     ["starts_on", "ends_on", "recurring_amount"]),
    ("deliveries", ["N° BL", "Transporteur", "Numéro de suivi", "Date d'expédition"],
     ["number", "carrier", "tracking_number", "shipped_on"]),
    ("invoices", ["N° facture", "Réf. article", "Désignation", "Qté", "PU HT", "Taux TVA"],
     ["number", "lines.sku", "lines.label", "lines.quantity", "lines.unit_price",
      "lines.tax_rate"]),
])
def test_usual_headers_of_real_files_get_a_suggestion(app_ctx, promoteur, entity, headers,
                                                      expected):
    guesses = suggest(ENTITIES[entity], headers)
    assert [guesses.get(h, "") for h in headers] == expected


def test_mapping_screen_reads_a_sample_and_suggests_each_column(admin_client, promoteur):
    assert admin_client.get("/alpha/feeds/profiles/new").status_code == 200
    response = admin_client.post("/alpha/feeds/profiles/new", data={
        **_options(), "action": "read", "sample": csv_file(
            "N° Facture;Code client;Date;Montant TTC;Promoteur",
            "F001;C001;31/12/2025;1 234,56;Durand", "F002;C002;01/01/2026;10,00;Nexity")},
        content_type="multipart/form-data")
    assert response.status_code == 200
    assert chosen_targets(response) == EXPECTED
    page = text(response)
    assert "F001 · F002" in page and "1 234,56 · 10,00" in page  # sample values
    assert count_rows(ImportProfile) == 0  # a sample is read, never saved


def test_an_xlsx_sample_is_read_too(admin_client, promoteur):
    workbook = _xlsx([SAMPLE_HEADERS, ["F001", "C001", "2025-12-31", 1234.56, "Durand"]])
    response = admin_client.post("/alpha/feeds/profiles/new", data={
        **_options(), "action": "read", "sample": (workbook, "factures.xlsx")},
        content_type="multipart/form-data")
    assert chosen_targets(response) == EXPECTED
    assert "1234.56" in text(response)


def test_an_unreadable_sample_is_explained(admin_client):
    response = admin_client.post("/alpha/feeds/profiles/new", data={
        **_options(), "action": "read", "sample": (io.BytesIO(b""), "vide.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert fr("The file is empty.") in text(response)
    missing = admin_client.post("/alpha/feeds/profiles/new", data={**_options(),
                                                                   "action": "read"})
    assert fr("Choose a sample file.") in text(missing)


def test_changing_the_entity_suggests_again(admin_client, promoteur):
    columns = {"Code client": "", "Nom": "", "Ville": ""}
    response = admin_client.post("/alpha/feeds/profiles/new", data={
        **_mapping(columns, entity="accounts", key="external_ref"), "action": "suggest"})
    assert chosen_targets(response) == {"Code client": "external_ref", "Nom": "name",
                                        "Ville": "city"}


def test_admin_saves_a_profile_from_the_mapping_screen(admin_client, admin_user, promoteur):
    columns = {**EXPECTED, "Commentaire": ""}
    response = admin_client.post("/alpha/feeds/profiles/new", data=_mapping(
        columns, date_format="%d/%m/%Y", delimiter="tab", full_sync="y"))
    assert response.status_code == 302
    profile = db.session.scalar(select(ImportProfile))
    assert response.headers["Location"].endswith(f"/alpha/feeds/profiles/{profile.id}")
    assert profile.version == 1 and profile.entity == "invoices"
    assert profile.definition["columns"] == columns  # an ignored column stays, unmapped
    assert profile.definition["delimiter"] == "\t" and profile.definition["full_sync"] is True
    page = text(admin_client.get(f"/alpha/feeds/profiles/{profile.id}"))
    assert "factures-nuit" in page and "v1" in page and admin_user.email in page


def test_editing_a_profile_keeps_every_version(admin_client, admin_user, invoice_profile):
    url = f"/alpha/feeds/profiles/{invoice_profile.id}/edit"
    form = admin_client.get(url)
    assert chosen_targets(form) == {h: t for h, t in INVOICE_PROFILE["columns"].items()}
    columns = {**INVOICE_PROFILE["columns"], "Promoteur": ""}
    assert admin_client.post(url, data=_mapping(columns, mode="update")).status_code == 302
    db.session.expire_all()
    assert invoice_profile.version == 2 and invoice_profile.definition["mode"] == "update"
    versions = db.session.scalars(select(ImportProfileVersion).order_by(
        ImportProfileVersion.version)).all()
    assert [(v.version, v.definition["mode"]) for v in versions] == [(1, "upsert"),
                                                                      (2, "update")]
    assert versions[1].created_by == admin_user.email
    page = admin_client.get(f"/alpha/feeds/profiles/{invoice_profile.id}").data.decode()
    # Newest first, each with its JSON (whole tags: a random CSRF token may hold "v1").
    assert page.index("<strong>v2</strong>") < page.index("<strong>v1</strong>")
    assert html.escape('"mode": "upsert"', quote=False) in page.replace("&#34;", '"')


def test_a_profile_keeps_its_columns_in_the_files_order(admin_client, promoteur):
    """An admin maps the columns as his file gives them: the mapping screen, the JSON editor
    and every later read list them in that order, on PostgreSQL as on SQLite (a key's length
    or spelling puts nothing first)."""
    columns = {"Promoteur": "custom.promoteur", "N° Facture": "number",
               "Montant TTC": "total", "Date": "issued_on", "Code client": "account.external_ref",
               "Commentaire libre": ""}
    assert admin_client.post("/alpha/feeds/profiles/new", data=_mapping(
        columns)).status_code == 302
    profile = db.session.scalar(select(ImportProfile))
    url = f"/alpha/feeds/profiles/{profile.id}"
    assert list(chosen_targets(admin_client.get(f"{url}/edit"))) == list(columns)
    stored = json.loads(html.unescape(re.search(
        r'<textarea[^>]*name="definition"[^>]*>(.*?)</textarea>',
        admin_client.get(f"{url}/json").data.decode(), re.S).group(1)))
    assert list(stored) [:4] == ["name", "entity", "mode", "columns"]
    assert list(stored["columns"]) == list(columns)
    # The file now gives its columns in another order: saved so, as a new version (a row's
    # fingerprint joins its cells in the profile's order).
    reordered = dict(reversed(list(columns.items())))
    assert admin_client.post(f"{url}/edit", data=_mapping(reordered)).status_code == 302
    db.session.expire_all()
    assert profile.version == 2
    assert list(chosen_targets(admin_client.get(f"{url}/edit"))) == list(reordered)
    assert admin_client.post(f"{url}/edit", data=_mapping(reordered)).status_code == 302
    db.session.expire_all()
    assert [list(v.definition["columns"]) for v in profile.versions] == [list(reordered),
                                                                           list(columns)]


@pytest.mark.parametrize(("columns", "over", "message"), [
    ({**EXPECTED, "Promoteur": "custom.inconnu"}, {},
     lambda: fr("“%(target)s” is not a field of %(entity)s.", target="custom.inconnu",
                entity=fr("Invoices"))),
    ({h: t for h, t in EXPECTED.items() if t != "number"}, {},
     lambda: fr("Map a column to %(key)s: it identifies records between runs.", key="number")),
    (EXPECTED, {"name": ""}, lambda: fr(
        "Give the profile a name of at most 100 characters, on one line and without "
        "slashes.")),
    (EXPECTED, {"name": "factures/nuit"}, lambda: fr(
        "Give the profile a name of at most 100 characters, on one line and without "
        "slashes.")),
    (EXPECTED, {"name": "factures\tnuit"}, lambda: fr(
        "Give the profile a name of at most 100 characters, on one line and without "
        "slashes.")),
    (EXPECTED, {"date_format": "jj/mm/aaaa"},
     lambda: fr("Write the date format like %(example)s.", example="%d/%m/%Y")),
    ({"Code": "number", "Numéro": "number"}, {},
     lambda: fr("Two columns go to “%(target)s”.", target="number")),
])
def test_bad_mappings_are_refused_with_a_message_and_nothing_saved(
        admin_client, promoteur, columns, over, message):
    response = admin_client.post("/alpha/feeds/profiles/new", data=_mapping(columns, **over))
    assert response.status_code == 422
    assert message() in text(response)
    assert count_rows(ImportProfile) == 0 and count_rows(ImportProfileVersion) == 0


def test_a_name_typed_in_word_is_accepted_and_a_look_alike_refused(admin_client, promoteur):
    name = "Factures – import nocturne « Société » l’été"
    response = admin_client.post("/alpha/feeds/profiles/new", data=_mapping(EXPECTED, name=name))
    assert response.status_code == 302, text(response)
    assert db.session.scalar(select(ImportProfile.name)) == name
    assert name in text(admin_client.get("/alpha/feeds/"))
    twin = admin_client.post("/alpha/feeds/profiles/new", data=_mapping(
        EXPECTED, name="factures - import nocturne \"Société\" l'été"))
    assert twin.status_code == 422
    assert fr("A profile with this name already exists.") in text(twin)
    assert count_rows(ImportProfile) == 1


def test_a_bad_edit_leaves_the_profile_as_it_was(admin_client, invoice_profile):
    columns = {**INVOICE_PROFILE["columns"], "Montant TTC": "montant"}
    response = admin_client.post(f"/alpha/feeds/profiles/{invoice_profile.id}/edit",
                                 data=_mapping(columns))
    assert response.status_code == 422
    assert chosen_targets(response)["Montant TTC"] == "montant"  # the wrong choice stays shown
    db.session.expire_all()
    assert invoice_profile.version == 1 and count_rows(ImportProfileVersion) == 1


def test_the_json_editor_creates_and_edits_profiles(admin_client, promoteur):
    new = admin_client.get("/alpha/feeds/profiles/new/json")
    assert new.status_code == 200 and "account.external_ref" in text(new)
    response = admin_client.post("/alpha/feeds/profiles/new/json", data={
        "definition": json.dumps(INVOICE_PROFILE)})
    assert response.status_code == 302
    profile = db.session.scalar(select(ImportProfile))
    edited = {**INVOICE_PROFILE, "decimal": ","}
    url = f"/alpha/feeds/profiles/{profile.id}/json"
    assert "factures-nuit" in text(admin_client.get(url))
    assert admin_client.post(url, data={"definition": json.dumps(edited)}).status_code == 302
    db.session.expire_all()
    assert profile.version == 2 and profile.definition["decimal"] == ","


@pytest.mark.parametrize(("definition", "message"), [
    ('{"name": "x",\n "entity": ', lambda: fr(
        "This is not valid JSON (line %(line)d, column %(column)d).", line=2, column=12)),
    ('["a list"]', lambda: fr("A profile is a JSON object.")),
    ('{"name": "x", "entity": "invoices", "columns": {"A": "nowhere"}, "key": "number"}',
     lambda: fr("“%(target)s” is not a field of %(entity)s.", target="nowhere",
                entity=fr("Invoices"))),
    ('{"name": "x", "entity": "planets", "columns": {"A": "number"}}',
     lambda: fr("Choose the entity the file feeds.")),
    ('{"name": ' + "[" * 100_000, lambda: fr(
        "The JSON body is nested too deeply (%(depth)d levels at most).", depth=32)),
    ('{"name": 1' + "0" * 4301 + "}", lambda: fr("A number in the JSON body has too many digits.")),
])
def test_the_json_editor_refuses_bad_json_with_a_message(admin_client, definition, message):
    response = admin_client.post("/alpha/feeds/profiles/new/json",
                                 data={"definition": definition})
    assert response.status_code == 422
    assert message() in text(response)
    assert definition in html.unescape(response.data.decode())  # kept, to be fixed
    assert count_rows(ImportProfile) == 0


def test_profiles_list_shows_each_profile_and_its_last_run(sales_client, invoice_profile,
                                                           add_run):
    add_run(invoice_profile, "partial", failed=2)
    page = text(sales_client.get("/alpha/feeds/profiles"))
    for shown in ("factures-nuit", fr("Invoices"), "v1", fr("Create or update"),
                  fr("Partly imported")):
        assert shown in page
    assert fr("Edit") not in page  # sales read, admins edit


def test_a_profile_names_the_worksheet_its_sample_and_files_are_read_from(admin_client,
                                                                           promoteur):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Exporté le 31/12/2025"])
    workbook.create_sheet("Factures").append(SAMPLE_HEADERS)
    sample = io.BytesIO()
    workbook.save(sample)
    sample.seek(0)
    response = admin_client.post("/alpha/feeds/profiles/new", data={
        **_options(sheet="Factures"), "action": "read", "sample": (sample, "export.xlsx")},
        content_type="multipart/form-data")
    assert chosen_targets(response) == EXPECTED  # the headers of the sheet named
    saved = admin_client.post("/alpha/feeds/profiles/new", data=_mapping(
        EXPECTED, sheet=" Factures "))
    assert saved.status_code == 302
    profile = db.session.scalar(select(ImportProfile))
    assert profile.definition["sheet"] == "Factures"
    form = admin_client.get(f"/alpha/feeds/profiles/{profile.id}/edit")
    assert 'name="sheet" type="text" value="Factures"' in form.data.decode()


def _version_shown(response) -> str:
    return re.search(r'name="version"[^>]*value="(\d+)"', response.data.decode()).group(1)


def _integrator(app):
    """An ERP's API client, editing the tenant's profiles as admins do."""
    _token, secret = create_token("ERP", "read,write,import")
    db.session.commit()
    return bearer(app, secret)


def test_a_mapping_screen_opened_before_an_integrators_change_does_not_undo_it(
        app, admin_client, invoice_profile):
    """The admin opens the mapping screen; meanwhile an integrator turns full sync on through
    the API. The admin's save is refused with the reason, not a silent undo of full sync."""
    url = f"/alpha/feeds/profiles/{invoice_profile.id}/edit"
    shown = _version_shown(admin_client.get(url))
    api = _integrator(app)
    assert api.patch(f"/api/v1/import-profiles/{invoice_profile.id}",
                     json={"full_sync": True}).status_code == 200
    refused = admin_client.post(url, data={**_mapping(INVOICE_PROFILE["columns"],
                                                      mode="update"), "version": shown})
    assert refused.status_code == 422
    assert "rouvrez-le pour voir ce changement" in text(refused)
    db.session.expire_all()
    assert (invoice_profile.version, invoice_profile.definition["full_sync"],
            invoice_profile.definition["mode"]) == (2, True, "upsert")
    again = _version_shown(admin_client.get(url))
    assert admin_client.post(url, data={**_mapping(INVOICE_PROFILE["columns"], mode="update",
                                                   full_sync="y"), "version": again}
                             ).status_code == 302


def test_a_json_page_opened_before_another_change_does_not_undo_it(
        app, admin_client, invoice_profile):
    url = f"/alpha/feeds/profiles/{invoice_profile.id}/json"
    shown = _version_shown(admin_client.get(url))
    api = _integrator(app)
    columns = {**INVOICE_PROFILE["columns"], "Échéance": "due_on"}
    assert api.patch(f"/api/v1/import-profiles/{invoice_profile.id}",
                     json={"columns": columns}).status_code == 200
    refused = admin_client.post(url, data={"definition": json.dumps(
        {**INVOICE_PROFILE, "mode": "update"}), "version": shown})
    assert refused.status_code == 422
    db.session.expire_all()
    assert "Échéance" in invoice_profile.definition["columns"]


def test_a_profile_of_more_columns_than_a_file_has_is_refused_not_cut_short(
        admin_client, promoteur):
    """Past 500 columns (a file's most) the mapping screen kept the first 500 without a
    word, and the mapping of the last column with them."""
    columns = {**EXPECTED, **{f"Colonne {i}": "" for i in range(600)}, "Échéance": "due_on"}
    response = admin_client.post("/alpha/feeds/profiles/new", data=_mapping(columns))
    assert response.status_code == 422
    assert fr("A profile names at most %(limit)s columns, as many as a file may have.",
              limit="500") in text(response)
    assert db.session.scalar(select(ImportProfile)) is None


def test_the_json_page_refuses_a_key_given_twice(admin_client, promoteur):
    """A line copied and its header left: "Nom" → name, then "Nom" → email. JSON keeps the
    last one, and the name mapping was lost without a word."""
    text_ = ('{"name": "partenaires", "entity": "partners",\n'
             ' "columns": {"Code": "external_ref", "Nom": "name", "Nom": "email"}}')
    response = admin_client.post("/alpha/feeds/profiles/new/json", data={"definition": text_})
    assert response.status_code == 422
    assert fr("“%(key)s” is given twice in the same object: give it once.", key="Nom") \
        in text(response)
    assert db.session.scalar(select(ImportProfile)) is None


def test_options_left_empty_on_the_json_page_are_stored_as_what_they_mean(
        app, admin_client, promoteur):
    """"encoding": null read as "auto" was stored as null: the API then answered null for a
    string, and a client sending back what it read was refused (422)."""
    definition = {**INVOICE_PROFILE, "encoding": None, "delimiter": None,
                  "date_format": None, "decimal": None}
    assert admin_client.post("/alpha/feeds/profiles/new/json", data={
        "definition": json.dumps(definition)}).status_code == 302
    profile = db.session.scalar(select(ImportProfile))
    api = _integrator(app)
    url = f"/api/v1/import-profiles/{profile.id}"
    read = api.get(url).get_json()
    assert [read[k] for k in ("encoding", "delimiter", "date_format", "decimal")] == \
        ["auto"] * 4
    sent = {k: v for k, v in read.items()
            if k not in ("id", "version", "is_active", "created_at", "updated_at")}
    again = api.put(url, json=sent)
    assert again.status_code == 200 and again.get_json()["version"] == 1, again.get_json()
