"""Rows recognised unchanged by the bytes of their line (importers/unchanged_lines.py), in
blocks made small here so that a short file spans many: what a user sees (records, counts,
errors and their lines, full sync) is what reading every row gives."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.extensions import db
from app.models import ImportRun
from importers import unchanged_lines
from importers.keylog import KeyLog
from tests.importers.conftest import by_key, row_errors
from tests.importers.test_fingerprints import COLUMNS, HEADER, world  # noqa: F401

ROWS = [f"R{n:02d};F-{n:03d};C{1 + n % 2};01/10/2026;Émise;{n},00;pme" for n in range(1, 31)]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(unchanged_lines, "BLOCK_BYTES", 150)  # about four lines a block


@pytest.fixture
def feed(world, make_profile, feed_file, run_import):  # noqa: F811
    """feed(rows, full_sync=False, newline="\\r\\n", encoding="utf-8"): a forced import of
    the rows by the invoices profile (one per value of full_sync)."""
    profiles = {}
    names = iter(range(1, 100))

    def run(rows: list[str] = ROWS, *, full_sync: bool = False, newline: str = "\r\n",
            encoding: str = "utf-8") -> ImportRun:
        if full_sync not in profiles:
            profiles[full_sync] = make_profile("invoices", COLUMNS, full_sync=full_sync)
        path = feed_file("\n".join([HEADER, *rows]) + "\n", name=f"f{next(names)}.csv",
                         newline=newline, encoding=encoding)
        return run_import(profiles[full_sync], path, force=True)

    return run


def _errors(run: ImportRun) -> list[tuple[int, dict]]:
    return [(error.line, error.message_params or {}) for error in row_errors(run)]


def _invoices() -> dict:
    db.session.expire_all()
    return by_key("invoices")


def test_every_row_of_every_block_is_recognised_and_a_changed_byte_is_read_again(feed):
    assert feed().created == 30
    again = feed()
    assert (again.unchanged, again.fingerprinted, again.rows_done) == (30, 30, 30)
    same_value = [*ROWS]
    same_value[16] = same_value[16].replace("17,00", "17,0")  # other bytes, same amount
    run = feed(same_value)
    assert (run.fingerprinted, run.unchanged, run.updated) == (29, 30, 0)
    assert feed(same_value).fingerprinted == 30  # found equal: took the new line's
    changed = [*same_value]
    changed[22] = changed[22].replace("23,00", "230,00")
    run = feed(changed)
    assert (run.fingerprinted, run.updated, run.failed) == (29, 1, 0)
    assert _invoices()["R23"].total == Decimal("230.00")


def test_a_quoted_cell_over_two_lines_is_read_by_csv_and_its_lines_counted(feed):
    rows = [*ROWS]
    rows[11] = rows[11].replace("F-012", '"F-012\nbis"')  # lines 13 and 14
    rows[26] = rows[26].replace("01/10/2026", "31/02/2026")  # line 29
    first = feed(rows)
    assert first.created == 29 and first.failed == 1
    assert [line for line, _message in _errors(first)] == [29]
    assert _invoices()["R12"].number == "F-012\nbis"
    again = feed(rows)
    assert (again.fingerprinted, again.unchanged, again.failed) == (29, 29, 1)
    assert [line for line, _message in _errors(again)] == [29]
    rows[24] = rows[24].replace("25,00", "26,00")
    run = feed(rows)
    assert (run.fingerprinted, run.updated) == (28, 1)
    assert _invoices()["R25"].total == Decimal("26.00")


def test_errors_after_recognised_blocks_name_their_own_lines(feed):
    feed()
    rows = [*ROWS[:10], "", *ROWS[10:]]  # a blank line 12: the rows after it one line down
    rows[20] = rows[20].replace("01/10/2026", "not a date")  # R20, line 22
    rows.append(ROWS[2].replace("F-003", "F-999"))  # R03 again, line 33
    run = feed(rows)
    assert (run.fingerprinted, run.failed, run.rows_done) == (29, 2, 31)
    errors = _errors(run)
    assert [line for line, _message in errors] == [22, 33]
    assert errors[1][1] == {"key": "R03", "first": 4, "line": 33}
    assert _invoices()["R03"].number == "F-003"


def test_full_sync_archives_exactly_the_rows_no_longer_in_the_file(feed):
    feed(full_sync=True)
    absent = {"R05", "R18", "R30"}
    run = feed([row for row in ROWS if row[:3] not in absent], full_sync=True)
    assert (run.fingerprinted, run.archived) == (27, 3)
    invoices = _invoices()
    assert {key for key, invoice in invoices.items() if invoice.archived_at} == absent
    back = feed(full_sync=True)
    assert (back.fingerprinted, back.updated, back.archived) == (27, 3, 0)


def test_other_line_endings_or_encoding_are_compared_not_recognised(feed):
    feed()
    lf = feed(newline="\n")
    assert (lf.fingerprinted, lf.unchanged, lf.updated) == (0, 30, 0)
    assert feed(newline="\n").fingerprinted == 30
    cp1252 = feed(newline="\n", encoding="cp1252")
    assert (cp1252.fingerprinted, cp1252.unchanged, cp1252.updated) == (0, 30, 0)
    assert _invoices()["R01"].status == "issued"


def test_a_file_out_of_its_keys_order_is_recognised_key_by_key(feed):
    shuffled = [row for start in range(6) for row in ROWS[start::6]]  # blocks' keys far apart
    assert feed(shuffled).created == 30
    again = feed(shuffled)
    assert (again.fingerprinted, again.unchanged) == (30, 30)
    shuffled[7] = shuffled[7].replace(",00;", ",50;")
    run = feed(shuffled)
    assert (run.fingerprinted, run.updated) == (29, 1)


def test_a_quoted_header_leaves_the_whole_file_to_csv(feed, make_profile, feed_file, run_import):
    profile = make_profile("invoices", COLUMNS)
    header = ";".join(f'"{name}"' for name in HEADER.split(";"))

    def run(rows: list[str], name: str) -> ImportRun:
        path = feed_file("\n".join([header, *rows]) + "\n", name=name)
        return run_import(profile, path, force=True)

    assert run(ROWS, "q1.csv").created == 30
    assert run(ROWS, "q2.csv").fingerprinted == 30  # by their cells, as before
    changed = [*ROWS]
    changed[29] = changed[29].replace("30,00", "31,00")
    again = run(changed, "q3.csv")
    assert (again.fingerprinted, again.updated) == (29, 1)
    assert _invoices()["R30"].total == Decimal("31.00")


# --- Blocks noted as key ranges --------------------------------------------------------------

@pytest.fixture
def noted(monkeypatch):
    """What the runs' key logs noted: ranges (their first keys; those noted by their ends
    alone also in "by_ends"), keys one at a time, and ranges opened from the file."""
    found = {"ranges": [], "keys": [], "by_ends": [], "loaded": []}
    record, record_range = KeyLog.record, KeyLog.record_range
    record_range_of = KeyLog.record_range_of

    def spy_record(self, pairs, **options):
        found["keys"] += [key for key, _line in pairs]
        return record(self, pairs, **options)

    def spy_range(self, keys, joined, first):
        done = record_range(self, keys, joined, first)
        if done:
            found["ranges"].append(keys[0])
        return done

    def spy_range_of(self, low, high, ends, first, load):
        def spy_load():
            keys = load()
            found["loaded"].append(keys)
            return keys

        done = record_range_of(self, low, high, ends, first, spy_load)
        if done:
            found["ranges"].append(ends[0])
            found["by_ends"].append(ends[0])
        return done

    monkeypatch.setattr(KeyLog, "record", spy_record)
    monkeypatch.setattr(KeyLog, "record_range", spy_range)
    monkeypatch.setattr(KeyLog, "record_range_of", spy_range_of)
    return found


def test_an_unchanged_file_in_its_keys_order_is_noted_by_ranges_not_by_key(feed, noted):
    feed(full_sync=True)
    noted["keys"].clear()
    noted["ranges"].clear()
    again = feed(full_sync=True)
    assert (again.fingerprinted, again.archived) == (30, 0)
    assert noted["keys"] == [] and len(noted["ranges"]) > 5
    # Each block in one comparison with its range's records: no key read back or from a line.
    assert noted["by_ends"] == noted["ranges"] and noted["loaded"] == []
    assert not [key for key, invoice in _invoices().items() if invoice.archived_at]


def test_changed_lines_of_a_block_of_the_same_records_are_noted_with_its_range(feed, noted):
    feed()
    rows = [*ROWS]
    for at in (2, 13, 14, 27):
        rows[at] = rows[at].replace(",00;", ",50;")
    noted["keys"].clear()
    run = feed(rows)
    assert (run.fingerprinted, run.updated, run.failed) == (26, 4, 0)
    assert noted["keys"] == []  # every block the same records: each one a range
    # A block with a changed line is compared line by line, with its records' keys; the
    # first block after one found unchanged so is compared by its ends again.
    assert noted["by_ends"] and set(noted["ranges"]) - set(noted["by_ends"])
    invoices = _invoices()
    assert [invoices[f"R{n:02d}"].total for n in (3, 14, 15, 28)] == [
        Decimal("3.50"), Decimal("14.50"), Decimal("15.50"), Decimal("28.50")]
    assert invoices["R04"].total == Decimal("4.00")


def test_a_key_repeated_after_its_range_is_found_with_its_first_line(feed, noted):
    feed()
    rows = [*ROWS, ROWS[9].replace("F-010", "F-110"), *ROWS[20:24]]  # lines 32, 33–36
    run = feed(rows)
    assert noted["ranges"]  # R10's first line was noted only with its block's range
    assert any("R10" in keys for keys in noted["loaded"])  # its keys read again from the file
    assert (run.failed, run.fingerprinted, run.updated) == (5, 30, 0)
    errors = {line: params for line, params in _errors(run)}
    assert errors[32] == {"key": "R10", "first": 11, "line": 32}
    assert [errors[line]["first"] for line in range(33, 37)] == [22, 23, 24, 25]
    assert _invoices()["R10"].number == "F-010"


def test_a_key_seen_before_its_range_is_a_repeat_in_the_range(feed, noted):
    feed()
    rows = [ROWS[25].replace("F-026", "F-126"), *ROWS]  # R26 on line 2, then on line 28
    run = feed(rows)
    assert run.failed == 1
    assert _errors(run) == [(28, {"key": "R26", "first": 2, "line": 28})]
    assert _invoices()["R26"].number == "F-126"


def test_records_a_run_changed_are_skipped_the_next_night(feed):
    """Every amount changed: the run updates thirty records (PostgreSQL: through its staging
    table), each taking its line's fingerprint; the same file the next night is read at the
    cost of its lines, none converted or compared."""
    feed()
    rows = [row.replace(",00;", ",25;") for row in ROWS]
    run = feed(rows)
    assert (run.updated, run.fingerprinted) == (30, 0)
    assert _invoices()["R07"].total == Decimal("7.25")
    again = feed(rows)
    assert (again.unchanged, again.fingerprinted, again.updated) == (30, 30, 0)


def test_full_sync_archives_around_interleaved_ranges_and_changed_blocks(feed, noted):
    feed(full_sync=True)
    rows = [row for row in ROWS if row[:3] not in {"R01", "R12", "R13", "R30"}]
    rows = [row.replace(",00;", ",25;") if row[:3] in {"R08", "R21"} else row for row in rows]
    rows.insert(15, "R16b;F-916;C1;01/10/2026;Émise;9,00;pme")  # a new record between
    noted["ranges"].clear()
    run = feed(rows, full_sync=True)
    assert noted["ranges"]  # blocks noted by range between blocks read key by key
    assert (run.created, run.updated, run.archived, run.failed) == (1, 2, 4, 0)
    invoices = _invoices()
    assert {key for key, invoice in invoices.items() if invoice.archived_at} == {
        "R01", "R12", "R13", "R30"}
    again = feed(rows, full_sync=True)
    # The two records the run changed took their rows' fingerprints as it wrote them.
    assert (again.unchanged, again.fingerprinted, again.archived) == (27, 27, 0)
    last = feed(rows[:5] + rows[10:], full_sync=True)
    assert last.archived == 5
    assert {key for key, invoice in _invoices().items() if invoice.archived_at} == {
        "R01", "R12", "R13", "R30", *(row.split(";")[0] for row in rows[5:10])}


def test_an_update_names_the_profile_that_wrote_it_last(feed):
    first = feed()  # profile of full_sync=False
    rows = [*ROWS]
    rows[4] = rows[4].replace("5,00", "5,50")
    other = feed(rows, full_sync=True)  # another profile
    assert other.updated == 1
    invoices = _invoices()
    assert invoices["R05"].import_profile_id == other.profile_id != first.profile_id
    assert invoices["R04"].import_profile_id == first.profile_id
    back = feed()
    assert back.updated == 1
    assert _invoices()["R05"].import_profile_id == first.profile_id


def test_a_block_in_a_collation_other_than_pythons_is_noted_and_archived_around(
        feed, noted, app, backend):
    """PostgreSQL, keys compared by ICU (case second): the file in the database's order is
    not in Python's, nor are its blocks' intervals."""
    if backend != "postgresql":
        pytest.skip("a column's collation: PostgreSQL")
    from tests.conftest import owner_engine

    def collate(name: str) -> None:
        with owner_engine(app).begin() as connection:
            connection.execute(db.text(f'ALTER TABLE invoices ALTER COLUMN external_ref '
                                       f'TYPE varchar(100) COLLATE "{name}"'))

    def in_code_points() -> bool:
        from app.models import Invoice
        from app.services.record_sql import BulkSQL

        found = BulkSQL(Invoice.__table__, "external_ref", 1).keys_in_code_points()
        db.session.rollback()
        return found

    collate("und-x-icu")
    try:
        assert not in_code_points()  # the range's ends in code points asked of the database
        rows = [row.replace(row[:3], ("r" if n % 2 else "R") + row[1:3], 1)
                for n, row in enumerate(ROWS)]  # R01, r02, R03, … : ICU's order, not Python's
        feed(rows, full_sync=True)
        noted["ranges"].clear()
        noted["by_ends"].clear()
        again = feed(rows, full_sync=True)
        assert (again.unchanged, again.archived, again.failed) == (30, 0, 0)
        assert noted["ranges"]  # some blocks noted whole, whatever their intervals
        absent = {rows[4][:3], rows[17][:3]}
        changed = [row for row in rows if row[:3] not in absent]
        changed[9] = changed[9].replace(",00;", ",50;")
        changed.append(rows[21].replace("F-022", "F-122"))  # r22 repeated
        run = feed(changed, full_sync=True)
        assert (run.unchanged, run.updated, run.archived, run.failed) == (27, 1, 2, 1)
        assert _errors(run)[0][1]["key"] == rows[21][:3]
        invoices = _invoices()
        assert {key for key, invoice in invoices.items() if invoice.archived_at} == absent
        assert invoices[rows[21][:3]].number == "F-022"
    finally:
        db.session.rollback()
        db.session.remove()
        collate("default")
    assert in_code_points() == (db.session.execute(db.text(
        "SELECT datcollate FROM pg_database WHERE datname = current_database()")).scalar()
        in ("C", "POSIX", "C.UTF-8", "C.utf8"))


def test_a_key_of_the_first_block_repeated_is_read_again_past_the_header(feed, noted):
    feed()
    crlf = feed([*ROWS, ROWS[0].replace("F-001", "F-101")])  # R01 again on line 32
    assert "R01" in noted["by_ends"]  # the first block (after the header) noted by its ends
    assert [keys for keys in noted["loaded"] if "R01" in keys][0][0] == "R01"
    assert _errors(crlf) == [(32, {"key": "R01", "first": 2, "line": 32})]
    lf = feed([*ROWS, ROWS[1].replace("F-002", "F-102")], newline="\n")
    assert lf.failed == 1 and _errors(lf)[0][1] == {"key": "R02", "first": 3, "line": 32}
