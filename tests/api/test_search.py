"""`q=` of the API's lists ignores accents and capitals, and follows every change of the
searched fields, whichever call made it (one record, a partial change, a bulk upsert)."""
from __future__ import annotations


def _names(client, entity: str, q: str) -> list[str]:
    response = client.get(f"/api/v1/{entity}", query_string={"q": q})
    assert response.status_code == 200, response.data[:500]
    return sorted(row.get("name") or row.get("number") for row in response.get_json())


def test_q_ignores_accents_and_capitals(api_client, make_account, make_invoice):
    make_account(name="Atelier André", external_ref="C-ANDRE")
    make_account(name="Hôtel du Lac", city="Annecy")
    make_invoice(number="FA-2026-0042")
    assert _names(api_client, "accounts", "atelier andre") == ["Atelier André"]
    assert _names(api_client, "accounts", "HOTEL DU LAC") == ["Hôtel du Lac"]
    assert _names(api_client, "accounts", "annecy hôtel") == ["Hôtel du Lac"]
    assert _names(api_client, "accounts", "c-andre") == ["Atelier André"]  # its reference
    assert _names(api_client, "invoices", "fa-2026-0042") == ["FA-2026-0042"]
    assert _names(api_client, "accounts", "100%") == []


def test_a_change_through_the_api_changes_what_q_finds(api_client, make_account):
    account = make_account(name="Atelier Dupont", city="Lyon", external_ref="C1")
    changed = api_client.patch(f"/api/v1/accounts/{account.id}", json={"name": "Atelier André"})
    assert changed.status_code == 200, changed.data[:500]
    assert _names(api_client, "accounts", "atelier andre") == ["Atelier André"]
    assert _names(api_client, "accounts", "dupont") == []
    # A change of another searched field keeps the name found.
    api_client.patch(f"/api/v1/accounts/{account.id}", json={"city": "Évian"})
    assert _names(api_client, "accounts", "andre evian") == ["Atelier André"]
    # The bulk upsert, creating and changing.
    response = api_client.post("/api/v1/accounts/bulk", json={"items": [
        {"external_ref": "C1", "name": "Hôtel du Lac"},
        {"external_ref": "C2", "name": "Crêperie Bretonne", "kind": "company"}]})
    assert response.status_code == 200 and response.get_json()["failed"] == 0, response.data
    assert _names(api_client, "accounts", "hotel evian") == ["Hôtel du Lac"]
    assert _names(api_client, "accounts", "creperie") == ["Crêperie Bretonne"]
    assert _names(api_client, "accounts", "andre") == []


def test_q_stays_in_the_tokens_tenant(api_client, other_api_client, make_account):
    make_account(name="Hôtel du Lac")
    other_api_client.post("/api/v1/accounts", json={"name": "Hôtel du Lac Beta",
                                                    "kind": "company"})
    assert _names(api_client, "accounts", "hotel lac") == ["Hôtel du Lac"]
    assert _names(other_api_client, "accounts", "hotel lac") == ["Hôtel du Lac Beta"]
