"""A tenant's whole data as one ZIP: every table as CSV, the files, the audit trail, a manifest
and a SHA256SUMS file.

Made for a tenant who leaves and for an auditor: every tenant table is written (new tables are
included without a change here), custom fields get a column each, secrets (password hashes,
token hashes, webhook secrets) never leave. The ZIP is produced as a stream of chunks, read in
keyset batches, so that a tenant of millions of rows exports in bounded memory, from the CLI to
a file or from the back office as a download.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import inspect, select, text

from app.csv_cells import safe_cell
from app.custom_fields import definitions
from app.extensions import db
from app.models import Attachment, ImportRun, Tenant
from app.models.base import TenantScoped, utcnow
from app.services.attachments import storage_path
from app.services.audit import record_event

FORMAT_VERSION = 1
BATCH = 2000
CHUNK = 1024 * 1024
# Columns that hold a secret or its hash: useless outside Relais, dangerous if leaked.
SECRET_COLUMNS = {("users", "password_hash"), ("api_tokens", "token_hash"),
                  ("user_sessions", "token_hash"), ("webhook_endpoints", "secret"),
                  ("quote_signing_links", "token_hash"),
                  ("esign_seals", "pkcs12_sealed"), ("esign_seals", "passphrase_sealed")}
# A record's feed fingerprint (importers/fingerprints.py): the importer's cache, not data.
INTERNAL_COLUMNS = {"import_digest"}
# What a file name may not hold in an archive entry, on any system that extracts it.
WINDOWS_FORBIDDEN = set('<>:"|?*')
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
                   *(f"LPT{n}" for n in range(1, 10))}
NAME_LIMIT = 120


def tenant_models() -> list[type]:
    """Every tenant-scoped model, parents before children (the schema's dependency order)."""
    by_table = {mapper.local_table.name: mapper.class_
                for mapper in db.Model.registry.mappers
                if issubclass(mapper.class_, TenantScoped)}
    return [by_table[t.name] for t in db.metadata.sorted_tables if t.name in by_table]


def export_columns(model: type) -> list[str]:
    table = model.__table__
    return [c.key for c in table.columns
            if c.name != "tenant_id" and c.name not in INTERNAL_COLUMNS
            and (table.name, c.name) not in SECRET_COLUMNS]


def csv_value(value: Any) -> str:
    """A cell for machines (ISO dates, dot decimals, JSON), formulas neutralised for people."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return safe_cell(str(value))  # the rule of every CSV that leaves Relais


def archive_name(file_name: str | None) -> str:
    """A stored file's name as the last part of a ZIP entry, safe wherever it is extracted.

    The names come from uploads, feeds and the API, so anything may be in them: only the part
    after the last / or \\ is kept, control and invisible characters (a right-to-left override
    included) and those Windows refuses become _, leading and trailing dots and spaces go, a
    device name (CON, NUL.txt…) gets a _ in front, the length is capped, extension kept.
    """
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", file_name or ""))[-1]
    name = "".join("_" if char in WINDOWS_FORBIDDEN
                   or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
                   else char for char in name).strip(" .")
    if name.split(".")[0].strip().upper() in WINDOWS_DEVICES:
        name = f"_{name}"
    if len(name) > NAME_LIMIT:
        stem, dot, extension = name.rpartition(".")
        extension = f".{extension}" if dot and stem and len(extension) <= 10 else ""
        name = name[:NAME_LIMIT - len(extension)].rstrip(" .") + extension
    return name or "file"


@dataclass
class Member:
    """One file of the archive: its path and the chunks of bytes it is made of."""

    path: str
    chunks: Callable[[], Iterable[bytes]]
    rows: int | None = None
    size: int = 0
    sha256: str = ""
    counted: dict[str, int] = field(default_factory=dict)


class _Pipe(io.RawIOBase):
    """A write-only sink whose bytes are taken out as they come (the ZIP is never seekable)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def _custom_keys(model: type) -> list[str]:
    """Every custom field of the table's entity, inactive ones too: their values are data."""
    if "custom" not in model.__table__.c:
        return []
    return [field.key for field in definitions(model.__tablename__, active_only=False)]


def _table_csv(model: type, member: Member) -> Iterator[bytes]:
    """The table's rows in id order, fetched in keyset batches (no cursor held across yields)."""
    columns = export_columns(model)
    custom_keys = _custom_keys(model)
    header = columns + [f"custom.{key}" for key in custom_keys]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    attrs = [getattr(model, name) for name in columns]
    last_id, count = 0, 0
    while True:
        rows = db.session.execute(
            select(*attrs).where(model.id > last_id).order_by(model.id).limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            values = dict(zip(columns, row, strict=True))
            custom = values.get("custom") or {}
            writer.writerow([csv_value(values[c]) for c in columns]
                            + [csv_value(custom.get(key)) for key in custom_keys])
        count += len(rows)
        last_id = rows[-1].id
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    member.rows = count
    yield buffer.getvalue().encode("utf-8")


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk


def _file_members(tenant: Tenant) -> Iterator[Member]:
    """Attachments (by record), import files and the extranet logo, when stored."""
    last_id = 0
    while True:
        attachments = db.session.execute(
            select(Attachment.id, Attachment.sha256, Attachment.file_name)
            .where(Attachment.id > last_id).order_by(Attachment.id).limit(BATCH)).all()
        if not attachments:
            break
        for attachment in attachments:
            path = storage_path(tenant.id, attachment.sha256)
            if path.exists():
                name = archive_name(attachment.file_name)
                yield Member(f"files/attachments/{attachment.id}/{name}",
                             lambda path=path: _file_chunks(path))
        last_id = attachments[-1].id
    imports = Path(current_app.config["FILES_DIR"]) / "imports" / str(tenant.id)
    for run_id, file_name in db.session.execute(
            select(ImportRun.id, ImportRun.file_name).order_by(ImportRun.id)):
        path = imports / str(run_id)
        if path.exists():
            yield Member(f"files/imports/{run_id}/{archive_name(file_name)}",
                         lambda path=path: _file_chunks(path))
    if tenant.logo_sha256:
        path = storage_path(tenant.id, tenant.logo_sha256)
        if path.exists():
            yield Member("files/logo", lambda path=path: _file_chunks(path))


def _members(tenant: Tenant) -> Iterator[Member]:
    for model in tenant_models():
        member = Member(f"data/{model.__tablename__}.csv", lambda: ())
        member.chunks = lambda model=model, member=member: _table_csv(model, member)
        yield member
    yield from _file_members(tenant)


def schema_revision() -> str | None:
    """The database schema's Alembic revision: which migration the CSV columns are those of."""
    if not inspect(db.session.connection()).has_table("alembic_version"):
        return None  # a schema built without the migrations
    heads = db.session.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return ",".join(sorted(heads)) or None


def _tenant_row(tenant: Tenant) -> dict[str, Any]:
    """The tenant's own settings (its row is not tenant-scoped, so it has no CSV)."""
    row = {c.key: getattr(tenant, c.key) for c in Tenant.__table__.columns}
    return {k: v.isoformat() if isinstance(v, datetime | date)
            else str(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def _manifest(tenant: Tenant, members: list[Member]) -> bytes:
    return json.dumps({
        "format": "relais-tenant-export", "version": FORMAT_VERSION,
        "schema_revision": schema_revision(),
        "tenant": _tenant_row(tenant),
        "created_at": utcnow().isoformat(),
        "notes": ("CSV files are UTF-8, comma-separated, one header row; dates ISO 8601, "
                  "decimals with a dot, JSON values as JSON text. A text cell that starts "
                  "with = + - @ or a tab/CR is prefixed with ' so spreadsheets show it as "
                  "text. Password hashes, token hashes and webhook secrets are left out."),
        "files": [{"path": m.path, "size": m.size, "sha256": m.sha256,
                   **({"rows": m.rows} if m.rows is not None else {})} for m in members],
    }, ensure_ascii=False, indent=2).encode("utf-8")


def _checksums(members: list[Member], manifest: bytes) -> bytes:
    """Every other file's SHA-256 as `sha256sum -c SHA256SUMS` reads it, in the extracted folder
    (the entry names are safe, so none needs sha256sum's escaping)."""
    lines = [f"{m.sha256}  {m.path}\n" for m in members]
    lines.append(f"{hashlib.sha256(manifest).hexdigest()}  manifest.json\n")
    return "".join(lines).encode("utf-8")


def record_export(tenant: Tenant) -> None:
    """Audit that the tenant's whole data is being taken out (before it streams)."""
    record_event("export", "tenants", tenant.id, None, {"slug": tenant.slug})


def export_tenant(tenant: Tenant) -> Iterator[bytes]:
    """The ZIP of the bound tenant's data, chunk by chunk (reads only)."""
    pipe = _Pipe()
    done: list[Member] = []
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for member in _members(tenant):
            digest, size = hashlib.sha256(), 0
            with zf.open(member.path, "w", force_zip64=True) as out:
                for chunk in member.chunks():
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                    if data := pipe.drain():
                        yield data
            member.size, member.sha256 = size, digest.hexdigest()
            done.append(member)
            if data := pipe.drain():
                yield data
        manifest = _manifest(tenant, done)
        zf.writestr("manifest.json", manifest)
        zf.writestr("SHA256SUMS", _checksums(done, manifest))
    yield pipe.drain()


def export_file_name(tenant: Tenant) -> str:
    return f"relais-{tenant.slug}-{utcnow().strftime('%Y%m%d-%H%M%S')}.zip"
