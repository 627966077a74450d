"""value_maps in /api/v1/import-profiles: accepted, validated against the field's values and
the tenant's records, returned as stored, each change a new version."""
from __future__ import annotations

from sqlalchemy.orm.attributes import flag_modified

from app.extensions import db
from app.models import ImportProfile
from app.services import feeds
from tests.api.conftest import problem
from tests.backoffice.conftest import SPACES, count_statements, fr
from tests.backoffice.test_feeds.test_value_maps import _profile

INVOICES = {"name": "factures", "entity": "invoices", "key": "number",
            "columns": {"N° facture": "number", "Statut": "status",
                        "Apporteur": "partner.external_ref", "Montant": "total"}}


def test_value_maps_go_in_and_come_back(api_client, make_partner):
    make_partner(external_ref="NEX01", name="Nexity")
    response = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Statut": {" Réglée ": "paid", "Envoi": "Émise"},
                                   "Apporteur": {"NEXITY SA": "NEX01", "Nexity": "nexity"}}})
    assert response.status_code == 201, response.data
    body = response.get_json()
    # Stored as codes and keys: a label of a status, a partner's name, found at once.
    expected = {"Statut": {"Réglée": "paid", "Envoi": "issued"},
                "Apporteur": {"NEXITY SA": "NEX01", "Nexity": "NEX01"}}
    assert body["value_maps"] == expected and body["version"] == 1
    url = f"/api/v1/import-profiles/{body['id']}"
    assert api_client.get(url).get_json()["value_maps"] == expected

    patched = api_client.patch(url, json={"value_maps": {"Statut": {"Réglée": "paid"}}},
                               headers={"If-Match": api_client.get(url).headers["ETag"]})
    assert patched.status_code == 200, patched.data
    assert patched.get_json()["value_maps"] == {"Statut": {"Réglée": "paid"}}
    assert patched.get_json()["version"] == 2
    versions = api_client.get(f"{url}/versions").get_json()
    assert [v["definition"].get("value_maps") for v in versions] == [
        {"Statut": {"Réglée": "paid"}}, expected]


def test_a_profile_without_mappings_returns_an_empty_object(api_client):
    response = api_client.post("/api/v1/import-profiles", json=INVOICES)
    assert response.status_code == 201 and response.get_json()["value_maps"] == {}


def test_invalid_mappings_are_refused_with_a_message_each(api_client):
    response = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Statut": {"Réglée": "soldée"},
                                   "Apporteur": {"NEXITY SA": "NOBODY"},
                                   "Montant": {"dix": "10"}, "Ailleurs": {"a": "b"}}},
        headers={"Accept-Language": "en"})
    errors = problem(response, 422)["errors"]
    assert errors["value_maps.Statut.Réglée"] == [
        "“soldée” is not a valid value for the column “Statut”."]
    assert errors["value_maps.Apporteur.NEXITY SA"] == [
        "“NOBODY” is not a valid value for the column “Apporteur”."]
    assert errors["value_maps.Montant"] == [
        "Only choice and reference columns take value mappings."]
    assert errors["value_maps.Ailleurs"] == [
        "“Ailleurs” is not a mapped column of the profile."]


def test_a_partner_of_another_tenant_is_no_target(api_client, other_tenant):
    from app.extensions import db
    from app.models import Partner
    from app.tenancy import tenant_context

    with tenant_context(other_tenant.id):
        db.session.add(Partner(name="Ailleurs", external_ref="OTHER1"))
        db.session.commit()
    response = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Apporteur": {"X": "OTHER1"}}})
    assert "value_maps.Apporteur.X" in problem(response, 422)["errors"]


def test_too_many_value_mappings_are_refused_before_each_is_looked_up(
        app, api_client, tenant, make_account, make_partner):
    profile = _profile(make_account, make_partner)
    # One more than a profile takes, each a partner's key: refused at once, not after one
    # lookup each (a body of a few MB would hold a worker, and the profile, for minutes).
    maps = {"Apporteur": {f"Apporteur {i}": "NEX01" for i in range(5001)}}
    with count_statements(app) as statements:
        response = api_client.patch(f"/api/v1/import-profiles/{profile.id}",
                                    json={"value_maps": maps})
    body = problem(response, 422)
    assert "5000" in str(body["errors"]["value_maps"])
    assert len(statements) < 200, len(statements)


def test_a_client_patching_columns_drops_the_mappings_of_the_columns_it_drops(
        api_client, tenant, make_account, make_partner):
    profile = _profile(make_account, make_partner)
    # An admin maps a status and a partner from a run's page...
    feeds.map_value(profile, "Statut", "Réglée", "paid")
    feeds.map_value(profile, "Apporteur", "NEXITY SA", "NEX01")
    db.session.commit()
    # ...then the ERP's integration, written before mappings existed, drops the status
    # column as it always could ("columns" as a whole): the mapping screen drops its
    # mappings with it, the other column keeps its own.
    columns = {"N° facture": "number", "Code client": "account.external_ref",
               "Apporteur": "partner.external_ref"}
    response = api_client.patch(f"/api/v1/import-profiles/{profile.id}",
                                json={"columns": columns})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["value_maps"] == {"Apporteur": {"NEXITY SA": "NEX01"}}


def test_two_spellings_of_one_value_mapped_to_two_values_are_refused(api_client):
    """A run matches a cell to a mapping whatever its case and accents: "Réglée" → paid and
    "REGLEE" → cancelled would give a third spelling ("reglee") either one."""
    response = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Statut": {"Réglée": "paid", "REGLEE": "cancelled"}}},
        headers={"Accept-Language": "fr"})
    errors = problem(response, 422)["errors"]
    assert errors["value_maps.Statut.REGLEE"] == [
        "« REGLEE » et « Réglée » ne diffèrent que par la casse ou les accents : "
        "faites-les correspondre à la même valeur dans la colonne « Statut »."]
    # Mapped to the same value, they are only two spellings of it.
    response = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Statut": {"Réglée": "paid", "REGLEE": "paid"}}})
    assert response.status_code == 201, response.get_json()


def test_a_client_patching_columns_keeps_the_mappings_of_a_padded_header(api_client, tenant):
    """A header saved with its padding ("Statut ", as the ERP's export writes it): its
    mappings are stored under the stripped header ("Statut"). Its columns sent again, the
    column keeps its target and its mappings."""
    created = api_client.post("/api/v1/import-profiles", json={
        "name": "factures", "entity": "invoices", "key": "number",
        "columns": {"N° facture": "number", "Statut ": "status", "Montant": "total"},
        "value_maps": {"Statut": {"Réglée": "paid"}}})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["value_maps"] == {"Statut": {"Réglée": "paid"}}
    # The integration sends its columns again, one more at the end.
    columns = {**body["columns"], "Date": "issued_on"}
    patched = api_client.patch(f"/api/v1/import-profiles/{body['id']}",
                               json={"columns": columns})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["value_maps"] == {"Statut": {"Réglée": "paid"}}


def test_a_new_spelling_is_refused_beside_any_saved_spelling_mapped_elsewhere(api_client):
    """A profile saved before the rule maps "Réglée" → paid and "REGLEE" → cancelled (kept as
    saved). A client adding "reglee" → paid agrees with the first and not with the second:
    a run would give "reglée" either one, so it is refused, naming the spelling it clashes
    with."""
    created = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Statut": {"Réglée": "paid"}}})
    assert created.status_code == 201, created.get_json()
    profile = db.session.get(ImportProfile, created.get_json()["id"])
    profile.definition = {**profile.definition,
                          "value_maps": {"Statut": {"Réglée": "paid", "REGLEE": "cancelled"}}}
    flag_modified(profile, "definition")
    db.session.commit()
    response = api_client.patch(f"/api/v1/import-profiles/{profile.id}", json={
        "value_maps": {"Statut": {"Réglée": "paid", "REGLEE": "cancelled", "reglee": "paid"}}},
        headers={"Accept-Language": "fr"})
    errors = problem(response, 422)["errors"]
    assert errors == {"value_maps.Statut.reglee": [
        "« reglee » et « REGLEE » ne diffèrent que par la casse ou les accents : "
        "faites-les correspondre à la même valeur dans la colonne « Statut »."]}


def test_a_partner_without_an_external_reference_is_named_as_such(api_client, make_partner):
    """Nexity was created in Relais, with no external reference: a feed names partners by it,
    so no value maps to Nexity yet. The refusal says what to do, not that Nexity is unknown."""
    make_partner(name="Nexity")
    response = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Apporteur": {"NEXITY SA": "nexity"}}},
        headers={"Accept-Language": "fr"})
    assert problem(response, 422)["errors"] == {"value_maps.Apporteur.NEXITY SA": [
        "« nexity » n’a pas de référence externe dans Relais : donnez-lui-en une (sur sa "
        "fiche) pour y faire correspondre des valeurs."]}
    # A name no partner has is still an invalid value.
    response = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Apporteur": {"NEXITY SA": "Kaufman"}}},
        headers={"Accept-Language": "fr"})
    [error] = problem(response, 422)["errors"]["value_maps.Apporteur.NEXITY SA"]
    assert error.translate(SPACES) == fr(
        "“%(value)s” is not a valid value for the column “%(column)s”.", value="Kaufman",
        column="Apporteur")


def test_a_partner_without_a_key_is_named_as_such_whatever_its_accents(api_client,
                                                                      make_partner):
    """"Société Générale" has no external reference: a mapping to "Societe Generale" says
    so, as a partner with a key is found whatever the case and accents of its name."""
    make_partner(name="Crédit Agricole", external_ref="CA01")
    make_partner(name="Société Générale")
    # A partner with a key is found without its accents.
    found = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "name": "f1", "value_maps": {"Apporteur": {"CA": "Credit Agricole"}}})
    assert found.status_code == 201, found.get_json()
    response = api_client.post("/api/v1/import-profiles", json={
        **INVOICES, "value_maps": {"Apporteur": {"SG": "Societe Generale"}}},
        headers={"Accept-Language": "en"})
    assert problem(response, 422)["errors"] == {"value_maps.Apporteur.SG": [
        "“Societe Generale” has no external reference in Relais: give it one (on its page) "
        "to map values to it."]}
