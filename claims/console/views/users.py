"""Views for admins: the users and the audit trail."""

from __future__ import annotations

from urllib.parse import urlencode

import anyio
import anyio.to_thread
from starlette.requests import Request

from .. import auth, store
from ..auth import User
from ..db import Database
from ..http import password_limiter, HTTPError, Page, Done, body_of, int_param, client_addr


async def audit_view(request: Request, user: User):
    q = request.query_params
    limit = max(1, min(int_param(q.get("limit"), "limit", 50), 1000))
    offset = max(0, int_param(q.get("offset"), "offset", 0))
    rows = await request.app.state.db.aread(
        store.audit_log, article_id=int_param(q.get("article"), "article"), user=q.get("user", ""),
        entity=q.get("entity", ""), entity_id=q.get("entity_id", ""), limit=limit + 1, offset=offset,
        accounts=user.is_admin)  # who has an account, and with which role, is for admins
    more = len(rows) > limit
    rows = rows[:limit]
    base = {k: q[k] for k in q if k != "offset"}
    return Page("audit.html", {"entries": rows, "limit": limit, "offset": offset,
                               "next_offset": offset + limit if more else None},
                extra={"q": q, "base_query": urlencode(base),
                       "prev_offset": max(0, offset - limit) if offset else None})


async def users_view(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins manage users")
    db: Database = request.app.state.db
    if request.method == "POST":
        data = await body_of(request)
        new = await db.awrite(auth.add_user, str(data.get("name", "")), str(data.get("role", "")),
                              str(data.get("password", "")), user.name)
        return Done({"user": new.to_dict()}, "/users", 201)
    return Page("users.html", {"users": await db.aread(auth.list_users), "roles": auth.ROLES})


async def user_delete_view(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins manage users")
    name = request.path_params["name"]
    if name == user.name:
        raise HTTPError(400, "you cannot remove yourself")
    await request.app.state.db.awrite(auth.remove_user, name, user.name)
    return Done({"deleted": name}, "/users")


async def user_password_view(request: Request, user: User):
    name = request.path_params["name"]
    if not user.is_admin and name != user.name:
        raise HTTPError(403, "only admins change other users' passwords")
    data = await body_of(request)
    own = name == user.name
    current = data.get("current_password") if own else None
    if own and not isinstance(current, str):
        raise HTTPError(400, "give your current password (current_password) to change it")
    if own:
        # checked like a login: throttled, and the check waits for a free slot
        addr = client_addr(request)
        attempt, delay = await request.app.state.db.awrite(auth.begin_attempt, name, addr)
        if attempt is None:
            raise HTTPError(429, "too many wrong passwords; wait and try again")
        await anyio.sleep(delay)
        ok = await anyio.to_thread.run_sync(
            lambda: request.app.state.db.read(auth.authenticate, name, current), limiter=password_limiter(request.app))
        if ok is None:
            raise HTTPError(400, "the current password is wrong")
        await request.app.state.db.awrite(auth.forget_attempt, attempt, name, addr)
    await request.app.state.db.awrite(auth.set_password, name, str(data.get("password", "")), user.name)
    return Done({"changed": name}, "/login" if name == user.name else "/users")
