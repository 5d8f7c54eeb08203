"""Views of the session: log in, log out, the start page, and the static files."""

from __future__ import annotations

import mimetypes
import re
from typing import Optional

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from ... import __version__
from .. import auth, store
from ..auth import User
from ..db import Database
from ..http import (PUBLIC_STATIC, STATIC_DIR, Done, HTTPError, Page, Raw, body_of, client_addr, password_limiter,
                    safe_next)



async def login_view(request: Request, user: Optional[User]):
    db: Database = request.app.state.db
    if request.method == "GET":
        token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.new_login_csrf()
        page = Page("login.html", {"csrf_token": token, "user": user.to_dict() if user else None},
                    extra={"next": safe_next(request.query_params.get("next"))})
        page.extra["set_login_cookie"] = token
        return page
    cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    header = request.headers.get("x-csrf-token")
    # checked before the body is read when it can be: no login cookie, or a header that does not match it
    if not cookie or (header is not None and not auth.tokens_match(cookie, header)):
        raise HTTPError(403, "the login form expired (CSRF check failed); reload the page and log in again")
    data = await body_of(request)
    if not auth.tokens_match(cookie, header if header is not None else data.get("csrf_token")):
        raise HTTPError(403, "the login form expired (CSRF check failed); reload the page and log in again")
    name, password = auth.login_name(data.get("name")), data.get("password")
    if not isinstance(password, str) or len(password) > 1024 or len(name) > 4 * auth.NAME_MAX:
        raise HTTPError(401, "wrong user name or password", {"next": safe_next(data.get("next"))})
    addr = client_addr(request)
    attempt, delay = await db.awrite(auth.begin_attempt, name, addr)
    if attempt is None:
        raise HTTPError(429, f"too many failed logins; wait {auth.FAILURE_WINDOW.seconds // 60} minutes and try again")
    if delay:
        await anyio.sleep(delay)
    # each check holds Argon2's memory: only a few at once, the rest wait their turn
    found = await anyio.to_thread.run_sync(lambda: db.read(auth.authenticate, name, password),
                                           limiter=password_limiter(request.app))
    if found is None:
        raise HTTPError(401, "wrong user name or password", {"next": safe_next(data.get("next"))})
    await db.awrite(auth.forget_attempt, attempt, name, addr)
    token = await db.awrite(auth.create_session, found)
    session = await db.aread(auth.session_user, token)
    done = Done({"user": found.to_dict(), "csrf_token": session.csrf_token}, safe_next(data.get("next")))
    done.data["_set_session"] = token
    return done


async def logout_view(request: Request, user: User):
    await request.app.state.db.awrite(auth.end_session, request.cookies.get(auth.SESSION_COOKIE))
    return Done({"logged_out": True, "_clear_session": True}, "/login")


async def index_view(request: Request, user: User):
    if not request.state.api:
        raise HTTPError(303, "", {"location": "/articles"})
    return Page("", {"name": "claims review console", "version": __version__, "user": user.to_dict(),
                     "csrf_token": user.csrf_token,
                     "routes": [{"path": "/api" + r.path, "methods": sorted(r.methods)} for r in request.app.state.routes]})


async def static_view(request: Request, user: Optional[User]):
    name = request.path_params["name"]
    if not re.fullmatch(r"[a-z0-9_-]+\.(css|js|svg)", name) or not (STATIC_DIR / name).is_file():
        raise store.NotFound("no such file")
    if user is None and name not in PUBLIC_STATIC:
        raise HTTPError(401, "log in first")
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Raw(Response((STATIC_DIR / name).read_bytes(), media_type=mime,
                        headers={"Cache-Control": "private, max-age=300"}))
