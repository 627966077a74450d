"""Localized error pages: a clear message, never a stack trace."""
from __future__ import annotations

from functools import partial

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from app.errors import NotAllowed, NotFound
from app.extensions import db

ERROR_PAGES = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("Not allowed"), _l("Your role does not give access to this page.")),
    404: (_l("Page not found"), _l("This page does not exist or you may not see it.")),
    405: (_l("Not allowed"), _l("This action is not available here.")),
    413: (_l("File too large"), _l("The file is larger than allowed.")),
    429: (_l("Too many attempts"), _l("Too many attempts. Wait a minute and try again.")),
    500: (_l("Error"), _l("Something went wrong. Nothing was saved.")),
}
CSRF_PAGE = (_l("Form expired"),
             _l("The form has expired. Go back, reload the page and try again."))


def _render(code: int, title: str, message: str, error: Exception):
    if code == 500:
        db.session.rollback()
    return render_template("error.html", code=code, title=title, message=message), code


def install_error_pages(app: Flask) -> None:
    for code, (title, message) in ERROR_PAGES.items():
        app.register_error_handler(code, partial(_render, code, title, message))
    app.register_error_handler(CSRFError, partial(_render, 400, *CSRF_PAGE))
    # A service's refusal that a page did not catch: the page of its status, rolled back.
    app.register_error_handler(NotFound, _refused(404))
    app.register_error_handler(NotAllowed, _refused(403))


def _refused(code: int):
    def handle(error: Exception):
        db.session.rollback()
        title, message = ERROR_PAGES[code]
        return _render(code, title, getattr(error, "message", None) or message, error)

    return handle
