"""Settings read from environment variables, with defaults kept under instance/."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _instance_secret_key(instance_path: Path) -> str:
    """Return the SECRET_KEY stored in instance/, generating it on first start."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Only the owner may read it: the key signs sessions and CSRF tokens.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """Build the configuration mapping for create_app."""
    overrides = overrides or {}
    env = os.environ
    cfg: dict = {
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL")
        or f"sqlite:///{instance_path / 'relais.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # PostgreSQL: the tables' owner, for `flask db upgrade` only; the app itself connects
        # with DATABASE_URL as a role that owns nothing (row-level security, docs/operations.md).
        # Empty: migrations use DATABASE_URL.
        "MIGRATION_DATABASE_URL": env.get("MIGRATION_DATABASE_URL", ""),
        "FILES_DIR": env.get("FILES_DIR") or str(instance_path / "files"),
        # Outgoing mail: smtp://[user:pass@]host[:port][?starttls=1] or smtps://… (TLS).
        "SMTP_URL": env.get("SMTP_URL", ""),
        "SMTP_TIMEOUT": float(env.get("SMTP_TIMEOUT", "10")),
        "MAIL_FROM": env.get("MAIL_FROM", "relais@localhost"),
        # Links put in mails (invitations, password resets): https://crm.example.com. Empty:
        # the request's host, which only a trusted proxy or TRUSTED_HOSTS should decide.
        "PUBLIC_URL": env.get("PUBLIC_URL", "").rstrip("/"),
        "PORTAL_LINK_MAX_AGE": int(env.get("PORTAL_LINK_MAX_AGE", str(48 * 3600))),
        "PORT": int(env.get("PORT", "5000")),
        "SFTP_PORT": int(env.get("SFTP_PORT", "2222")),
        # The SFTP inbox (docs/feeds.md): where it listens, its host key (generated once in
        # instance/ when unset), the accounts' folders (on storage every SFTP node shares),
        # an account's default quota, and when a cut upload or a forgotten temporary file is
        # removed.
        "SFTP_HOST": env.get("SFTP_HOST", "127.0.0.1"),
        "SFTP_HOST_KEY": env.get("SFTP_HOST_KEY") or str(instance_path / "sftp_host_key"),
        "SFTP_MAX_CONNECTIONS": int(env.get("SFTP_MAX_CONNECTIONS", "100")),
        "FEED_STORAGE_DIR": env.get("FEED_STORAGE_DIR", ""),  # empty: FILES_DIR/feeds
        "FEED_QUOTA_BYTES": int(env.get("FEED_QUOTA_BYTES", str(2 * 1024**3))),
        "FEED_INCOMPLETE_MAX_AGE_HOURS": float(env.get("FEED_INCOMPLETE_MAX_AGE_HOURS", "24")),
        "FEED_SWEEP": _bool("FEED_SWEEP", True),
        "FEED_SWEEP_SECONDS": 3600.0,
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT_IP": env.get("LOGIN_RATE_LIMIT_IP", "30 per minute"),
        # Failed logins (app/login_throttle.py): per account and client address, per account
        # from all addresses, per address.
        "LOGIN_RATE_LIMIT_ACCOUNT": env.get("LOGIN_RATE_LIMIT_ACCOUNT",
                                            "5 per minute; 20 per hour"),
        "LOGIN_RATE_LIMIT_ACCOUNT_CEILING": env.get("LOGIN_RATE_LIMIT_ACCOUNT_CEILING",
                                                    "50 per hour"),
        # From a browser the account was opened in before (its device cookie), instead of
        # the three above; how long a browser stays known (seconds).
        "LOGIN_RATE_LIMIT_DEVICE": env.get("LOGIN_RATE_LIMIT_DEVICE",
                                           "5 per minute; 20 per hour"),
        "LOGIN_DEVICE_MAX_AGE": int(env.get("LOGIN_DEVICE_MAX_AGE", str(180 * 24 * 3600))),
        "RESET_RATE_LIMIT_IP": env.get("RESET_RATE_LIMIT_IP", "20 per hour"),
        "RESET_RATE_LIMIT_ACCOUNT": env.get("RESET_RATE_LIMIT_ACCOUNT", "5 per hour"),
        # A quote's signing link (/<tenant>/q/<token>): its pages per IP address, and the
        # forms posted to one link (codes asked for and tried).
        "QUOTE_SIGNING_RATE_LIMIT_IP": env.get("QUOTE_SIGNING_RATE_LIMIT_IP", "60 per minute"),
        "QUOTE_SIGNING_RATE_LIMIT_LINK": env.get("QUOTE_SIGNING_RATE_LIMIT_LINK",
                                                 "30 per hour"),
        "TRUST_PROXY": _bool("TRUST_PROXY"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "BOOTSTRAP_SERVE_LOCAL": True,
        "BABEL_DEFAULT_LOCALE": env.get("DEFAULT_LOCALE", "fr"),
        "BABEL_DEFAULT_TIMEZONE": env.get("DEFAULT_TIMEZONE", "Europe/Paris"),
        "LANGUAGES": ["fr", "en"],
        "PAGE_SIZE": int(env.get("PAGE_SIZE", "25")),
        "EXPORT_MAX_ROWS": int(env.get("EXPORT_MAX_ROWS", "200000")),
        # Scheduled exports and pulls (docs/exports.md): the schedules are looked at every
        # FEED_SCHEDULE_SECONDS by the elected scheduler (FEED_SCHEDULES=0: never);
        # a changes-only export's watermark stays EXPORT_CHANGES_LAG_SECONDS behind its read.
        "FEED_SCHEDULES": _bool("FEED_SCHEDULES", True),
        "FEED_SCHEDULE_SECONDS": float(env.get("FEED_SCHEDULE_SECONDS", "30")),
        "EXPORT_CHANGES_LAG_SECONDS": float(env.get("EXPORT_CHANGES_LAG_SECONDS", "600")),
        "EXPORT_STALE_SECONDS": float(env.get("EXPORT_STALE_SECONDS", "300")),
        "EXPORT_MAIL_MAX_BYTES": int(env.get("EXPORT_MAIL_MAX_BYTES", str(10 * 1024 * 1024))),
        "PULL_TIMEOUT": float(env.get("PULL_TIMEOUT", "60")),
        "PULL_CA_FILE": env.get("PULL_CA_FILE", ""),
        "PULL_ALLOW_HTTP": _bool("PULL_ALLOW_HTTP"),
        # SFTP servers and pull addresses on loopback or private networks (development).
        "REMOTE_ALLOW_PRIVATE": _bool("REMOTE_ALLOW_PRIVATE"),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_UPLOAD_BYTES", str(50 * 1024 * 1024))),
        "MAX_FIELD_LENGTH": 255,
        "IMPORT_MAX_BYTES": int(env.get("IMPORT_MAX_BYTES", str(500 * 1024 * 1024))),
        "IMPORT_MAX_ROWS": int(env.get("IMPORT_MAX_ROWS", "5000000")),
        "IMPORT_MAX_FIELD_LENGTH": int(env.get("IMPORT_MAX_FIELD_LENGTH", "10000")),
        "IMPORT_WORKERS": int(env.get("IMPORT_WORKERS", "2")),
        # ZIP archives of documents (docs/feeds.md): at most so many members, unpacking to
        # so many bytes in all, none to more than IMPORT_ZIP_MAX_RATIO times its packed size.
        "IMPORT_ZIP_MAX_MEMBERS": int(env.get("IMPORT_ZIP_MAX_MEMBERS", "10000")),
        "IMPORT_ZIP_MAX_BYTES": int(env.get("IMPORT_ZIP_MAX_BYTES", str(2048 * 1024 * 1024))),
        "IMPORT_ZIP_MAX_RATIO": int(env.get("IMPORT_ZIP_MAX_RATIO", "100")),
        # Runs left behind (docs/feeds.md): a worker beats for its runs every
        # IMPORT_HEARTBEAT_SECONDS; a run without a beat for IMPORT_STALE_SECONDS, or whose
        # process is gone, is interrupted by the check every IMPORT_RECOVERY_SECONDS.
        "IMPORT_HEARTBEAT_SECONDS": float(env.get("IMPORT_HEARTBEAT_SECONDS", "10")),
        "IMPORT_STALE_SECONDS": float(env.get("IMPORT_STALE_SECONDS", "60")),
        "IMPORT_RECOVERY_SECONDS": float(env.get("IMPORT_RECOVERY_SECONDS", "30")),
        "IMPORT_WATCH": _bool("IMPORT_WATCH", True),
        # SQLite: how long a writer waits for another one's lock before "database is locked".
        "SQLITE_BUSY_TIMEOUT_SECONDS": float(env.get("SQLITE_BUSY_TIMEOUT_SECONDS", "30")),
        # API sync (docs/api.md): how far behind a read's start its X-Sync-Watermark lies,
        # above the longest write transaction and the clock difference between servers.
        "API_SYNC_MARGIN_SECONDS": int(env.get("API_SYNC_MARGIN_SECONDS", "300")),
        # Webhooks (docs/webhooks.md): seconds between a failed attempt and the next ones,
        # when an endpoint is disabled, and whether private addresses may be called.
        "WEBHOOK_TIMEOUT": float(env.get("WEBHOOK_TIMEOUT", "10")),
        "WEBHOOK_RETRY_DELAYS": env.get("WEBHOOK_RETRY_DELAYS", "60,300,1800,7200,21600,43200"),
        "WEBHOOK_DISABLE_AFTER_FAILURES": int(env.get("WEBHOOK_DISABLE_AFTER_FAILURES", "10")),
        "WEBHOOK_DISABLE_AFTER_SECONDS": int(env.get("WEBHOOK_DISABLE_AFTER_SECONDS", "86400")),
        "WEBHOOK_ALLOW_PRIVATE": _bool("WEBHOOK_ALLOW_PRIVATE"),
        "WEBHOOK_WORKERS": int(env.get("WEBHOOK_WORKERS", "4")),
        "WEBHOOK_POLL_SECONDS": float(env.get("WEBHOOK_POLL_SECONDS", "5")),
        "WEBHOOK_RETENTION_DAYS": int(env.get("WEBHOOK_RETENTION_DAYS", "30")),
        "WEBHOOK_DISPATCH": _bool("WEBHOOK_DISPATCH", True),
        "WEBHOOK_PURGE_SECONDS": 3600.0,
        # Mails sent after their transaction commits (app/services/mail_outbox.py): seconds
        # between a failed attempt and the next ones; how often retries are looked for; how
        # many days sent, failed and expired mails stay listed before they are purged.
        "MAIL_RETRY_DELAYS": env.get("MAIL_RETRY_DELAYS", "60,300,1800,7200,21600,43200"),
        "MAIL_OUTBOX": _bool("MAIL_OUTBOX", True),
        "MAIL_OUTBOX_SECONDS": float(env.get("MAIL_OUTBOX_SECONDS", "30")),
        "MAIL_OUTBOX_RETENTION_DAYS": int(env.get("MAIL_OUTBOX_RETENTION_DAYS", "90")),
        "MAIL_OUTBOX_PURGE_SECONDS": 3600.0,
        # Files a tenant deletion left when it stopped after its commit (docs/operations.md).
        "TENANT_FILES_SWEEP": _bool("TENANT_FILES_SWEEP", True),
        "TENANT_FILES_SWEEP_SECONDS": 3600.0,
        # SEPA mandates unused for 36 months expire (app/services/mandates.py), checked daily.
        "MANDATE_EXPIRY": _bool("MANDATE_EXPIRY", True),
        "MANDATE_EXPIRY_SECONDS": 86400.0,
        # A collection's build whose process stopped, or that waited or ran this long, is
        # queued again; checked every COLLECTION_RECOVERY_SECONDS
        # (app/services/collection_builds.py).
        "COLLECTION_RECOVERY": _bool("COLLECTION_RECOVERY", True),
        "COLLECTION_RECOVERY_SECONDS": float(env.get("COLLECTION_RECOVERY_SECONDS", "60")),
        "COLLECTION_BUILD_STALE_SECONDS": float(env.get("COLLECTION_BUILD_STALE_SECONDS", "900")),
        # Online subscriptions (docs/selling.md): idle for this many days, a started one is
        # abandoned (checked hourly); its resume link lives as long; the public pages' POSTs
        # are limited per IP address and per e-mail typed.
        "SUBSCRIPTION_IDLE_DAYS": int(env.get("SUBSCRIPTION_IDLE_DAYS", "7")),
        "SUBSCRIPTION_EXPIRY": _bool("SUBSCRIPTION_EXPIRY", True),
        "SUBSCRIPTION_EXPIRY_SECONDS": 3600.0,
        "SUBSCRIBE_RATE_LIMIT_IP": env.get("SUBSCRIBE_RATE_LIMIT_IP", "60 per hour"),
        "SUBSCRIBE_RATE_LIMIT_EMAIL": env.get("SUBSCRIBE_RATE_LIMIT_EMAIL", "20 per hour"),
        # Signatures and seals (docs/selling.md): the seal's certificate and key (generated under
        # instance/esign/ when empty), an RFC 3161 timestamp server (B-T seals), the SMS
        # gateway (`module:Class`; empty: the log), and one-time codes written to the log
        # (development only).
        "ESIGN_CERT_FILE": env.get("ESIGN_CERT_FILE", ""),
        "ESIGN_KEY_FILE": env.get("ESIGN_KEY_FILE", ""),
        "ESIGN_TIMESTAMP_URL": env.get("ESIGN_TIMESTAMP_URL", ""),
        "ESIGN_SMS_SENDER": env.get("ESIGN_SMS_SENDER", ""),
        "ESIGN_LOG_CODES": _bool("ESIGN_LOG_CODES", False),
        # Feed alerts (docs/feeds.md): how often late feeds and due digests are looked for.
        "FEED_ALERTS": _bool("FEED_ALERTS", True),
        "FEED_ALERTS_SECONDS": float(env.get("FEED_ALERTS_SECONDS", "60")),
        # The hour of the tenant's day after which the admins' daily feeds digest leaves.
        "FEED_DIGEST_HOUR": int(env.get("FEED_DIGEST_HOUR", "7")),
        # Jobs (docs/architecture.md): empty, they run on this process's threads; a Redis URL
        # (redis://host:6379/0), on `flask worker` processes. The periodic ones are fired by
        # the one process holding the scheduler lease (renewed within JOBS_LEASE_SECONDS);
        # JOBS_SCHEDULER=0 keeps web processes out of that election (`flask scheduler`).
        "JOBS_BROKER_URL": env.get("JOBS_BROKER_URL", ""),
        "JOBS_SCHEDULER": _bool("JOBS_SCHEDULER", True),
        "JOBS_LEASE_SECONDS": float(env.get("JOBS_LEASE_SECONDS", "30")),
        # The CPU priority `flask worker` lowers itself by (nice, 0-19): on a machine that also
        # serves pages, a long import takes the CPU the requests leave (docs/operations.md).
        "JOBS_WORKER_NICE": int(env.get("JOBS_WORKER_NICE", "10")),
    }
    cfg.update(overrides)
    if not cfg.get("FEED_STORAGE_DIR"):
        cfg["FEED_STORAGE_DIR"] = str(Path(cfg["FILES_DIR"]) / "feeds")
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = env.get("SECRET_KEY") or _instance_secret_key(instance_path)
    return cfg
