"""Secrets Relais must use again (a tenant's SFTP password or private key), kept encrypted.

Fernet (AES-128-CBC and HMAC-SHA256) with a key derived from SECRET_KEY by HKDF: a database
dump alone gives none of them away. Changing SECRET_KEY makes them unreadable: the servers'
credentials are then entered again (docs/exports.md). They are never shown back.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

INFO = b"relais:secret-box:v1"


class SecretUnreadable(Exception):
    """A secret kept under another SECRET_KEY (or damaged)."""


def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable from exc
