"""Every extension object of the application, created unbound."""
from __future__ import annotations

from pathlib import Path
from threading import Lock, local
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from flask_migrate import Migrate

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LazyDocApi(Api):
    """flask-smorest's Api, whose blueprints are described in the OpenAPI document when it is
    first read (/api/v1/openapi.json, the docs, `flask openapi`), not when they are registered:
    describing them is a tenth of every start-up, which each CLI command would pay."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pending_docs: list[tuple[Any, str, Any]] = []
        self._docs_lock = Lock()
        self._describing = local()  # the thread describing may read the spec meanwhile
        self._spec: Any = None
        super().__init__(*args, **kwargs)

    @property
    def spec(self) -> Any:
        if self._pending_docs and not getattr(self._describing, "now", False):
            with self._docs_lock:  # another thread waits until the document is complete
                self._describing.now = True
                try:
                    while self._pending_docs:
                        blp, name, parameters = self._pending_docs[0]
                        blp.register_views_in_doc(self, self._app, self._spec, name=name,
                                                  parameters=parameters)
                        self._spec.tag({"name": name, "description": blp.description})
                        del self._pending_docs[0]
                finally:
                    self._describing.now = False
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        # init_app makes a new document per application (tests make one per database):
        # what another application registered is not described in it.
        self._spec = value
        self._pending_docs = []

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._pending_docs.append((blp, name, parameters))


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# The REST API at /api/v1 (api/): its OpenAPI document, blueprints and error responses.
api = LazyDocApi()


def migrations(app: Flask) -> Migrate:
    """Flask-Migrate, bound to `app` when first needed (`flask db`, tests, the bench) rather
    than by create_app: it imports Alembic, which no other command or request needs and which
    would cost a tenth of every command's start-up (app/cli/database.py)."""
    from flask_migrate import Migrate

    if "migrate" not in app.extensions:
        Migrate(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"),
                render_as_batch=True, compare_type=True)
    return app.extensions["migrate"].migrate
