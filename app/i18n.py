"""Locale choice (user setting, then Accept-Language) and locale-aware template filters."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import (
    Babel,
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
)
from flask_login import current_user


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale:
        return current_user.locale
    # Jobs, CLI commands and imports translate messages too, outside any request.
    if has_request_context() and session.get("lang") in languages:
        return session["lang"]
    best = request.accept_languages.best_match(languages) if has_request_context() else None
    if best:
        return best
    tenant = g.get("tenant")
    return tenant.default_locale if tenant else current_app.config["BABEL_DEFAULT_LOCALE"]


def money(value: Any, currency: str | None = "EUR") -> str:
    if value is None or value == "":
        return ""
    return format_currency(Decimal(str(value)), currency or "EUR")


def day(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, "short" if str(get_locale()).startswith("en") else "dd/MM/yyyy")


def moment(value: datetime | None) -> str:
    return format_datetime(value, "short") if value else ""


def number(value: Any) -> str:
    return "" if value is None else format_decimal(value)


def install_i18n(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(app.root_path) + "/translations")
    app.jinja_env.filters.update(money=money, day=day, moment=moment, number=number)
    app.jinja_env.globals.update(get_locale=get_locale)
