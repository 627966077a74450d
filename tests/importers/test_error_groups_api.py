"""A run's error groups as the API lists them: each group's message is what its rows say,
or says "…" where they differ."""
from __future__ import annotations

from app.extensions import db
from tests.importers.conftest import all_errors, row_errors
from tests.importers.test_archives import archive, cv_profile, word_file  # noqa: F401


def test_rows_with_different_numbers_of_extra_cells_are_one_group_without_a_number(
        make_profile, run_import, feed_file, api_client):
    """Rows with one cell beyond the header and rows with three are one kind of error: the
    group does not say the first row's number, each row says its own."""
    profile = make_profile("partners", {"Code": "external_ref", "Nom": "name"})
    run = run_import(profile, feed_file(
        "Code;Nom\nP1;Un;x\nP2;Deux;x;y;z\nP3;Trois;x;y;z\n"))
    assert run.failed == 3
    summary = api_client.get(f"/api/v1/imports/{run.id}/errors/summary",
                             headers={"Accept-Language": "fr"}).get_json()
    [group] = summary["groups"]
    assert (group["message"], group["count"]) == ("Cellules au-delà de l’en-tête (…).", 3)
    rows = all_errors(api_client, run.id, f"group={group['group']}", language="fr")
    assert [r["message"] for r in rows] == [
        "Cellules au-delà de l’en-tête (1).", "Cellules au-delà de l’en-tête (3).",
        "Cellules au-delà de l’en-tête (3)."]


def test_missing_documents_of_different_names_are_grouped_by_name(
        tmp_path, cv_profile, run_import, api_client):  # noqa: F811
    """Three rows name three documents the archive lacks: a group per document, each named,
    and the kind counted whole ("… × 3, 3 values"), as unknown references are."""
    profile = cv_profile
    path = archive(tmp_path, ["K1;C1;Lefèvre;Hélène;Dev;;a.docx", "K2;C1;Martin;Paul;Dev;;b.docx",
                              "K3;C1;Roux;Anne;Dev;;c.docx", "K4;C1;Blanc;Luc;Dev;;ok.docx"],
                   {"ok.docx": word_file("Luc")})
    run = run_import(profile, path)
    assert run.failed == 3
    summary = api_client.get(f"/api/v1/imports/{run.id}/errors/summary",
                             headers={"Accept-Language": "en"}).get_json()
    assert [(g["message"], g["count"]) for g in summary["groups"]] == [
        (f"The document “{name}” is not in the archive.", 1)
        for name in ("a.docx", "b.docx", "c.docx")]
    for group in summary["groups"]:
        [row] = all_errors(api_client, run.id, f"group={group['group']}")
        assert row["message"] == group["message"]
    [kind] = summary["kinds"]
    assert (kind["message"], kind["count"], kind["values"]) == (
        "The document “…” is not in the archive.", 3, 3)


def test_a_group_of_extra_cells_errors_stored_before_their_count_was_named_says_an_ellipsis(
        make_profile, run_import, feed_file, api_client):
    """Errors stored as "Cells beyond the header: %(n)d.": rows with 1 and 3 extra cells are
    one group, which does not say the first row's number for all."""
    profile = make_profile("partners", {"Code": "external_ref", "Nom": "name"})
    run = run_import(profile, feed_file("Code;Nom\nP1;Un;x\nP2;Deux;x;y;z\nP3;Trois;x;y;z\n"))
    assert run.failed == 3
    for error in row_errors(run):  # as they were stored
        n = error.message_params["cells"]
        error.message_id = "Cells beyond the header: %(n)d."
        error.message_params = {"n": n}
        error.message = f"Cells beyond the header: {n}."
    run.error_groups = None
    db.session.commit()
    summary = api_client.get(f"/api/v1/imports/{run.id}/errors/summary",
                             headers={"Accept-Language": "en"}).get_json()
    [group] = summary["groups"]
    assert group["count"] == 3
    assert group["message"] == "Cells beyond the header: ….", group


def test_a_run_counted_before_documents_were_grouped_by_name_lists_what_its_groups_say(
        tmp_path, cv_profile, run_import, api_client, monkeypatch):  # noqa: F811
    """A run finished before documents were grouped by name kept its groups as counted then
    (ImportRun.error_groups: the three missing documents one group of 3): they are counted
    again, and each group's page lists as many rows as it says."""
    from app.queries import error_groups
    profile = cv_profile
    path = archive(tmp_path, ["K1;C1;Lefèvre;Hélène;Dev;;a.docx", "K2;C1;Martin;Paul;Dev;;b.docx",
                              "K3;C1;Roux;Anne;Dev;;c.docx", "K4;C1;Blanc;Luc;Dev;;ok.docx"],
                   {"ok.docx": word_file("Luc")})
    with monkeypatch.context() as before:  # the grouping before
        before.setattr(error_groups, "VALUE_PARAMS", ("%(value)s", "%(ref)s"))
        before.setattr(error_groups, "GROUPING", None)
        run = run_import(profile, path)
    assert run.failed == 3
    summary = api_client.get(f"/api/v1/imports/{run.id}/errors/summary",
                             headers={"Accept-Language": "en"}).get_json()
    for group in summary["groups"]:
        rows = all_errors(api_client, run.id, f"group={group['group']}")
        assert len(rows) == group["count"], (group, rows)


def test_a_value_padded_with_spaces_is_counted_in_the_group_of_the_value_it_shows(
        make_profile, run_import, feed_file, api_client, make_account):
    """A broken export pads some dates with spaces: every row says « hier » is not a date,
    so the summary must count one group of 3, not three groups of 1 with the same message
    (and the run page's "Show these rows" must list the three)."""
    make_account(external_ref="C001", name="Un")
    profile = make_profile("invoices", {"N": "number", "Client": "account.external_ref",
                                        "Date": "issued_on"}, key="number")
    run = run_import(profile, feed_file(
        "N;Client;Date\nA1;C001;hier\nA2;C001; hier\nA3;C001;hier  \n"))
    assert run.failed == 3
    summary = api_client.get(f"/api/v1/imports/{run.id}/errors/summary",
                             headers={"Accept-Language": "en"}).get_json()
    shown = [(g["column"], g["message"], g["count"]) for g in summary["groups"]]
    assert shown == [("Date", "“hier” is not a date: write it as 31/12/2025.", 3)]
