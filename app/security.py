"""Security headers sent with every response."""
from __future__ import annotations

from flask import Flask, Response, abort, request

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

# A year, subdomains included: browsers then never try this site over plain HTTP.
HSTS = "max-age=31536000; includeSubDomains"


def _has_nul(values: object) -> bool:
    # A multipart part whose name werkzeug cannot read (name="%0D") comes with the key None.
    return any("\x00" in (key or "") or "\x00" in (value or "")
               for key, value in values.items(multi=True))


def install_security_headers(app: Flask) -> None:
    @app.before_request
    def refuse_nul_bytes() -> None:
        # PostgreSQL text cannot hold NUL: refuse such input up front instead of failing in SQL.
        if "\x00" in request.path or _has_nul(request.args) or _has_nul(request.form):
            abort(400)
        if request.is_json:  # "\u0000" in JSON text is a NUL once decoded
            body = request.get_data(cache=True)
            if b"\x00" in body or b"\\u0000" in body:
                abort(400)

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:  # behind a proxy, from X-Forwarded-Proto once TRUST_PROXY is set
            headers.setdefault("Strict-Transport-Security", HSTS)
        if response.mimetype == "text/html":
            # Pages may hold a customer's data: never keep them in a shared cache.
            headers.setdefault("Cache-Control", "no-store")
        return response
