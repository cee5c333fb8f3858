"""Console sessions: a signed cookie, and CSRF tokens bound to it.

The cookie holds no secret: who signed in (the admin, or a client key by id), a random
nonce and an expiry, signed with HMAC-SHA256 under a key derived from the gateway's secret
(`services.secret_key`). A client key's session is checked against the database on every
request, so revoking the key ends it. An admin session carries a fingerprint of the admin
key, so changing PIXELGATE_ADMIN_KEY ends every admin session.

CSRF tokens are HMACs of the session nonce: a form carries the token, the cookie carries
the nonce, and a cross-site page can read neither (the cookie is also SameSite=Strict).
Before sign-in, a short-lived pre-session cookie plays the nonce's part for the sign-in
form (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

import orjson

__all__ = ["SESSION_SECONDS", "Session", "SessionSigner"]

SESSION_SECONDS = 12 * 3600
Role = Literal["admin", "key"]


@dataclass(frozen=True, slots=True)
class Session:
    role: Role
    key_id: str | None
    nonce: str
    expires: int
    admin_fp: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        # A key of its own, so a console signature can never pass for an image-link one.
        self._key = hmac.new(secret, b"pixelgate console v1", hashlib.sha256).digest()

    def _mac(self, purpose: str, value: str) -> str:
        msg = f"{purpose}|{value}".encode()
        return _b64(hmac.new(self._key, msg, hashlib.sha256).digest())

    def admin_fingerprint(self, admin_key: str) -> str:
        return self._mac("admin", admin_key)[:22]

    def issue(self, role: Role, key_id: str | None, admin_fp: str | None, now: float) -> str:
        payload = {
            "r": role,
            "k": key_id,
            "n": secrets.token_urlsafe(16),
            "e": int(now) + SESSION_SECONDS,
            "a": admin_fp,
        }
        body = _b64(orjson.dumps(payload))
        return f"{body}.{self._mac('session', body)}"

    def read(self, cookie: str | None, now: float) -> Session | None:
        """The session of a cookie, or None when it is missing, tampered with or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, sig = cookie.split(".")
        if not hmac.compare_digest(self._mac("session", body), sig):
            return None
        try:
            data = orjson.loads(_unb64(body))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("r") not in ("admin", "key"):
            return None
        expires = data.get("e")
        if not isinstance(expires, int) or expires < now:
            return None
        return Session(data["r"], data.get("k"), str(data.get("n")), expires, data.get("a"))

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def check_csrf(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.csrf_token(nonce), token)
