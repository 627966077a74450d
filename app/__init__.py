"""Relais: the application factory."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import load_config
from app.extensions import babel, bootstrap, csrf, db, limiter, login_manager


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    root = Path(__file__).resolve().parent.parent
    app = Flask(__name__, instance_path=str(root / "instance"), instance_relative_config=True)
    app.config.update(load_config(Path(app.instance_path), config))
    # JSON answers keep their keys in the order they are given: a schema's fields as declared,
    # a profile's columns as its file gives them.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    init_extensions(app)
    init_security(app)
    init_i18n(app)
    init_blueprints(app)
    init_errors(app)
    init_api(app)
    init_cli(app)
    init_jobs(app)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL: readers never wait for the writer (the busy timeout is the driver's `timeout`,
    set from SQLITE_BUSY_TIMEOUT_SECONDS in init_extensions)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_begin_before_savepoint(connection: Any, name: str) -> None:
    """SQLite: a savepoint opened before any write must not be the transaction itself. The
    driver begins its transaction at the first INSERT, UPDATE or DELETE only; a SAVEPOINT
    outside one starts a transaction that its RELEASE commits, out of reach of the request's
    rollback. Begin it first, and take the write lock at once: a savepoint is opened to write,
    and a deferred transaction that reads first (the rows a batch updates) could not turn
    into a writer once another connection (an import's heartbeat, the webhook dispatcher) has
    committed since — SQLite refuses that at once, without waiting its busy timeout."""
    dbapi_connection = connection.connection.dbapi_connection
    if type(dbapi_connection).__module__.startswith("sqlite3") \
            and not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN IMMEDIATE")


def _sqlite_busy_timeout(app: Flask) -> None:
    """A writer waits for another one's lock (an import's batch) instead of failing at once
    with "database is locked"."""
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("timeout", float(app.config["SQLITE_BUSY_TIMEOUT_SECONDS"]))
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def init_extensions(app: Flask) -> None:
    from app import models, tenancy  # noqa: F401  (register models, install tenant scoping)
    from app.row_security import warn_when_exempt

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    Path(app.config["FILES_DIR"]).mkdir(parents=True, exist_ok=True)
    _sqlite_busy_timeout(app)
    db.init_app(app)
    with app.app_context():
        warn_when_exempt(db.engine)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)


def init_security(app: Flask) -> None:
    from app.auth import install_login_manager
    from app.security import install_security_headers

    app.session_interface = SessionInterface()
    if app.config["TRUST_PROXY"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    install_security_headers(app)
    install_login_manager(app)


def init_i18n(app: Flask) -> None:
    from app.i18n import install_i18n
    from app.phones import country_of, tel_uri
    from app.web.invoice_status import install_invoice_status

    install_i18n(app, babel)
    install_invoice_status(app)
    # Display, like the money and date filters.
    app.jinja_env.filters["tel"] = tel_uri
    app.jinja_env.globals["record_country"] = country_of


def init_blueprints(app: Flask) -> None:
    from app.backoffice import bp as backoffice_bp
    from app.health import bp as health_bp
    from portal import bp as portal_bp
    from portal.quote_signing import bp as quote_signing_bp
    from portal.subscribe import bp as subscribe_bp

    for blueprint in (health_bp, backoffice_bp, portal_bp, subscribe_bp, quote_signing_bp):
        app.register_blueprint(blueprint)


def init_errors(app: Flask) -> None:
    from app.error_pages import install_error_pages

    install_error_pages(app)


def init_jobs(app: Flask) -> None:
    from app.scheduler import install
    from app.webhooks.worker import install as install_webhooks

    install(app)
    install_webhooks(app)


def init_api(app: Flask) -> None:
    from api import install_api

    install_api(app)


def init_cli(app: Flask) -> None:
    from app.cli import register_cli

    register_cli(app)
