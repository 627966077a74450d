"""Whatever a feed sends — random bytes, any encoding, ragged rows, huge fields, broken quotes —
the engine finishes the run (succeeded, partial or failed), never raises, and its counts add up:
every row read is created, updated, unchanged or failed, and every failed row has its errors."""
from __future__ import annotations

import csv
import io
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import distinct, func, select

from app.errors import ValidationError
from app.extensions import db
from app.models import Account, ImportRowError, ImportRun
from app.services import feeds
from importers import runs

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])
HEADER = ["Code client", "Raison sociale", "Ville"]
COLUMNS = dict(zip(HEADER, ("external_ref", "name", "city"), strict=True))

huge_cells = st.sampled_from([2_000, 150_000, 1_100_000]).map(lambda n: "Ω" * n)
cells = st.one_of(
    st.sampled_from(["C1", "C2", "C3", "", " ", '"', ";", ",", "\t", "|", "\n", "\r\n",
                     "Société Générale", "Cœur d’Alène — 12 €", "31/12/2025", "1 234,56",
                     "\x00", "\ufeff", '"a;b"', '"non fermé']),
    st.text(max_size=40),
)
rows = st.lists(st.lists(cells, max_size=6), max_size=12)
headers = st.one_of(
    st.just(HEADER),
    st.just([h.upper() for h in HEADER] + ["", ""]),
    st.lists(st.text(max_size=12), max_size=5),
)


@st.composite
def feed_bytes(draw) -> bytes:
    """A file as a careless export writes it: header, ragged rows, any delimiter, encoding,
    line ending, quoted or not."""
    delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    records = [draw(headers), *draw(rows)]
    if len(records) > 1 and draw(st.integers(min_value=0, max_value=3)) == 0:
        row = records[draw(st.integers(min_value=1, max_value=len(records) - 1))]
        row[1:2] = [draw(huge_cells)]  # one huge field: a pasted document, a runaway quote
    if draw(st.booleans()):
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(records)
        text = buffer.getvalue()
    else:  # no quoting at all: embedded delimiters and quotes as they come
        text = "".join(delimiter.join(record) + newline for record in records)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:cut] + draw(st.binary(max_size=40)) + data[cut:]
    return data


@pytest.fixture
def run_bytes(app, make_profile, tmp_path, monkeypatch):
    """Import bytes through an accounts profile and check every invariant of the run."""
    monkeypatch.setitem(app.config, "IMPORT_MAX_FIELD_LENGTH", 1_000)  # records ≤ 1 MB
    profile = make_profile("accounts", COLUMNS, name="clients-nuit")
    names = count()

    def run(data: bytes) -> ImportRun:
        path = Path(tmp_path) / f"export-{next(names)}.csv"
        path.write_bytes(data)
        before = db.session.scalar(select(func.count()).select_from(Account))
        with path.open("rb") as stream:
            if not data:
                with pytest.raises(ValidationError):
                    feeds.create_run(profile, stream, path.name, source="cli")
                db.session.rollback()
                return None
            queued = feeds.create_run(profile, stream, path.name, source="cli", force=True)
        db.session.commit()
        run = runs.run_import(queued.id, profile.tenant_id, max_wait=0)
        db.session.expire_all()
        assert run.status in ("succeeded", "partial", "failed")
        assert run.finished_at is not None and runs.holder(run) is None
        c = run.counts
        assert c["created"] + c["updated"] + c["unchanged"] + c["failed"] == run.rows_done
        assert run.rows_total == run.rows_done
        failed_lines = db.session.scalar(select(func.count(distinct(ImportRowError.line)))
                                         .where(ImportRowError.run_id == run.id))
        assert failed_lines == c["failed"]
        after = db.session.scalar(select(func.count()).select_from(Account))
        assert after - before == c["created"]
        if run.status == "succeeded":
            assert c["failed"] == 0 and run.message is None
        elif run.status == "partial":
            assert c["failed"] and c["created"] + c["updated"] + c["unchanged"]
        else:  # every row failed, or the file itself was refused, with a message
            assert (c["failed"] and not c["created"] + c["updated"] + c["unchanged"]) \
                or run.message
        return run

    return run


@SETTINGS
@given(data=st.binary(max_size=3_000))
def test_random_bytes_end_in_a_finished_run(run_bytes, data):
    run_bytes(data)


@SETTINGS
@given(data=feed_bytes())
def test_careless_exports_end_in_a_finished_run_whose_counts_add_up(run_bytes, data):
    run_bytes(data)


@SETTINGS
@given(prefix=st.binary(max_size=200), body=feed_bytes())
def test_a_good_header_then_garbage_ends_in_a_finished_run(run_bytes, prefix, body):
    assume(body)
    run_bytes(";".join(HEADER).encode() + b"\r\n" + prefix + body)
