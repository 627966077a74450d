"""The engine's batch path gives what its row path gives: rows read, amounts parsed, keys
tracked, and whole runs — records, counts, row errors, audit events and diffs compared on
random files (bad cells, unknown customers, repeated keys, numbers the database refuses)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.extensions import db
from app.models import Account, AuditEvent, ImportRowError, ImportRun, Invoice, Partner
from app.queries.feeds import find_profile
from app.services import feeds
from app.services.custom_field_defs import create_field
from app.services.tenants import create_tenant
from app.tenancy import SYSTEM, all_tenants_unsafe, tenant_context
from importers import column_import, csv_columns, engine, existing_records, keylog
from importers.convert import Column, _money_converter
from importers.csv_columns import BatchColumn, csv_batches
from importers.keylog import KeyLog
from importers.profile import Target
from importers.readers import Limits, ReaderError, open_table
from importers.runs import run_import
from importers.values import make_decimal_parser

QUICK = settings(deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])


# --- Reading ----------------------------------------------------------------------------------

cells = st.one_of(
    st.sampled_from(["C1", "", " ", '"', ";", ",", "\t", "\n", "\r\n", "\r", "\x0c", "\x85",
                     "\u2028", "Société", "1 234,56", "\x00", "\ufeff", '"a;b"', '"non fermé',
                     "x" * 60]),
    st.text(max_size=30),
)


@st.composite
def csv_bytes(draw) -> bytes:
    delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    records = [draw(st.lists(st.sampled_from(["Code", "Nom", "Ville", "", "X"]), min_size=1,
                             max_size=5)),
               *draw(st.lists(st.lists(cells, max_size=6), max_size=14))]
    if draw(st.booleans()):
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(records)
        text = buffer.getvalue()
    else:
        text = "".join(delimiter.join(record) + newline for record in records)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=30)) + data[cut:]
    return data


@dataclass(frozen=True)
class TinyRecords(Limits):
    """Limits whose record bound is small enough for a test to cross it."""

    bound: int = 1024 * 1024

    @property
    def max_record_length(self) -> int:
        return self.bound


def _by_rows(table) -> list:
    found = []
    try:
        for row in table.rows():
            found.append((row.line, row.cells, row.extra_cells, row.long_cells))
    except ReaderError as exc:
        found.append(("error", exc.message_id, exc.params))
    return found


def _by_batches(table, size: int) -> list:
    found = []
    try:
        for batch in csv_batches(table, size):
            assert 0 < len(batch) <= size
            found += [(line, cells, batch.extra.get(i, 0), batch.long.get(i, ()))
                      for i, (line, cells) in enumerate(zip(batch.lines, batch.cells,
                                                            strict=True))]
    except ReaderError as exc:
        found.append(("error", exc.message_id, exc.params))
    return found


@QUICK
@given(data=csv_bytes(), size=st.integers(1, 5), max_field=st.sampled_from([5, 1000]),
       block=st.sampled_from([7, 64, 100_000]), bound=st.sampled_from([8, 20, 45, 2**20]),
       max_rows=st.sampled_from([3, 1000]))
def test_batches_hold_the_rows_the_reader_gives(tmp_path_factory, monkeypatch, data, size,
                                               max_field, block, bound, max_rows):
    path = tmp_path_factory.mktemp("feed") / "feed.csv"
    path.write_bytes(data)
    monkeypatch.setattr(csv_columns, "BLOCK_CHARS", block)
    limits = TinyRecords(max_field_length=max_field, max_columns=5, max_rows=max_rows,
                         bound=bound)
    try:
        table = open_table(path, limits=limits)
    except ReaderError:
        return
    assume(table.kind == "csv")
    assert csv_columns.can_batch(table)
    expected, got = _by_rows(table), _by_batches(table, size)
    if expected and expected[-1][0] == "error":  # the engine drops a batch cut by an error
        full = (len(expected) - 1) // size * size
        assert got == expected[:full] + expected[-1:]
    else:
        assert got == expected


# --- Amounts ------------------------------------------------------------------------------------

amount_chars = st.sampled_from([*"0123456789" * 3, " ", ",", ".", "\u00a0", "\u202f", "-",
                                "€", "'", "\n"])
amounts = st.one_of(
    st.text(amount_chars, max_size=18),
    st.from_regex(r"[0-9]{1,3}([ \u00a0\u202f,.][0-9]{3}){0,4}([,.][0-9]{0,3})?",
                  fullmatch=True))


def _outcome(convert, raw):
    try:
        value = convert(raw)
    except ValueError as exc:
        return ("error", str(exc))
    return value


@settings(max_examples=500, deadline=None, derandomize=True)
@given(column=st.lists(amounts, min_size=1, max_size=6), mode=st.sampled_from(
    ["auto", ",", "."]))
def test_amounts_in_cents_are_what_the_converter_says(column, mode):
    convert = _money_converter(make_decimal_parser(mode))
    batch_column = BatchColumn(Column(0, Target("field", "total", "Total"), convert), mode)
    values, failures = batch_column.convert(column)
    for index, exc in failures:
        values[index] = ("error", str(exc))
    expected = [_outcome(convert, raw) for raw in column]
    assert values == [v if isinstance(v, tuple) or v is None else int(v.scaleb(2))
                      for v in expected]


def test_french_amounts_go_through_as_a_column():
    column = BatchColumn(Column(0, Target("field", "total", "T"),
                                _money_converter(make_decimal_parser("auto"))), "auto")
    assert csv_columns._money_column(["1 234,56", "0,00", "4\u00a0286,08"], column.money) == \
        [123456, 0, 428608]
    assert column.convert(["1,234"])[0] == [123]  # a lone comma is the decimal separator
    assert column.convert(["1,234.50", "12"])[0] == [123450, 1200]


# --- Keys ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("spill", [0, 3, 10**9])
def test_the_key_log_finds_every_repeat_with_its_first_line(spill):
    import random

    rng, line, seen = random.Random(spill), 1, {}
    log = KeyLog(spill=spill)
    for _ in range(40):
        pairs = []
        for _ in range(rng.randint(0, 30)):
            pairs.append((f"K{rng.randint(0, 300)}", line))
            line += 1
        expected = {}
        for index, (key, at) in enumerate(pairs):
            if key in seen:
                expected[index] = seen[key]
            else:
                seen[key] = at
        assert log.record(pairs) == expected
    probe = [f"K{n}" for n in range(400)]
    assert log.missing(probe) == [key for key in probe if key not in seen]
    log.close()


# --- Whole runs: the batch path against the row path ----------------------------------------

REFS = ["I1", "I2", "I3", "I4", "", " I5 ", "I" * 120]
NUMBERS = ["F-1", "F-2", "F-3", "F-4", "", "F-1 "]
CUSTOMERS = ["C001", "C002", "C003", "C999", ""]
DATES = ["01/10/2026", "31/12/2025", "2026-02-03", "31/02/2026", "", "demain"]
STATUSES = ["Émise", "Payée", "paid", "En retard", "", "inconnu"]
AMOUNTS = ["1 234,56", "0,00", "12", "12,5", "-3,10", "1,234", "abc", "", "1234.567",
           "999 999 999 999,99", "1 000 000 000 000"]
DEVELOPERS = ["Nexity", "Bouygues", "", " Ogic "]
SURFACES = ["12,5", "100", "", "beaucoup"]
OPTIONS = ["a", "a;b", "b, a", "", "z"]
YES_NO = ["oui", "non", "", "peut-être"]
HEADER = ["Réf", "N°", "Client", "Date", "Échéance", "Statut", "HT", "Payé", "Promoteur",
          "Surface", "Options", "Garantie"]
COLUMNS = {"Réf": "external_ref", "N°": "number", "Client": "account.external_ref",
           "Date": "issued_on", "Échéance": "due_on", "Statut": "status",
           "HT": "total_excl_tax", "Payé": "amount_paid", "Promoteur": "custom.promoteur",
           "Surface": "custom.surface", "Options": "custom.options",
           "Garantie": "custom.garantie"}

invoice_rows = st.lists(st.tuples(
    st.sampled_from(REFS), st.sampled_from(NUMBERS), st.sampled_from(CUSTOMERS),
    st.sampled_from(DATES), st.sampled_from(DATES), st.sampled_from(STATUSES),
    st.sampled_from(AMOUNTS), st.sampled_from(AMOUNTS), st.sampled_from(DEVELOPERS),
    st.sampled_from(SURFACES), st.sampled_from(OPTIONS), st.sampled_from(YES_NO),
    st.sampled_from(["", "", "", "extra"])), max_size=14)
runs = st.lists(st.tuples(invoice_rows, st.sampled_from(["upsert", "upsert", "insert",
                                                         "update"]),
                          st.booleans(), st.booleans()), min_size=1, max_size=3)

_names = count()


def _tenant_with_customers() -> int:
    with all_tenants_unsafe("tests"):
        tenant = create_tenant(f"fast-{next(_names)}", "Fast path")
        db.session.commit()
    with tenant_context(tenant.id, SYSTEM):
        partner = Partner(external_ref="P01", name="Agence Rhône")
        db.session.add(partner)
        db.session.flush()
        for ref, partner_id in (("C001", partner.id), ("C002", None), ("C003", None)):
            db.session.add(Account(external_ref=ref, name=f"Client {ref}", kind="company",
                                   country="FR", partner_id=partner_id))
        create_field({"entity": "invoices", "key": "promoteur", "type": "text",
                      "label_fr": "Promoteur", "label_en": "Developer"})
        create_field({"entity": "invoices", "key": "surface", "type": "decimal",
                      "label_fr": "Surface", "label_en": "Area"})
        create_field({"entity": "invoices", "key": "options", "type": "multi_choice",
                      "label_fr": "Options", "label_en": "Options", "choices": ["a", "b"]})
        create_field({"entity": "invoices", "key": "garantie", "type": "boolean",
                      "label_fr": "Garantie", "label_en": "Warranty"})
        db.session.commit()
    return tenant.id


def _file(path: Path, rows: list[tuple]) -> Path:
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write(";".join(HEADER) + "\r\n")
        for *cells, extra in rows:
            out.write(";".join([*cells, extra] if extra else cells) + "\r\n")
    return path


def _import(tenant_id: int, path: Path, mode: str, dry_run: bool, full_sync: bool) -> int:
    with tenant_context(tenant_id, SYSTEM):
        name = f"factures-{mode}-{full_sync}"
        profile = find_profile(name) or feeds.create_profile(
            {"name": name, "entity": "invoices", "mode": mode, "columns": COLUMNS,
             "full_sync": full_sync})
        with path.open("rb") as stream:
            run = feeds.create_run(profile, stream, path.name, source="cli",
                                     dry_run=dry_run, force=True)
        db.session.commit()
        run_id = run.id  # read in its tenant (row-level security, on PostgreSQL)
    assert run_import(run_id, tenant_id, max_wait=0) is not None
    return run_id


def _state(tenant_id: int, run_ids: list[int]) -> dict[str, Any]:
    """What a tenant sees, without ids and times (they differ between tenants)."""
    db.session.expire_all()
    with tenant_context(tenant_id, SYSTEM):
        refs = {a.id: a.external_ref for a in db.session.scalars(select(Account))}
        partners = {p.id: p.external_ref for p in db.session.scalars(select(Partner))}
        ids = {"account_id": refs, "partner_id": partners}
        runs = {run_id: n for n, run_id in enumerate(run_ids)}
        invoices, keys = [], {}
        for invoice in db.session.scalars(select(Invoice).order_by(Invoice.id)):
            keys[invoice.id] = invoice.external_ref
            invoices.append({
                **{c.key: getattr(invoice, c.key) for c in Invoice.__table__.columns
                   if c.key not in ("id", "tenant_id", "created_at", "updated_at",
                                    "import_run_id", "import_profile_id", "account_id",
                                    "partner_id", "archived_at", "import_digest")},
                "account": refs.get(invoice.account_id),
                "partner": partners.get(invoice.partner_id),
                "archived": invoice.archived_at is not None,
                "run": runs.get(invoice.import_run_id)})
        found = {"invoices": invoices, "runs": [], "audit": [
            (e.action, keys.get(e.record_id), _comparable(e.before, ids),
             _comparable(e.after, ids), e.actor_kind)
            for e in db.session.scalars(select(AuditEvent).where(
                AuditEvent.entity == "invoices").order_by(AuditEvent.id))]}
        for run_id in run_ids:
            run = db.session.get(ImportRun, run_id)
            diffs = [{**diff, "before": _comparable(diff["before"], ids),
                      "after": _comparable(diff["after"], ids)} for diff in run.diff_sample]
            found["runs"].append((run.status, run.message, run.counts, run.rows_done, diffs))
            found["runs"].append([
                (e.line, e.column, e.value, e.message, e.message_id, e.message_params, e.raw)
                for e in db.session.scalars(select(ImportRowError).where(
                    ImportRowError.run_id == run_id).order_by(ImportRowError.id))])
    return found


def _comparable(values: dict | None, refs: dict[str, dict[int, str]]) -> dict | None:
    """Audit and diff values without what differs between tenants: times, ids."""
    if not values:
        return values
    values = dict(values)
    if values.get("archived_at"):
        values["archived_at"] = "(a time)"
    for name in ("account_id", "partner_id"):
        if values.get(name) is not None:
            values[name] = refs[name][values[name]]
    return values


@QUICK
@given(steps=runs, batch_rows=st.sampled_from([2, 3, 1000]), spill=st.sampled_from([0, 10**6]),
       in_python=st.booleans())
def test_the_batch_path_leaves_what_the_row_path_leaves(app_ctx, tmp_path_factory,
                                                        monkeypatch, steps, batch_rows, spill,
                                                        in_python):
    folder = tmp_path_factory.mktemp("runs")
    states = []
    for batch_path in (False, True):
        monkeypatch.undo()
        monkeypatch.setattr(engine, "BATCH_ROWS", batch_rows)
        monkeypatch.setattr(keylog, "SPILL", spill)
        if not batch_path:
            monkeypatch.setattr(column_import, "applies", lambda engine, table: False)
        elif in_python:  # records compared in Python rather than by the database
            monkeypatch.setattr(existing_records.ExistingRecords, "_by_the_database",
                                lambda *args: None)
        tenant_id = _tenant_with_customers()
        run_ids = [_import(tenant_id, _file(folder / f"f{n}-{batch_path}.csv", rows), mode,
                           dry_run, full_sync)
                   for n, (rows, mode, dry_run, full_sync) in enumerate(steps)]
        states.append(_state(tenant_id, run_ids))
    assert states[1] == states[0]


@pytest.mark.parametrize("spill", [0, 10**9])
def test_the_key_log_finds_repeats_of_keys_noted_in_ranges(spill):
    log = KeyLog(spill=spill)
    assert log.record([("A1", 2), ("A2", 3)]) == {}
    assert log.record_range(["B1", "B2", "B3"], "B1\nB2\nB3", 4)  # lines 4, 5, 6
    assert log.record_range(["D1", "D2"], "D1\nD2", 7)
    assert not log.record_range(["B3", "C1"], "B3\nC1", 9)  # meets B1–B3: by key
    assert not log.record_range(["A0", "A2"], "A0\nA2", 9)  # A2 seen before: by key
    assert not log.record_range(["E1", "E1"], "E1\nE1", 9)  # repeated in itself
    assert log.bounds == [("B1", "B3"), ("D1", "D2")]
    assert log.missing(["B0", "B2", "C1", "D2", "D3"]) == ["B0", "C1", "D3"]
    assert log.record([("C1", 9), ("D2", 10), ("B2", 11)]) == {1: 8, 2: 5}
    assert log.record_range(["E1", "E2"], "E1\nE2", 12)
    assert log.record([("E2", 14)]) == {0: 13}
    assert log.record([("A2", 15), ("B3", 16)]) == {0: 3, 1: 6}
    assert "E1" in log and "E3" not in log
    log.close()


@pytest.mark.parametrize("spill", [0, 10**9])
def test_the_key_log_reads_a_range_noted_by_its_ends_only_when_a_key_falls_in_it(spill):
    loaded = []

    def keys(*found):
        return lambda: loaded.append(found) or list(found)

    log = KeyLog(spill=spill)
    # The database's order (a collation where "B2" sorts between "a1" and "c3") is not
    # Python's: the interval is the least and greatest key in Python's order.
    assert log.record_range_of("B2", "c3", ("a1", "c3"), 2, keys("a1", "B2", "c3"))
    assert log.record_range_of("d1", "d3", ("d1", "d3"), 5, keys("d1", "d2", "d3"))
    assert not log.record_range_of("d2", "e1", ("d2", "e1"), 8, keys())  # meets d1–d3
    assert log.bounds == [("a1", "c3"), ("d1", "d3")]
    assert log.missing(["A9", "e0"]) == ["A9", "e0"]  # outside both intervals
    assert loaded == []
    assert log.record([("z9", 8)]) == {}
    assert log.record([("a0", 9), ("d2", 10)]) == {1: 6}  # a0 in B2–c3 (Python's order)
    assert loaded == [("a1", "B2", "c3"), ("d1", "d2", "d3")]
    assert log.record([("c3", 11), ("a1", 12)]) == {0: 4, 1: 2}
    assert log.missing(["B2", "d3", "d4"]) == ["d4"]
    # A key noted one at a time in its interval: refused (its keys are given instead).
    assert not log.record_range_of("y1", "z9", ("y1", "z9"), 13, keys())
    assert log.record_range(["y1", "y2"], "y1\ny2", 13)
    assert log.bounds[-1] == ("y1", "y2")
    log.close()
