"""Accounts, sessions, CSRF tokens and the login rate limit.

* Passwords are hashed with Argon2id (argon2-cffi's defaults, memory-hard).
* A session is a random token in an HttpOnly, SameSite=Lax cookie; the database keeps only its
  SHA-256, so a leaked database does not hand out live sessions.
* Each session has its own CSRF token. Every state-changing request carries it, as the
  ``csrf_token`` form field or the ``X-CSRF-Token`` header; the login form, which has no session
  yet, uses a token bound to a short-lived cookie (double submit).
* Login throttling (``begin_attempt``), all counted over ``FAILURE_WINDOW``: past ``MAX_FAILURES``
  failures for one (name, address) pair that pair is refused without checking the password; past
  ``NAME_CEILING`` failures for a name from any address, or ``ADDR_CEILING`` from one address for
  any name, each attempt waits longer before it is checked (slowed, never locked, so nobody can
  lock a colleague out, and one address's failures do not lock out everyone behind it). An attempt
  is recorded as a failure before the password is checked, in the same transaction as the count,
  and forgotten on success, so simultaneous guesses cannot all pass the check.
* Names are compared after NFKC normalisation and trimming, the same for the lookup and the
  throttle, so `` bob`` is ``bob`` for both.
* Sessions end after ``SESSION_DAYS``, or ``IDLE_HOURS`` without a request; expired rows are
  purged at each login.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .common_passwords import COMMON_PASSWORDS
from .db import Conn, now

ROLES = ("admin", "reviewer")
SESSION_COOKIE = "claims_session"
LOGIN_CSRF_COOKIE = "claims_login_csrf"
SESSION_DAYS = 14
IDLE_HOURS = 12
TOUCH_SECONDS = 60  # a session's last use is written at most this often
MAX_FAILURES = 5  # per (name, address) pair: then that pair waits out the window
NAME_CEILING = 20  # per name, any address: then each attempt is slowed
ADDR_CEILING = 50  # per address, any name: then each attempt is slowed
SLOW_STEP = 1.0  # seconds added per failure past a ceiling
SLOW_MAX = 15.0
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
    stale: bool = False  # the session's last use was recorded over TOUCH_SECONDS ago

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str, name: str = "") -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AuthError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AuthError("the password is too long (1024 characters at most)")
    low = password.strip().lower()
    if name and (low == name.lower() or low in (name.lower() * 2, name.lower() + "123")):
        raise AuthError("the password must not be the user name")
    if low in COMMON_PASSWORDS or len(set(low)) < 3:
        raise AuthError("that password is one of the most common ones; choose another")


def login_name(name: object) -> str:
    """A name as typed at login, as the lookup and the throttle both see it."""
    return unicodedata.normalize("NFKC", str(name or "")).strip()


def check_name(name: str) -> str:
    name = login_name(name)
    if not name or len(name) > NAME_MAX or any(c.isspace() or not c.isprintable() for c in name):
        raise AuthError(f"a user name is 1-{NAME_MAX} printable characters without spaces")
    return name


# -- users ---------------------------------------------------------------------------------------

def add_user(c: Conn, name: str, role: str, password: str, by: str = "cli") -> User:
    name = check_name(name)
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    check_password_rules(password, name)
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


def set_password(c: Conn, name: str, password: str, by: str = "cli", current: Optional[str] = None) -> None:
    """Set a password; ``current`` (when given) must be the user's present one."""
    check_password_rules(password, name)
    row = c.one("SELECT id, password_hash FROM users WHERE name = ?", (name,))
    if row is None:
        raise AuthError(f"no user {name!r}")
    if current is not None and not verify_password(row["password_hash"], current):
        raise AuthError("the current password is wrong")
    c.run("UPDATE users SET password_hash = ? WHERE id = ?", (hash_password(password), row["id"]))
    # a new password ends every open session of that user
    c.run("DELETE FROM sessions WHERE user_id = ?", (row["id"],))
    from .store import audit
    audit(c, by, "password", "user", name, None, None, None)


# -- login ---------------------------------------------------------------------------------------

def _since(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.timezone.utc) - delta).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _failure_keys(name: str, client: str) -> dict[str, str]:
    name = login_name(name).casefold()
    return {"pair": f"pair:{name}\n{client}", "name": f"user:{name}", "addr": f"addr:{client}"}


def begin_attempt(c: Conn, name: str, client: str) -> tuple[Optional[list[int]], float]:
    """Count and record a login attempt in one transaction, before the password is checked.

    Returns ``(None, 0)`` when the (name, address) pair is locked out, else the ids of the failure
    rows written for this attempt (``forget_attempt`` removes them on success) and the seconds the
    attempt is to wait before its password is checked."""
    if c.dialect == "postgresql":  # several server processes: one attempt counted at a time
        c.run("LOCK TABLE login_failures IN SHARE ROW EXCLUSIVE MODE")
    since = _since(FAILURE_WINDOW)
    c.run("DELETE FROM login_failures WHERE at < ?", (since,))  # keep the table small
    keys = _failure_keys(name, client)
    count = {k: c.value("SELECT COUNT(*) AS n FROM login_failures WHERE key = ? AND at > ?", (key, since))
             for k, key in keys.items()}
    if count["pair"] >= MAX_FAILURES:
        return None, 0.0
    over = max(count["name"] - NAME_CEILING, count["addr"] - ADDR_CEILING)
    delay = 0.0 if over < 0 else min(SLOW_MAX, SLOW_STEP * (over + 1))
    ids = [int(c.insert("INSERT INTO login_failures (key, at) VALUES (?, ?) RETURNING id", (key, now())))
           for key in keys.values()]
    return ids, delay


def forget_attempt(c: Conn, ids: list[int], name: str, client: str) -> None:
    """A successful login: its attempt was no failure, and its (name, address) pair starts afresh."""
    for i in ids:
        c.run("DELETE FROM login_failures WHERE id = ?", (i,))
    c.run("DELETE FROM login_failures WHERE key = ?", (_failure_keys(name, client)["pair"],))


def login_blocked(c: Conn, name: str, client: str) -> bool:
    """True while this (name, address) pair has had too many recent failures."""
    key = _failure_keys(name, client)["pair"]
    n = c.value("SELECT COUNT(*) AS n FROM login_failures WHERE key = ? AND at > ?", (key, _since(FAILURE_WINDOW)))
    return n >= MAX_FAILURES


def verify_password(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(c: Conn, name: str, password: str) -> Optional[User]:
    """The user if the password is right, else None (and the same time spent either way)."""
    row = c.one("SELECT id, name, role, password_hash FROM users WHERE name = ?", (login_name(name),))
    ok = verify_password(row["password_hash"] if row else _DUMMY_HASH, password)
    return User(row["id"], row["name"], row["role"]) if row and ok else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(c: Conn, user: User) -> str:
    """A new session; returns the cookie value (never stored)."""
    token = secrets.token_urlsafe(32)
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=SESSION_DAYS)
    t = now()
    # expired and idle sessions go at every login
    c.run("DELETE FROM sessions WHERE expires_at < ? OR last_seen < ?", (t, _since(dt.timedelta(hours=IDLE_HOURS))))
    c.run("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen) "
          "VALUES (?, ?, ?, ?, ?, ?)",
          (_token_hash(token), user.id, secrets.token_urlsafe(32), t,
           expires.isoformat(timespec="milliseconds").replace("+00:00", "Z"), t))
    return token


def session_user(c: Conn, token: Optional[str]) -> Optional[User]:
    """The session's user, or None when the session is unknown, expired or idle too long."""
    if not token or len(token) > 200:
        return None
    row = c.one("SELECT u.id, u.name, u.role, s.csrf_token, s.expires_at, s.last_seen FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?", (_token_hash(token),))
    if row is None or row["expires_at"] < now() or (row["last_seen"] or "") < _since(dt.timedelta(hours=IDLE_HOURS)):
        return None
    return User(row["id"], row["name"], row["role"], row["csrf_token"],
                (row["last_seen"] or "") < _since(dt.timedelta(seconds=TOUCH_SECONDS)))


def touch_session(c: Conn, token: str) -> None:
    c.run("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now(), _token_hash(token)))


def end_session(c: Conn, token: Optional[str]) -> None:
    if token:
        c.run("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


def tokens_match(expected: str, given: Optional[str]) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)
