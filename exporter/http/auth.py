"""Basic auth against the bcrypt hashes of the web config file (`basic_auth_users`).

A request must not tell an attacker whether the user name exists. So an unknown user costs one bcrypt
check against a dummy hash with the highest cost among the configured hashes (a cost-12 hash takes
about 4x as long as a cost-10 one), and secrets are compared with hmac.compare_digest. The hashes were
checked when the config was parsed (config/web.py), so checkpw never raises on them here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Mapping

import bcrypt

# bcrypt reads at most 72 bytes of a password; bcrypt 5 raises on longer ones. Such a password is
# refused, never truncated, before the user is even looked up (so it costs the same for every user).
MAX_PASSWORD_BYTES = 72


def bcrypt_cost(hashed: bytes) -> int:
    """The cost of a "$2b$12$..." hash: 12."""
    return int(hashed.split(b"$")[2])


def dummy_hash(cost: int) -> bytes:
    """A well-formed bcrypt hash of that cost that no password matches in practice (an all-zero salt
    and digest): checking against it takes as long as checking against a real hash of that cost."""
    return b"$2b$%02d$" % cost + b"." * 53


class BasicAuth:
    """Checks "Authorization: Basic ..." headers. bcrypt is slow by design (~0.1-0.3 s), so a
    password once verified for a user is remembered (as a SHA-256 digest of hash and password), like
    exporter-toolkit; a wrong password is checked with bcrypt every time."""

    def __init__(self, users: Mapping[str, bytes]) -> None:
        self.users = dict(users)
        self._dummy = dummy_hash(max((bcrypt_cost(h) for h in self.users.values()), default=4))
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def check(self, header: str | None) -> bool:
        if not self.users:
            return True
        credentials = _credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        hashed = self.users.get(user)
        if hashed is None:
            bcrypt.checkpw(password, self._dummy)  # as slow as a known user's wrong password
            return False
        digest = hashlib.sha256(hashed + b"\0" + password).digest()
        with self._lock:
            known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        if not bcrypt.checkpw(password, hashed):
            return False
        with self._lock:
            self._verified[user] = digest
        return True


def _credentials(header: str | None) -> tuple[str, bytes] | None:
    """(user, password) of a Basic Authorization header; None if it is not one we can check."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True)
        user, sep, password = decoded.decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    if not sep or len(password.encode()) > MAX_PASSWORD_BYTES:
        return None
    return user, password.encode()
