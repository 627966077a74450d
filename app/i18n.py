"""Locale choice (user setting, then Accept-Language) and locale-aware template filters."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import dates
from babel.numbers import format_compact_currency, format_currency
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import (
    Babel,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
)
from sqlalchemy import inspect as sa_inspect


def select_locale() -> str:
    """The user's setting, the language chosen on the login page, the browser's, the tenant's.

    Reads no database: a message may be built after a failed flush (a number already used),
    when reloading the tenant or the user would raise instead of answering.
    """
    languages = current_app.config["LANGUAGES"]
    user_locale = _user_locale()
    if user_locale:
        return user_locale
    # Jobs, CLI commands and imports translate messages too, outside any request.
    if has_request_context() and session.get("lang") in languages:
        return session["lang"]
    best = request.accept_languages.best_match(languages) if has_request_context() else None
    if best:
        return best
    return g.get("tenant_locale") or current_app.config["BABEL_DEFAULT_LOCALE"]


def remember_locales(tenant: Any, user: Any = None) -> None:
    """At the start of a request, keep the tenant's and the user's languages as plain values."""
    g.tenant_locale = tenant.default_locale
    remember_user_locale(user)


def remember_user_locale(user: Any) -> None:
    """Keep the language of the user now logged in (or None) as a plain value."""
    g.user_locale = user.locale if user is not None else None


def _user_locale() -> str | None:
    # Flask-Login keeps the user this request loaded in g; asking current_user would load it.
    user = g.get("_login_user") if has_request_context() else None
    state = sa_inspect(user, raiseerr=False) if user is not None else None
    if state is None:  # nobody, or the anonymous user
        return None
    # An attribute in memory is read without a query; an expired one (after a commit or a
    # rollback) is the value remembered when the user was bound to the request.
    return state.dict.get("locale", g.get("user_locale"))


def money(value: Any, currency: str | None = "EUR") -> str:
    if value is None or value == "":
        return ""
    return _money(Decimal(str(value)), currency or "EUR", str(get_locale()))


# A page shows some sixty amounts and months (the home's chart, its cards): formatting them
# was a fifth of the home's own time. The same amount, currency and language always give the
# same text, so the texts are kept (by value, never by user or tenant), a few thousand at most.
@lru_cache(maxsize=4096)
def _money(value: Decimal, currency: str, locale: str) -> str:
    return format_currency(value, currency, locale=locale)


# Four-digit years, day first in both languages: English's "short" (2/5/26) reads as a
# different day on either side of the Atlantic.
DAY_FORMATS = {"en": "d MMM yyyy", "fr": "dd/MM/yyyy"}
MOMENT_FORMATS = {"en": "d MMM yyyy, HH:mm", "fr": "dd/MM/yyyy HH:mm"}


def _language() -> str:
    return "en" if str(get_locale()).startswith("en") else "fr"


def day(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, DAY_FORMATS[_language()])


def month(value: date) -> str:
    """A month as a chart's axis names it: "oct." / "Oct"."""
    return _date_text(value, "LLL", str(get_locale()))


def month_year(value: date) -> str:
    """A month in full: "octobre 2026" / "October 2026"."""
    return _date_text(value, "LLLL yyyy", str(get_locale()))


@lru_cache(maxsize=1024)
def _date_text(value: date, pattern: str, locale: str) -> str:
    return dates.format_date(value, pattern, locale=locale)


def short_money(value: Any, currency: str | None = "EUR") -> str:
    """An amount rounded to what fits above a bar: "123,5 k €" / "€123.5K"."""
    if value is None or value == "":
        return ""
    return _short_money(Decimal(str(value)), currency or "EUR", str(get_locale()))


@lru_cache(maxsize=4096)
def _short_money(value: Decimal, currency: str, locale: str) -> str:
    return format_compact_currency(value, currency, locale=locale, fraction_digits=1)


def moment(value: datetime | None) -> str:
    return format_datetime(value, MOMENT_FORMATS[_language()]) if value else ""


def number(value: Any) -> str:
    return "" if value is None else format_decimal(value)


def install_i18n(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(app.root_path) + "/translations")
    app.jinja_env.filters.update(money=money, day=day, moment=moment, number=number,
                                 month=month, month_year=month_year, short_money=short_money)
    app.jinja_env.globals.update(get_locale=get_locale)
