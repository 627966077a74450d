"""Value mappings from the back office: the values a run could not take are listed on its
page, mapped in one click (a new profile version), and the next run takes them."""
from __future__ import annotations

import html
import re
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from app.errors import ValidationError
from app.extensions import db
from app.models import ImportProfile, ImportProfileVersion, ImportRowError, Invoice, Partner
from app.services import feeds
from app.services.custom_field_defs import update_field
from app.tenancy import SYSTEM, tenant_context
from importers.profile import normalized
from tests.backoffice.conftest import fr, text
from tests.backoffice.test_feeds.test_profiles import _mapping

HEADER = "N° facture;Code client;Statut;Apporteur"
PROFILE = {"name": "factures-statut", "entity": "invoices", "mode": "upsert", "key": "number",
           "columns": {"N° facture": "number", "Code client": "account.external_ref",
                       "Statut": "status", "Apporteur": "partner.external_ref"}}


def _profile(make_account, make_partner) -> ImportProfile:
    make_account(external_ref="C001", name="Client Un")
    make_partner(external_ref="NEX01", name="Nexity")
    profile = feeds.create_profile(dict(PROFILE))
    db.session.commit()
    return profile


def _mapped_profile(make_account, make_partner) -> ImportProfile:
    """The profile, with a status and a partner mapped (two versions more)."""
    profile = _profile(make_account, make_partner)
    feeds.map_value(profile, "Statut", "Réglée", "paid")
    db.session.commit()
    feeds.map_value(profile, "Apporteur", "NEXITY SA", "NEX01")
    db.session.commit()
    return profile


def _invoice(number: str) -> Invoice | None:
    db.session.expire_all()
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


def _map(admin_client, profile, run, column, source, target):
    response = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": column, "source": source, "target": target, "run": run.id})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/alpha/feeds/runs/{run.id}")
    db.session.expire_all()
    return response



def _screen_saved(client, profile: ImportProfile, columns: dict[str, str], **options) -> None:
    """The mapping screen saved with these columns (and options): a new version."""
    saved = client.post(f"/alpha/feeds/profiles/{profile.id}/edit",
                        data=_mapping(columns, **options))
    assert saved.status_code == 302, saved.data[:300]
    db.session.expire_all()

def test_a_status_mapped_from_the_run_page_imports_the_rows_at_the_next_run(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    lines = (HEADER, "F001;C001;Réglée;", "F002;C001;RÉGLÉE ;", "F003;C001;Émise;")
    run = start_run(profile, *lines)
    assert run.status == "partial" and (run.created, run.failed) == (1, 2)
    assert _invoice("F001") is None
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode()
    suggested = html.unescape(page)
    assert fr("Values without a mapping") in text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    # The two spellings are two values of the file, each listed once with its row.
    assert '<span class="unmapped-value">Réglée</span>' in suggested
    assert '<span class="unmapped-value">RÉGLÉE</span>' in suggested
    assert '<option value="paid">' in page

    # The profile's page lists them too, for its last run.
    profile_page = html.unescape(admin_client.get(f"/alpha/feeds/profiles/{profile.id}")
                                 .data.decode())
    assert '<span class="unmapped-value">Réglée</span>' in profile_page

    _map(admin_client, profile, run, "Statut", "Réglée", "paid")
    assert profile.version == 2
    assert profile.definition["value_maps"] == {"Statut": {"Réglée": "paid"}}
    versions = db.session.scalars(select(ImportProfileVersion).where(
        ImportProfileVersion.profile_id == profile.id)
        .order_by(ImportProfileVersion.version)).all()
    assert [v.version for v in versions] == [1, 2]
    assert "value_maps" not in versions[0].definition
    assert versions[1].definition["value_maps"] == {"Statut": {"Réglée": "paid"}}
    # Mapped (whatever its case and accents), the value leaves the list.
    page = html.unescape(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode())
    assert "unmapped-value" not in page

    again = start_run(profile, *lines)
    assert again.status == "succeeded" and again.profile_version == 2
    assert (again.created, again.unchanged, again.failed) == (2, 1, 0)
    assert _invoice("F001").status == "paid" and _invoice("F002").status == "paid"
    assert _invoice("F003").status == "issued"


def test_an_unmapped_status_stays_a_row_error(tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    run = start_run(profile, HEADER, "F001;C001;Réglée;", "F002;C001;Soldée;")
    feeds.map_value(profile, "Statut", "Réglée", "paid")
    db.session.commit()
    again = start_run(profile, HEADER, "F001;C001;Réglée;", "F002;C001;Soldée;")
    assert (run.failed, again.created, again.failed) == (2, 1, 1)
    error = db.session.scalars(select(ImportRowError).where(
        ImportRowError.run_id == again.id)).one()
    assert (error.line, error.column, error.value) == (3, "Statut", "Soldée")


def test_a_partner_name_of_the_file_is_mapped_to_a_partner(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    run = start_run(profile, HEADER, "F001;C001;Émise;NEXITY SA")
    assert run.failed == 1
    page = html.unescape(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode())
    assert '<span class="unmapped-value">NEXITY SA</span>' in page
    # The partner is found by its exact name; its key is what the profile keeps.
    _map(admin_client, profile, run, "Apporteur", "NEXITY SA", "nexity")
    assert profile.definition["value_maps"] == {"Apporteur": {"NEXITY SA": "NEX01"}}
    again = start_run(profile, HEADER, "F001;C001;Émise;nexity sa")
    assert again.created == 1 and again.failed == 0
    assert _invoice("F001").partner.external_ref == "NEX01"


def test_an_invalid_target_is_refused_with_a_message(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    run = start_run(profile, HEADER, "F001;C001;Émise;NEXITY SA")
    response = _map(admin_client, profile, run, "Apporteur", "NEXITY SA", "NOBODY")
    page = text(admin_client.get(response.headers["Location"]))
    assert fr("“%(value)s” is not a valid value for the column “%(column)s”.",
              value="NOBODY", column="Apporteur") in page
    assert profile.version == 1 and "value_maps" not in profile.definition


def _target_field(page: str, value: str) -> str:
    """The target field of the form that maps `value`, as the page gives it."""
    form = re.search(rf'name="source" value="{re.escape(value)}".*?</form>', page, re.S)
    assert form, page
    return re.search(r'<(?:input|select)[^>]*name="target"[^>]*>', form.group(0)).group(0)


def test_a_refused_target_stays_in_its_field_to_be_corrected(
        admin_client, tenant, make_account, make_partner, start_run):
    """A partner's reference mistyped is refused with a message, and the page shows the
    field with what was typed, marked, rather than an empty one to type again; once."""
    profile = _profile(make_account, make_partner)
    run = start_run(profile, HEADER, "F001;C001;Émise;NEXITY SA", "F002;C001;Émise;VINCI")
    response = _map(admin_client, profile, run, "Apporteur", "NEXITY SA", "NEX0l")
    page = admin_client.get(response.headers["Location"]).data.decode()
    field = _target_field(page, "NEXITY SA")
    assert 'value="NEX0l"' in field and "is-invalid" in field
    other = _target_field(page, "VINCI")  # the other values' fields stay as they were
    assert "value=" not in other and "is-invalid" not in other
    field = _target_field(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode(),
                          "NEXITY SA")
    assert "value=" not in field and "is-invalid" not in field
    # On the mapping screen too.
    refused = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": "Apporteur", "source": "VINCI", "target": "VINCI-IMMO", "back": "edit"})
    assert refused.headers["Location"].endswith(f"/alpha/feeds/profiles/{profile.id}/edit")
    field = _target_field(admin_client.get(refused.headers["Location"]).data.decode(), "VINCI")
    assert 'value="VINCI-IMMO"' in field and "is-invalid" in field
    assert profile.version == 1 and "value_maps" not in profile.definition


def test_a_value_to_map_is_quoted_as_french_quotes_it_and_escaped(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    run = start_run(profile, HEADER, "F001;C001;<b>Réglée</b>;")
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode()
    quoted = '<span class="unmapped-value">&lt;b&gt;Réglée&lt;/b&gt;</span>'
    assert f'<span class="text-muted">Statut</span>\u00a0: «\u00a0{quoted}\u00a0»' in page
    assert "<b>Réglée</b>" not in page
    feeds.map_value(profile, "Statut", "<b>Réglée</b>", "paid")
    db.session.commit()
    page = admin_client.get(f"/alpha/feeds/profiles/{profile.id}").data.decode()
    assert ("«\u00a0&lt;b&gt;Réglée&lt;/b&gt;\u00a0» → <span class=\"mapped-target\" "
            f'title="paid">{html.escape(fr("Paid"))}</span>') in page


def test_a_value_too_long_to_map_is_neither_offered_nor_saved_cut(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    long_value = "R" * 300  # a mapping takes 255 characters at most
    run = start_run(profile, HEADER, f"F001;C001;{long_value};", "F002;C001;Réglée;")
    assert run.failed == 2
    page = html.unescape(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode())
    assert '<span class="unmapped-value">Réglée</span>' in page
    assert long_value[:255] not in page.split('id="errors"')[0]  # not among the values to map
    response = _map(admin_client, profile, run, "Statut", long_value, "paid")
    assert fr("A mapped value has 1 to %(n)d characters.", n=255) in text(
        admin_client.get(response.headers["Location"]))
    assert profile.version == 1 and "value_maps" not in profile.definition


def test_mappings_survive_a_save_of_the_mapping_screen_and_can_be_removed(
        admin_client, tenant, make_account, make_partner):
    profile = _mapped_profile(make_account, make_partner)
    # The mapping screen saves a new mode: the mappings of the columns kept stay, those of a
    # column now ignored go.
    columns = {**PROFILE["columns"], "Apporteur": ""}
    _screen_saved(admin_client, profile, columns, mode="update", name="factures-statut")
    assert profile.version == 4 and profile.definition["mode"] == "update"
    assert profile.definition["value_maps"] == {"Statut": {"Réglée": "paid"}}
    page = text(admin_client.get(f"/alpha/feeds/profiles/{profile.id}"))
    assert fr("Value mappings") in page and "Réglée" in page
    response = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": "Statut", "source": "Réglée", "target": ""})
    assert response.headers["Location"].endswith(f"/alpha/feeds/profiles/{profile.id}")
    db.session.expire_all()
    assert profile.version == 5 and "value_maps" not in profile.definition


def test_the_profile_page_names_each_mapping_s_target_as_the_reader_knows_it(
        admin_client, tenant, make_account, make_partner):
    profile = _mapped_profile(make_account, make_partner)
    page = admin_client.get(f"/alpha/feeds/profiles/{profile.id}")
    targets = [" ".join(item.split()) for item in
               re.findall(r'<span class="mapped-target"[^>]*>([^<]*)</span>', page.data.decode())]
    # A status by its label in the reader's language, not its code; a partner by its name.
    assert targets == [html.escape(fr("Paid")), "Nexity (NEX01)"]
    assert fr("Paid") != "paid"


def test_staff_who_are_not_admins_cannot_map_values(sales_client, tenant, make_account,
                                                    make_partner):
    profile = _profile(make_account, make_partner)
    response = sales_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": "Statut", "source": "Réglée", "target": "paid"})
    assert response.status_code in (403, 404)
    db.session.expire_all()
    assert profile.version == 1


def test_a_run_with_more_values_to_map_than_listed_says_how_many(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    run = start_run(profile, HEADER, *(f"F{i:03d};C001;Émise;APPORTEUR {i:03d}"
                                       for i in range(60)))
    assert run.failed == 60
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode()
    assert page.count('class="unmapped-value"') == 50
    assert fr("The %(shown)s values with the most rows are listed, of %(total)s values of "
              "these columns that failed this run.", shown=50, total=60) in text(
        admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    few = start_run(profile, HEADER, "F900;C001;Émise;APPORTEUR X")
    assert 'id="unmapped-of"' not in admin_client.get(f"/alpha/feeds/runs/{few.id}").data.decode()


def test_a_run_whose_rows_fail_two_columns_says_it_lists_only_some_values(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    # 30 rows, each with a status and a partner unknown: 60 values for 30 failed rows.
    run = start_run(profile, HEADER, *(f"F{n:03d};C001;Statut {n};Apporteur {n}"
                                       for n in range(30)))
    assert run.failed == 30
    page = admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode()
    assert page.count('class="unmapped-value"') == 50
    assert fr("The %(shown)s values with the most rows are listed, of %(total)s values of "
              "these columns that failed this run.", shown=50, total=60) in text(
        admin_client.get(f"/alpha/feeds/runs/{run.id}"))


def test_mappings_follow_their_columns_when_the_headers_change_case_or_accents(
        admin_client, tenant, make_account, make_partner):
    profile = _mapped_profile(make_account, make_partner)
    columns = {"N° FACTURE": "number", "Code client": "account.external_ref",
               "STATUT": "status", "apporteur": "partner.external_ref"}
    _screen_saved(admin_client, profile, columns, name="factures-statut")
    assert list(profile.definition["columns"]) == list(columns)
    assert profile.definition["value_maps"] == {"STATUT": {"Réglée": "paid"},
                                                "apporteur": {"NEXITY SA": "NEX01"}}


def test_a_mapping_gone_stale_is_offered_again_by_the_files_value_and_can_be_removed(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _mapped_profile(make_account, make_partner)
    feeds.map_value(profile, "Apporteur", "NX", "NEX01")
    db.session.commit()
    make_partner(external_ref="NEX-2027", name="Nexity 2027")
    # The partner's code changed in the ERP: both mappings to NEX01 are stale.
    db.session.scalar(select(Partner).where(Partner.external_ref == "NEX01")) \
        .external_ref = "NEX-OLD"
    db.session.commit()
    run = start_run(profile, HEADER, "F001;C001;Réglée;NX", "F002;C001;Réglée;NEXITY SA")
    assert run.failed == 2
    page = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert "« NX »" in page and "« NEXITY SA »" in page
    _map(admin_client, profile, run, "Apporteur", "NX", "NEX-2027")
    assert profile.definition["value_maps"]["Apporteur"] == {"NEXITY SA": "NEX01",
                                                             "NX": "NEX-2027"}
    response = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": "Apporteur", "source": "NEXITY SA", "target": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert profile.definition["value_maps"]["Apporteur"] == {"NX": "NEX-2027"}
    page = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    assert "« NX »" not in page and "« NEXITY SA »" in page


def test_two_values_mapped_at_the_same_time_are_both_kept(
        app, admin_client, tenant, make_account, make_partner, monkeypatch):
    profile = _mapped_profile(make_account, make_partner)
    original = feeds.map_value

    def another_admin_first(*args):
        # Another admin maps a value after this request read the profile, before it saves.
        def other():
            with app.app_context(), tenant_context(tenant.id, SYSTEM):
                original(db.session.get(ImportProfile, profile.id), "Statut", "Soldée", "paid")
                db.session.commit()
                db.session.remove()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(30)
        return original(*args)

    monkeypatch.setattr(feeds, "map_value", another_admin_first)
    response = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": "Apporteur", "source": "NX", "target": "NEX01"})
    assert response.status_code == 302
    db.session.expire_all()
    assert profile.version == 5
    assert profile.definition["value_maps"] == {
        "Statut": {"Réglée": "paid", "Soldée": "paid"},
        "Apporteur": {"NEXITY SA": "NEX01", "NX": "NEX01"}}
    assert [v.version for v in db.session.scalars(select(ImportProfileVersion).where(
        ImportProfileVersion.profile_id == profile.id))] == [1, 2, 3, 4, 5]


def test_mappings_kept_are_checked_again_when_their_column_changes_target(
        tenant, make_account, make_partner):
    profile = _mapped_profile(make_account, make_partner)
    definition = normalized(profile.definition)
    definition["columns"] = {**PROFILE["columns"], "Statut": "partner.external_ref",
                             "Apporteur": "status"}
    with pytest.raises(ValidationError) as refused:
        feeds.update_profile(profile, definition)
    assert {"value_maps.Statut.Réglée", "value_maps.Apporteur.NEXITY SA"} \
        <= set(refused.value.errors)


def test_a_stale_mapping_does_not_block_a_sample_whose_headers_change_case(
        admin_client, tenant, make_account, make_partner):
    profile = _mapped_profile(make_account, make_partner)
    db.session.scalar(select(Partner).where(Partner.external_ref == "NEX01")) \
        .external_ref = "NEX-OLD"
    db.session.commit()
    columns = {"N° facture": "number", "Code client": "account.external_ref",
               "STATUT": "status", "APPORTEUR": "partner.external_ref"}
    _screen_saved(admin_client, profile, columns, name="factures-statut")
    assert profile.definition["value_maps"]["APPORTEUR"] == {"NEXITY SA": "NEX01"}


def _statuses_mapped(client, profile: ImportProfile, run, count: int) -> str:
    """"Statut 00" to the `count`th mapped to paid in one save: the run's page then."""
    definition = normalized(profile.definition)
    definition["value_maps"] = {"Statut": {f"Statut {i:02d}": "paid" for i in range(count)}}
    feeds.update_profile(profile, definition)
    db.session.commit()
    return html.unescape(client.get(f"/alpha/feeds/runs/{run.id}").data.decode())


def test_values_left_to_map_are_listed_once_the_first_fifty_are_mapped(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    run = start_run(profile, HEADER, *(f"F{i:03d};C001;Statut {i:02d};" for i in range(60)))
    assert run.failed == 60
    page = html.unescape(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode())
    assert page.count('class="unmapped-value"') == 50
    # The admin maps the fifty values the page lists (here in one save).
    page = _statuses_mapped(admin_client, profile, run, 50)
    # Ten values of the run still have no mapping: the page offers them.
    assert page.count('class="unmapped-value"') == 10
    assert '<span class="unmapped-value">Statut 55</span>' in page


def test_a_partner_named_in_a_mapping_is_the_live_one_not_ambiguous_with_an_archived_one(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)  # partner NEX01 "Nexity", live
    # The partner's former record, archived by a full-sync partners feed when its code
    # changed: no list shows it any more.
    former = make_partner(external_ref="NEX00", name="Nexity")
    db.session.execute(update(Partner).where(Partner.id == former.id)
                       .values(archived_at=datetime.now(UTC)))
    db.session.commit()
    run = start_run(profile, HEADER, "F001;C001;Émise;NEXITY SA")
    response = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": "Apporteur", "source": "NEXITY SA", "target": "Nexity", "run": run.id},
        follow_redirects=True)
    assert fr("“%(value)s” is not a valid value for the column “%(column)s”.",
              value="Nexity", column="Apporteur") not in text(response)
    db.session.expire_all()
    assert profile.definition.get("value_maps") == {"Apporteur": {"NEXITY SA": "NEX01"}}


def test_the_mapping_screen_lists_the_values_to_map_and_the_mappings_and_maps_in_one_click(
        admin_client, tenant, make_account, make_partner, start_run):
    profile = _profile(make_account, make_partner)
    start_run(profile, HEADER, "F001;C001;Réglée;", "F002;C001;Soldée;")
    edit = f"/alpha/feeds/profiles/{profile.id}/edit"
    screen = html.unescape(admin_client.get(edit).data.decode())
    # The last run's values without a mapping, below the profile's own form (not in it).
    assert screen.index('id="unmapped-values"') > screen.index("</form>")
    assert '<span class="unmapped-value">Réglée</span>' in screen
    assert '<span class="unmapped-value">Soldée</span>' in screen
    mapped = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": "Statut", "source": "Réglée", "target": "paid", "back": "edit"})
    assert mapped.headers["Location"].endswith(edit)  # back to the mapping screen
    db.session.expire_all()
    assert profile.definition["value_maps"] == {"Statut": {"Réglée": "paid"}}
    screen = html.unescape(admin_client.get(edit).data.decode())
    assert '<span class="unmapped-value">Réglée</span>' not in screen
    assert '<span class="unmapped-value">Soldée</span>' in screen
    # The mapping saved is listed there too, with its button to remove it.
    saved = screen[screen.index('id="value-maps"'):screen.index('id="unmapped-values"')]
    assert "Réglée" in saved and fr("Remove") in saved
    removed = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/value-maps", data={
        "column": "Statut", "source": "Réglée", "target": "", "back": "edit"})
    assert removed.headers["Location"].endswith(edit)
    db.session.expire_all()
    assert "value_maps" not in profile.definition


def test_the_count_of_values_left_to_map_leaves_out_padded_values_mapped_since(
        admin_client, tenant, make_account, make_partner, start_run):
    """A file that pads its cells ("Statut 07 ", as fixed-width exports do): the page lists
    each value stripped, and one click maps it stripped. Mapped, it leaves both the list and
    the count of values left."""
    profile = _profile(make_account, make_partner)
    run = start_run(profile, HEADER, *(f"F{i:03d};C001;Statut {i:02d} ;" for i in range(60)))
    assert run.failed == 60
    # Mapped as the page offers them (stripped), one click each: here in one save.
    page = _statuses_mapped(admin_client, profile, run, 55)
    assert page.count('class="unmapped-value"') == 5
    # Five values are left; the page must not say more are left than it lists.
    assert 'id="unmapped-of"' not in page, page[page.index('id="unmapped-of"'):][:200]


@pytest.mark.parametrize("spelling", ["padded", "no-break space", "capitals"])
def test_the_count_of_values_left_to_map_counts_what_the_list_would_list(
        admin_client, tenant, make_account, make_partner, start_run, spelling):
    """Each value written two ways on different rows ("Statut 07" and "Statut 07 ", or
    "Statut 07\u00a0" as French exports pad, or "STATUT 07"): a run strips a cell as Python
    does and maps it whatever its case. 60 values, 55 mapped by clicks: the page lists what
    is left, and says "of N" only when it lists fewer than there are."""
    profile = _profile(make_account, make_partner)
    other = {"padded": "Statut {:02d} ", "no-break space": "Statut {:02d}\u00a0",
             "capitals": "STATUT {:02d}"}[spelling]
    lines = [*(f"F{i:03d};C001;Statut {i:02d};" for i in range(60)),
             *(f"G{i:03d};C001;{other.format(i)};" for i in range(60))]
    run = start_run(profile, HEADER, *lines)
    assert run.failed == 120
    page = html.unescape(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode())
    assert page.count('class="unmapped-value"') == 50  # the fifty with the most rows
    assert fr("The %(shown)s values with the most rows are listed, of %(total)s values of "
              "these columns that failed this run.", shown=50,
              total=60 if spelling != "capitals" else 120) in text(
        admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    page = _statuses_mapped(admin_client, profile, run, 55)
    left = 5 if spelling != "capitals" else 10  # "STATUT nn" mapped too, whatever its case
    assert page.count('class="unmapped-value"') == left
    assert 'id="unmapped-of"' not in page


LEVEL_HEADER = "N° facture;Code client;Statut;Niveau"
LEVEL_PROFILE = {"name": "factures-niveau", "entity": "invoices", "mode": "upsert", "key": "number",
           "columns": {"N° facture": "number", "Code client": "account.external_ref",
                       "Statut": "status", "Niveau": "custom.niveau"}}


def _level_profile(make_account, make_field):
    """A profile whose column "Niveau" feeds a choice custom field, "GOLD" mapped to "Or"."""
    make_account(external_ref="C001", name="Client Un")
    field = make_field("invoices", "niveau", type="choice", choices=["Or", "Argent"])
    profile = feeds.create_profile(dict(LEVEL_PROFILE))
    db.session.commit()
    feeds.map_value(profile, "Niveau", "GOLD", "Or")
    db.session.commit()
    return profile, field


def test_a_mapping_to_a_choice_removed_since_is_offered_again_on_the_run_page(
        admin_client, tenant, make_account, make_field, start_run):
    """"Or" leaves the field's choices (no record holds it): the rows of "GOLD" fail as a value
    outside the choices, the run's page must offer "GOLD" to map again, as it offers the
    file's values of a reference mapping gone stale."""
    profile, field = _level_profile(make_account, make_field)
    update_field(field, {"choices": ["Argent", "Bronze"]})
    db.session.commit()
    run = start_run(profile, LEVEL_HEADER, "F001;C001;Émise;GOLD", "F002;C001;Émise;Platine")
    assert run.failed == 2
    page = html.unescape(admin_client.get(f"/alpha/feeds/runs/{run.id}").data.decode())
    assert '<span class="unmapped-value">Platine</span>' in page
    assert '<span class="unmapped-value">GOLD</span>' in page


def test_a_choice_field_turned_to_text_does_not_stop_the_profile_s_feed(
        admin_client, tenant, make_account, make_field, start_run):
    """The admin turns the choice field into a text field (every stored value fits): the
    night's feed must keep importing its rows, not fail whole on a mapping saved earlier."""
    profile, field = _level_profile(make_account, make_field)
    update_field(field, {"type": "text"})
    db.session.commit()
    run = start_run(profile, LEVEL_HEADER, "F001;C001;Émise;GOLD", "F002;C001;Émise;Argent")
    assert run.status == "succeeded", run.message
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 2


def test_a_choice_field_turned_to_text_leaves_the_mapping_screen_savable(
        admin_client, tenant, make_account, make_field):
    """Changing the profile's mode on the mapping screen, mappings untouched, is saved."""
    profile, field = _level_profile(make_account, make_field)
    update_field(field, {"type": "text"})
    db.session.commit()
    saved = admin_client.post(f"/alpha/feeds/profiles/{profile.id}/edit",
                              data=_mapping(LEVEL_PROFILE["columns"], mode="update",
                                            name="factures-niveau"))
    page = text(saved)
    refused = fr("Only choice and reference columns take value mappings.")
    assert refused not in page
    assert saved.status_code == 302


def test_values_of_a_stale_mapping_are_counted_with_their_own_rows(
        admin_client, tenant, make_account, make_partner, start_run):
    """"NEXITY SA" and "NX" both map to NEX01, whose code changed in the ERP: 3 rows of
    "NEXITY SA" and 1 of "NX" fail. Each value is offered again with its own rows, not with
    the 4 rows of their common target."""
    make_account(external_ref="C001", name="Client Un")
    make_partner(external_ref="NEX01", name="Nexity")
    profile = feeds.create_profile({
        "name": "factures-apporteur", "entity": "invoices", "mode": "upsert", "key": "number",
        "columns": {"N° facture": "number", "Code client": "account.external_ref",
                    "Apporteur": "partner.external_ref"}})
    db.session.commit()
    feeds.map_value(profile, "Apporteur", "NEXITY SA", "NEX01")
    db.session.commit()
    feeds.map_value(profile, "Apporteur", "NX", "NEX01")
    db.session.commit()
    db.session.scalar(select(Partner).where(Partner.external_ref == "NEX01")) \
        .external_ref = "NEX-OLD"
    db.session.commit()
    run = start_run(profile, "N° facture;Code client;Apporteur", "F001;C001;NEXITY SA",
                    "F002;C001;NEXITY SA", "F003;C001;NEXITY SA", "F004;C001;NX")
    assert run.failed == 4
    page = text(admin_client.get(f"/alpha/feeds/runs/{run.id}"))
    start = page.find(fr("Values without a mapping"))
    assert "« NEXITY SA » (3 lignes)" in page, page[start:start + 500]
    assert "« NX » (1 ligne)" in page
