"""Accounts, sessions, CSRF tokens and the login rate limit.

* Passwords are hashed with Argon2id (argon2-cffi's defaults, memory-hard).
* A session is a random token in an HttpOnly, SameSite=Lax cookie; the database keeps only its
  SHA-256, so a leaked database does not hand out live sessions.
* Each session has its own CSRF token. Every state-changing request carries it, as the
  ``csrf_token`` form field or the ``X-CSRF-Token`` header; the login form, which has no session
  yet, uses a token bound to a short-lived cookie (double submit).
* Failed logins are counted per user name and per client address; past ``MAX_FAILURES`` in
  ``FAILURE_WINDOW`` further attempts are refused without checking the password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .db import Conn, now

ROLES = ("admin", "reviewer")
SESSION_COOKIE = "claims_session"
LOGIN_CSRF_COOKIE = "claims_login_csrf"
SESSION_DAYS = 14
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD = 8
NAME_MAX = 64

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AuthError(ValueError):
    """A user-fixable account problem (bad name, short password, unknown user)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    csrf_token: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AuthError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AuthError("the password is too long (1024 characters at most)")


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX or any(c.isspace() or not c.isprintable() for c in name):
        raise AuthError(f"a user name is 1-{NAME_MAX} printable characters without spaces")
    return name


# -- users ---------------------------------------------------------------------------------------

def add_user(c: Conn, name: str, role: str, password: str, by: str = "cli") -> User:
    name = check_name(name)
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    check_password_rules(password)
    if c.one("SELECT id FROM users WHERE name = ?", (name,)):
        raise AuthError(f"user {name!r} already exists")
    uid = c.insert("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                   (name, role, hash_password(password), now()))
    from .store import audit
    audit(c, by, "create", "user", name, None, None, {"name": name, "role": role})
    return User(int(uid), name, role)


def list_users(c: Conn) -> list[dict]:
    return c.all("SELECT id, name, role, created_at FROM users ORDER BY name")


def remove_user(c: Conn, name: str, by: str = "cli") -> None:
    row = c.one("SELECT id, name, role FROM users WHERE name = ?", (name,))
    if row is None:
        raise AuthError(f"no user {name!r}")
    if row["role"] == "admin" and c.value("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'") == 1:
        raise AuthError(f"{name!r} is the last admin; add another admin first")
    c.run("DELETE FROM sessions WHERE user_id = ?", (row["id"],))
    c.run("DELETE FROM users WHERE id = ?", (row["id"],))
    from .store import audit
    audit(c, by, "delete", "user", name, None, {"name": name, "role": row["role"]}, None)


def set_password(c: Conn, name: str, password: str, by: str = "cli") -> None:
    check_password_rules(password)
    row = c.one("SELECT id FROM users WHERE name = ?", (name,))
    if row is None:
        raise AuthError(f"no user {name!r}")
    c.run("UPDATE users SET password_hash = ? WHERE id = ?", (hash_password(password), row["id"]))
    # a new password ends every open session of that user
    c.run("DELETE FROM sessions WHERE user_id = ?", (row["id"],))
    from .store import audit
    audit(c, by, "password", "user", name, None, None, None)


# -- login ---------------------------------------------------------------------------------------

def _failure_keys(name: str, client: str) -> list[str]:
    return [f"user:{name.lower()}", f"addr:{client}"]


def login_blocked(c: Conn, name: str, client: str) -> bool:
    """True while this name or address has had too many recent failures."""
    since = (dt.datetime.now(dt.timezone.utc) - FAILURE_WINDOW).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for key in _failure_keys(name, client):
        n = c.value("SELECT COUNT(*) AS n FROM login_failures WHERE key = ? AND at > ?", (key, since))
        if n >= MAX_FAILURES:
            return True
    return False


def record_failure(c: Conn, name: str, client: str) -> None:
    old = (dt.datetime.now(dt.timezone.utc) - FAILURE_WINDOW).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    c.run("DELETE FROM login_failures WHERE at < ?", (old,))  # keep the table small
    for key in _failure_keys(name, client):
        c.run("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, now()))


def authenticate(c: Conn, name: str, password: str) -> Optional[User]:
    """The user if the password is right, else None (and the same time spent either way)."""
    row = c.one("SELECT id, name, role, password_hash FROM users WHERE name = ?", ((name or "").strip(),))
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return User(row["id"], row["name"], row["role"]) if row else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(c: Conn, user: User) -> str:
    """A new session; returns the cookie value (never stored)."""
    token = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=SESSION_DAYS)
    c.run("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
          (_token_hash(token), user.id, secrets.token_urlsafe(32), now(),
           expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")))
    # a successful login clears that user's failure count
    c.run("DELETE FROM login_failures WHERE key = ?", (f"user:{user.name.lower()}",))
    return token


def session_user(c: Conn, token: Optional[str]) -> Optional[User]:
    if not token or len(token) > 200:
        return None
    row = c.one("SELECT u.id, u.name, u.role, s.csrf_token, s.expires_at FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?", (_token_hash(token),))
    if row is None or row["expires_at"] < now():
        return None
    return User(row["id"], row["name"], row["role"], row["csrf_token"])


def end_session(c: Conn, token: Optional[str]) -> None:
    if token:
        c.run("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


def tokens_match(expected: str, given: Optional[str]) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)
