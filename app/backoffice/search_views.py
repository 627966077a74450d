"""The search box of the back office's header: every kind of record at once."""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from app.backoffice import bp
from app.queries.lists import MAX_QUERY
from app.queries.search import search_everywhere


@bp.get("/search")
def search():
    q = (request.args.get("q") or "").strip()[:MAX_QUERY]
    return render_template("search.html", q=q, groups=search_everywhere(q, current_user),
                           search_maxlength=MAX_QUERY)
