"""Where an export's file goes, one class per kind: kept for download only, mailed, sent to
the tenant's own SFTP server, or put in the outbox/ of one of its feed accounts (fetched over
the SFTP inbox). A kind checks its options when the export is saved and delivers a run's file;
a new kind is one more class in KINDS and one more value in
app.models.export.DESTINATION_KINDS.

Every kind keeps the file with the run first (exports/<tenant>/<run>): whatever the
destination, a run is downloaded again from the back office or the API.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any, ClassVar

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from app import mail
from app.errors import ValidationError
from app.extensions import db
from app.models import Export, ExportRun, FeedAccount, SftpServer, Tenant
from app.services import feed_storage
from app.services.sftp_servers import endpoint_of
from importers.export_files import MEDIA_TYPES
from importers.sftp_client import SftpFailure, upload

MAX_RECIPIENTS = 20


class DeliveryFailed(Exception):
    """The file was written but did not reach its destination; str() says why."""


class Destination:
    kind: ClassVar[str]

    def options(self, data: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        """(destination_options, sftp_server_id) from a definition; ValidationError."""
        return {}, None

    def deliver(self, export: Export, run: ExportRun, path: Path) -> str:
        """Send the file; what it was delivered to (shown with the run)."""
        raise NotImplementedError


class Download(Destination):
    kind = "download"

    def deliver(self, export: Export, run: ExportRun, path: Path) -> str:
        return _("kept for download")


class Email(Destination):
    kind = "email"

    def options(self, data: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        raw = data.get("recipients") or []
        if isinstance(raw, str):
            raw = raw.replace(";", ",").replace("\n", ",").split(",")
        recipients = []
        for address in (str(a).strip() for a in raw):
            if not address:
                continue
            try:
                recipients.append(validate_email(address, check_deliverability=False).normalized)
            except EmailNotValidError as exc:
                raise ValidationError(
                    {"recipients": _("Not an e-mail address: %(address)s.", address=address[:100])}
                ) from exc
        if not recipients or len(recipients) > MAX_RECIPIENTS:
            raise ValidationError(
                {"recipients": _("Give one to %(max)d e-mail addresses.", max=MAX_RECIPIENTS)}
            )
        return {"recipients": recipients}, None

    def deliver(self, export: Export, run: ExportRun, path: Path) -> str:
        limit = current_app.config["EXPORT_MAIL_MAX_BYTES"]
        if path.stat().st_size > limit:
            raise DeliveryFailed(
                _(
                    "The file (%(size)d bytes) is too large to be mailed "
                    "(limit: %(limit)d bytes): send it by SFTP or download it.",
                    size=path.stat().st_size,
                    limit=limit,
                )
            )
        tenant = db.session.get(Tenant, export.tenant_id)
        recipients = export.destination_options.get("recipients") or []
        media_type = MEDIA_TYPES[run.format].split(";")[0]
        attachment = mail.MailAttachment(run.file_name or path.name, path.read_bytes(), media_type)
        try:
            with mail.in_language(tenant.default_locale):
                message = mail.compose(
                    ", ".join(recipients),
                    _("Export %(name)s: %(rows)d rows", name=export.name, rows=run.rows),
                    "document",
                    sender_name=tenant.name,
                    attachments=[attachment],
                    greeting=_("Hello,"),
                    paragraphs=[
                        _(
                            "Attached: the file of the export “%(name)s”, %(rows)d rows.",
                            name=export.name,
                            rows=run.rows,
                        )
                    ],
                    action_url=None,
                    action_label="",
                    signature=tenant.name,
                )
            mail.send(message)
        except mail.MailError as exc:
            raise DeliveryFailed(str(exc)) from exc
        return ", ".join(recipients)


class Sftp(Destination):
    kind = "sftp"

    def options(self, data: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        server_id = data.get("sftp_server_id")
        server = None
        if server_id not in (None, ""):
            try:
                server = db.session.scalar(
                    select(SftpServer).where(SftpServer.id == int(server_id))
                )
            except (TypeError, ValueError):
                server = None
        if server is None:
            raise ValidationError({"sftp_server_id": _("Choose one of your SFTP servers.")})
        folder = str(data.get("folder") or "").strip()
        if len(folder) > 500 or "\x00" in folder or ".." in folder.split("/"):
            raise ValidationError({"folder": _("This folder is not valid.")})
        return {"folder": folder}, server.id

    def deliver(self, export: Export, run: ExportRun, path: Path) -> str:
        server = export.sftp_server
        if server is None:
            raise DeliveryFailed(_("The export's SFTP server no longer exists."))
        remote = posixpath.join(
            export.destination_options.get("folder") or ".", run.file_name or path.name
        )
        try:
            upload(endpoint_of(server), path, remote)
        except SftpFailure as exc:
            raise DeliveryFailed(_("SFTP: %(reason)s", reason=str(exc))) from exc
        return f"sftp://{server.username}@{server.host}:{server.port}/{remote.lstrip('/')}"


class Outbox(Destination):
    """Into the outbox/ of one of the tenant's feed accounts: the system that sends its files
    to the SFTP inbox fetches the export from there (e.g. accounting, or the main system
    taking back the online sales)."""

    kind = "outbox"

    def options(self, data: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        account = _feed_account(data.get("feed_account_id"))
        if account is None:
            raise ValidationError({"feed_account_id": _("Choose one of your SFTP accounts.")})
        return {"feed_account_id": account.id}, None

    def deliver(self, export: Export, run: ExportRun, path: Path) -> str:
        account = _feed_account(export.destination_options.get("feed_account_id"))
        if account is None:
            raise DeliveryFailed(_("The export's SFTP account no longer exists."))
        name = run.file_name or path.name

        def chunks() -> Any:
            with path.open("rb") as source:
                while chunk := source.read(1024 * 1024):
                    yield chunk

        try:
            feed_storage.write_outbox_file(export.tenant_id, account.id, name, chunks())
        except OSError as exc:
            raise DeliveryFailed(_("The outbox could not be written: %(reason)s",
                                   reason=exc.strerror or str(exc))) from exc
        return f"{account.name}: outbox/{name}"


def _feed_account(account_id: Any) -> FeedAccount | None:
    try:
        return db.session.scalar(select(FeedAccount).where(FeedAccount.id == int(account_id)))
    except (TypeError, ValueError):
        return None


KINDS: dict[str, Destination] = {d.kind: d for d in (Download(), Email(), Sftp(), Outbox())}
