"""The review console's web app: one route table, one view per page, HTML and JSON from the same view.

Every path in ``ROUTES`` is served twice: ``/x`` renders the view's data with a template, and
``/api/x`` returns the same data as JSON. Both need a session (the login page excepted), and both
check the session's CSRF token on every state change. Views return ``Page`` (data to show) or
``Done`` (a change made: JSON for the API, a redirect for the browser); errors a user can fix
are ``HTTPError`` or the store's ``Invalid`` / ``NotFound`` / ``Conflict``.

    app = create_app("console.db")            # analyzer loaded by the job runner on first use
    app = create_app(db, analyzer_factory=f)  # tests inject a stand-in analyzer
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import re
import time
import weakref
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import quote, urlencode

import anyio
import anyio.to_thread
import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import __version__
from ..disputes import DisputeError, validate as validate_dispute
from ..doc import SPEAKER_TYPES, STANCE_LABELS, FORMS
from . import auth, export, importer, speakers, store
from .importer import clean_value, strict_json
from .auth import AuthError, User
from .db import Database
from .highlight import pieces
from .jobs import STANCE_DISABLED, JobRunner, job_dict, list_jobs

log = logging.getLogger("claims.console")
HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
# what the login page itself needs; every other asset requires a session
PUBLIC_STATIC = {"console.css"}
# Request bodies are capped while they are read (chunked bodies have no Content-Length to trust):
# the login form is tiny, article uploads are large, everything else is a small form or JSON edit.
MAX_UPLOAD = 64 * 1024 * 1024
MAX_LOGIN_BODY = 16 * 1024
MAX_BODY = 1024 * 1024
UPLOAD_PATHS = {"/articles", "/api/articles", "/disputes/import", "/api/disputes/import"}
LOGIN_PATHS = {"/login", "/api/login"}
MAX_FORM_FIELDS = 200
MAX_FORM_FILES = 20
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
PASSWORD_CHECKS = 2  # Argon2 verifications at once (each holds 64 MiB)


class HTTPError(Exception):
    def __init__(self, status: int, message: str, data: Optional[dict] = None):
        super().__init__(message)
        self.status, self.message, self.data = status, message, data or {}


@dataclass
class Page:
    """Data for a page: all of it is the JSON twin; the template also gets ``extra``."""
    template: str
    data: dict
    status: int = 200
    extra: dict = field(default_factory=dict)


@dataclass
class Done:
    """A change was made: JSON ``data`` for the API, a redirect to ``location`` for the browser."""
    data: dict
    location: str
    status: int = 200


@dataclass
class Raw:
    """A response both twins send as it is (downloads)."""
    response: Response


# -- request helpers -------------------------------------------------------------------------------

def body_limit(path: str) -> int:
    if path in LOGIN_PATHS:
        return MAX_LOGIN_BODY
    return MAX_UPLOAD if path in UPLOAD_PATHS else MAX_BODY


def _too_large(limit: int) -> HTTPError:
    size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"
    return HTTPError(413, f"the request body is larger than {size}")


class BodyLimit:
    """Caps every request body while it is read, chunked or not: past the limit of its path the
    view gets a 413 ``HTTPError`` from ``receive`` and nothing more is read."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.strip().isdigit() and int(declared) > limit:
            e = _too_large(limit)
            await JSONResponse({"error": e.message}, status_code=413,
                               headers={"Connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, limited, send)


async def read_form(request: Request):
    try:
        return await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_BODY)
    except StarletteHTTPException as e:  # a malformed or oversized multipart part
        raise HTTPError(e.status_code, str(e.detail)) from None


async def body_of(request: Request) -> dict:
    """The request body as a dict: JSON object, or form fields (files kept as UploadFile lists)."""
    cached = getattr(request.state, "body", None)
    if cached is not None:
        return cached
    ctype = request.headers.get("content-type", "")
    out: dict[str, Any] = {}
    if ctype.startswith("application/json"):
        try:
            data = strict_json(await request.body() or b"{}")
        except ValueError as e:
            raise HTTPError(400, f"the body is {e}" if str(e).startswith("not ") else f"the body: {e}") from None
        if not isinstance(data, dict):
            raise HTTPError(400, "the JSON body must be an object")
        out = data
    elif ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await read_form(request)
        for k, v in form.multi_items():
            if hasattr(v, "filename"):
                out.setdefault(k, []).append(v)
            else:
                try:
                    out[k] = clean_value(v, f"the field {k[:40]!r}")
                except ValueError as e:
                    raise HTTPError(400, str(e)) from None
    request.state.body = out
    return out


def _int(v: Any, name: str, default: Optional[int] = None) -> Optional[int]:
    if v in (None, ""):
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise HTTPError(400, f"{name} must be an integer") from None


def _float(v: Any, name: str) -> Optional[float]:
    if v in (None, ""):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise HTTPError(400, f"{name} must be a number") from None


def safe_next(url: Optional[str]) -> str:
    """Only same-site paths: an open redirect would let a link send a fresh login elsewhere."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/articles"
    return url


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# -- views -----------------------------------------------------------------------------------------

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
                                           limiter=_password_limiter(request.app))
    if found is None:
        raise HTTPError(401, "wrong user name or password", {"next": safe_next(data.get("next"))})
    await db.awrite(auth.forget_attempt, attempt, name, addr)
    token = await db.awrite(auth.create_session, found)
    session = await db.aread(auth.session_user, token)
    done = Done({"user": found.to_dict(), "csrf_token": session.csrf_token}, safe_next(data.get("next")))
    done.data["_set_session"] = token
    return done


def _password_limiter(app) -> anyio.CapacityLimiter:
    loops = app.state.password_checks
    loop = asyncio.get_running_loop()
    if loop not in loops:
        loops[loop] = anyio.CapacityLimiter(PASSWORD_CHECKS)
    return loops[loop]


async def logout_view(request: Request, user: User):
    await request.app.state.db.awrite(auth.end_session, request.cookies.get(auth.SESSION_COOKIE))
    return Done({"logged_out": True, "_clear_session": True}, "/login")


async def index_view(request: Request, user: User):
    if not request.state.api:
        raise HTTPError(303, "", {"location": "/articles"})
    return Page("", {"name": "claims review console", "version": __version__, "user": user.to_dict(),
                     "csrf_token": user.csrf_token,
                     "routes": [{"path": "/api" + r.path, "methods": sorted(r.methods)} for r in ROUTES]})


QUEUE_TABS = (("to_review", "To review"), ("in_review", "In review"), ("done", "Done"))


async def articles_view(request: Request, user: User):
    db: Database = request.app.state.db
    if request.method == "POST":
        return await create_articles(request, user)
    q = request.query_params
    status = q.get("status", "to_review" if not request.state.api else "")
    if status == "all":
        status = ""
    filters = dict(status=status, dispute=q.get("dispute", ""), speaker=q.get("speaker", "").strip(),
                   stance=q.get("stance", ""), max_confidence=_float(q.get("max_confidence"), "max_confidence"),
                   publisher=q.get("publisher", "").strip(), date_from=q.get("from", ""), date_to=q.get("to", ""),
                   sort=q.get("sort", "newest"), analysis=q.get("analysis", ""),
                   mine=user.name if q.get("mine") in ("1", "true", "yes") else "")
    limit = max(1, min(_int(q.get("limit"), "limit", 50), 500))
    offset = max(0, _int(q.get("offset"), "offset", 0))
    result = await db.aread(store.queue, **filters, limit=limit, offset=offset)
    disputes = await db.aread(store.list_disputes)
    analysing = await db.aread(lambda c: c.all(
        "SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY id"))
    result["filters"] = {k: v for k, v in filters.items() if v not in (None, "")}
    result["jobs"] = [job_dict(j) for j in analysing]
    base = {k: q[k] for k in q if k not in ("status", "offset")}
    return Page("queue.html", result, extra={
        "disputes": disputes, "tabs": QUEUE_TABS, "status": status, "q": q, "base_query": urlencode(base),
        "labels": STANCE_LABELS, "sorts": store.QUEUE_SORTS,
        "next_offset": offset + limit if offset + limit < result["total"] else None,
        "prev_offset": max(0, offset - limit) if offset else None})


async def create_articles(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins add articles")
    db: Database = request.app.state.db
    data = await body_of(request)
    records, errors = [], []
    items = data.get("articles") if isinstance(data.get("articles"), list) else None
    if items is not None:  # JSON: {"articles": [{...}, ...]}
        for n, obj in enumerate(items, 1):
            try:
                records.append(importer.record_from(obj, f"article #{n}"))
            except ValueError as e:
                errors.append(str(e))
    elif isinstance(data.get("text"), str) and data["text"].strip():
        try:
            records.append(importer.record_from({k: data.get(k) for k in ("id", "text", *importer.META_KEYS)},
                                                "text"))
        except ValueError as e:
            errors.append(str(e))
    for up in data.get("files", []) or []:
        if not getattr(up, "filename", ""):
            continue
        raw = await up.read()
        got, errs = importer.parse_upload(raw, up.filename)
        records += got
        errors += errs
    if not records:
        raise HTTPError(400, "; ".join(errors) or "give the article text (paste it, or upload a .txt or .jsonl file)",
                        {"errors": errors})
    report = await db.awrite(importer.store_records, records, user.name, errors)
    request.app.state.jobs.wake()
    location = f"/articles/{report.articles[0]}" if len(report.articles) == 1 else "/jobs"
    return Done(report.to_dict(), location, 202 if report.job_id else 201)


async def new_article_view(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins add articles")
    return Page("article_new.html", {"fields": ["title", "text", "publisher", "published", "url"],
                                     "uploads": [".txt", ".jsonl"], "max_chars": importer.MAX_CHARS})


def _article_data(c, article_id: int, order: str) -> dict:
    row = store.get_article_row(c, article_id)
    disputes = store.list_disputes(c)
    return store.article_dict(row, store.article_claims(c, article_id, order), disputes)


async def article_view(request: Request, user: User):
    db: Database = request.app.state.db
    article_id = request.path_params["id"]
    order = "confidence" if request.query_params.get("sort") == "confidence" else "position"
    t0 = time.perf_counter()
    data = await db.aread(_article_data, article_id, order)
    held = data["open_by"]
    fresh = (held and held["name"] == user.name and
             held["since"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - store.OPEN_REFRESH_SECONDS)))
    if request.query_params.get("peek") not in ("1", "true") and data["status"] != "done" and not fresh and not (
            held and held["name"] != user.name):
        data["open_by"] = await db.awrite(store.open_article, article_id, user.name)
    runner: JobRunner = request.app.state.jobs
    if data["analysis"] in ("pending", "running") and data.get("created_at"):
        job = await db.aread(lambda c: c.one("SELECT * FROM articles a JOIN jobs j ON j.id = a.job_id "
                                             "WHERE a.id = ?", (article_id,)))
        data["job"] = job_dict({k: job[k] for k in ("id", "kind", "status", "params", "total", "done", "failed",
                                                    "error", "created_by", "created_at", "started_at",
                                                    "finished_at")}) if job else None
    if request.state.api:
        return Page("", data)
    extra = {"pieces": pieces(data["text"], data["claims"]), "order": order, "labels": STANCE_LABELS,
             "forms": FORMS, "speaker_types": SPEAKER_TYPES, "ratings": store.RATING_NAMES,
             "stance_available": runner.stance_available, "db_ms": (time.perf_counter() - t0) * 1000}
    return Page("article.html", data, extra=extra)


async def article_status_view(request: Request, user: User):
    db: Database = request.app.state.db
    data = await body_of(request)
    aid = request.path_params["id"]
    if data.get("version") in (None, ""):
        raise HTTPError(400, "version is required (the article version your change was made on)")
    row = await db.awrite(store.set_article_status, aid, str(data.get("status", "")),
                          _int(data.get("version"), "version"), user.name)
    return Done({"id": aid, "status": row["status"], "version": row["version"]},
                "/articles" if row["status"] == "done" else f"/articles/{aid}")


async def add_claim_view(request: Request, user: User):
    db: Database = request.app.state.db
    data = await body_of(request)
    aid = request.path_params["id"]
    claim = await db.awrite(store.add_claim, aid, data, user.name)
    return Done(claim, f"/articles/{aid}#{claim['id']}", 201)


async def claim_view(request: Request, user: User):
    db: Database = request.app.state.db
    cid = request.path_params["id"]
    if request.method == "GET":
        def read(c):
            row = c.one("SELECT * FROM claims WHERE id = ?", (cid,))
            if row is None:
                raise store.NotFound(f"no claim {cid}")
            d = store.claim_dict(row, store.stances_of(c, [cid]).get(cid, {}))
            d["article_id"] = row["article_id"]
            d["history"] = store.audit_log(c, entity="claim", entity_id=str(cid))
            return d
        d = await db.aread(read)
        if not request.state.api:
            raise HTTPError(303, "", {"location": f"/articles/{d['article_id']}#{d['id']}"})
        return Page("", d)
    data = await body_of(request)
    for k in ("content", "cue", "source", "speaker", "stance"):
        # an HTML form sends JSON-encoded values for structured fields
        if isinstance(data.get(k), str) and data[k][:1] in ("[", "{", "n"):
            try:
                data[k] = json.loads(data[k])
            except json.JSONDecodeError:
                pass
    claim = await db.awrite(store.update_claim, cid, data, user.name)
    aid = await db.aread(lambda c: c.value("SELECT article_id FROM claims WHERE id = ?", (cid,)))
    return Done(claim, f"/articles/{aid}#{claim['id']}")


async def jobs_view(request: Request, user: User):
    db: Database = request.app.state.db
    runner: JobRunner = request.app.state.jobs
    jobs = await db.aread(list_jobs)
    return Page("jobs.html", {"jobs": jobs, "stance_available": runner.stance_available,
                              "model_error": runner.model_error})


async def job_view(request: Request, user: User):
    db: Database = request.app.state.db
    jid = request.path_params["id"]
    row = await db.aread(lambda c: c.one("SELECT * FROM jobs WHERE id = ?", (jid,)))
    if row is None:
        raise store.NotFound(f"no job {jid}")
    job = job_dict(row)
    ids = job["params"].get("articles", [])
    arts = await db.aread(lambda c: [c.one("SELECT id, title, analysis, error, n_claims FROM articles WHERE id = ?",
                                           (i,)) for i in ids[:500]])
    job["articles"] = [a for a in arts if a]
    return Page("job.html", job)


async def job_retry_view(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins retry jobs")
    jid = request.path_params["id"]
    job = await request.app.state.db.awrite(JobRunner.retry, jid, user.name)
    request.app.state.jobs.wake()
    return Done({"job": job}, f"/jobs/{jid}", 202)


async def disputes_view(request: Request, user: User):
    db: Database = request.app.state.db
    runner: JobRunner = request.app.state.jobs
    if request.method == "POST":
        return await save_dispute(request, user, create=True)
    disputes = await db.aread(store.list_disputes)
    stance = runner.stance_available
    return Page("disputes.html", {"disputes": disputes, "stance_available": stance,
                                  "rescoring": None if stance is not False else STANCE_DISABLED})


async def save_dispute(request: Request, user: User, create: bool):
    if not user.is_admin:
        raise HTTPError(403, "only admins manage disputes")
    db: Database = request.app.state.db
    data = await body_of(request)
    keys = ("id", "title", "proposition", "description")
    if create:
        fields = {k: data[k] for k in keys if data.get(k) not in (None, "")}
    else:
        # an edit changes the fields it gives and keeps the others
        did = request.path_params["id"]
        if data.get("version") in (None, ""):
            raise HTTPError(400, "version is required (the dispute version your edit was made on)")
        old = await db.aread(lambda c: c.one("SELECT * FROM disputes WHERE id = ?", (did,)))
        if old is None:
            raise store.NotFound(f"no dispute {did!r}")
        fields = {"id": did, "title": old["title"], "proposition": old["proposition"],
                  "description": old["description"], "aliases": store.loads(old["aliases"]) or []}
        fields |= {k: data[k] for k in keys[1:] if k in data and data[k] is not None}
        if fields.get("title") == "":
            fields["title"] = old["title"]
    if isinstance(data.get("aliases"), list):
        fields["aliases"] = data["aliases"]
    elif isinstance(data.get("aliases"), str):
        fields["aliases"] = [a.strip() for a in data["aliases"].split(",") if a.strip()]
    try:
        d = validate_dispute(fields, "dispute")
    except DisputeError as e:
        raise HTTPError(400, str(e)) from None
    row = await db.awrite(store.save_dispute, d, user.name, _int(data.get("version"), "version"), create)
    out = {"dispute": row, "rescore": None}
    if data.get("rescore") not in (None, "", "0", False, "false"):
        out["rescore"] = await _queue_rescore(request, user, d.id)
    return Done(out, "/disputes", 201 if create else 200)


async def _queue_rescore(request: Request, user: User, dispute_id: str) -> dict:
    runner: JobRunner = request.app.state.jobs
    if runner.stance_available is False:
        raise HTTPError(409, STANCE_DISABLED)
    db: Database = request.app.state.db
    jid = await db.awrite(lambda c: JobRunner.add_job(c, "rescore", {"dispute": dispute_id}, 0, user.name))
    runner.wake()
    return {"job": jid}


async def disputes_import_view(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins manage disputes")
    from ..disputes import parse as parse_disputes
    data = await body_of(request)
    ups = [u for u in data.get("file", []) or [] if getattr(u, "filename", "")]
    if isinstance(data.get("toml"), str) and data["toml"].strip():
        text, name = data["toml"], "the disputes text"
    elif ups:
        name = ups[0].filename
        try:
            text = importer.decode(await ups[0].read(), name)
        except ValueError as e:
            raise HTTPError(400, str(e)) from None
    else:
        raise HTTPError(400, "upload a disputes file (TOML with [[dispute]] tables) as `file`, or send it as `toml`")
    try:
        disputes = parse_disputes(text, name)
    except DisputeError as e:
        raise HTTPError(400, str(e)) from None
    report = await request.app.state.db.awrite(store.import_disputes, disputes, user.name)
    return Done(report, "/disputes", 200)


async def dispute_view(request: Request, user: User):
    db: Database = request.app.state.db
    did = request.path_params["id"]
    if request.method == "POST":
        return await save_dispute(request, user, create=False)
    row = await db.aread(lambda c: c.one("SELECT * FROM disputes WHERE id = ?", (did,)))
    if row is None:
        raise store.NotFound(f"no dispute {did!r}")
    row["aliases"] = store.loads(row["aliases"])
    return Page("dispute.html", row)


async def dispute_delete_view(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins manage disputes")
    await request.app.state.db.awrite(store.delete_dispute, request.path_params["id"], user.name)
    return Done({"deleted": request.path_params["id"]}, "/disputes")


async def dispute_rescore_view(request: Request, user: User):
    if not user.is_admin:
        raise HTTPError(403, "only admins manage disputes")
    did = request.path_params["id"]
    exists = await request.app.state.db.aread(lambda c: c.one("SELECT id FROM disputes WHERE id = ?", (did,)))
    if not exists:
        raise store.NotFound(f"no dispute {did!r}")
    return Done(await _queue_rescore(request, user, did), "/jobs", 202)


async def speakers_view(request: Request, user: User):
    data = await request.app.state.db.aread(speakers.matrix)
    return Page("speakers.html", data, extra={"positions": speakers.POSITIONS})


async def evidence_view(request: Request, user: User):
    q = request.query_params
    data = await request.app.state.db.aread(speakers.evidence, q.get("speaker", ""), q.get("dispute", ""))
    return Page("evidence.html", data)


async def audit_view(request: Request, user: User):
    q = request.query_params
    limit = max(1, min(_int(q.get("limit"), "limit", 50), 1000))
    offset = max(0, _int(q.get("offset"), "offset", 0))
    rows = await request.app.state.db.aread(
        store.audit_log, article_id=_int(q.get("article"), "article"), user=q.get("user", ""),
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
            lambda: request.app.state.db.read(auth.authenticate, name, current), limiter=_password_limiter(request.app))
        if ok is None:
            raise HTTPError(400, "the current password is wrong")
        await request.app.state.db.awrite(auth.forget_attempt, attempt, name, addr)
    await request.app.state.db.awrite(auth.set_password, name, str(data.get("password", "")), user.name)
    return Done({"changed": name}, "/login" if name == user.name else "/users")


async def export_index_view(request: Request, user: User):
    return Page("export.html", {"formats": [{"name": k, "type": v[0], "description": v[1], "path": f"/export/{k}"}
                                            for k, v in export.FORMATS.items()]})


async def export_view(request: Request, user: User):
    name = request.path_params["name"]
    if name not in export.FORMATS:
        raise store.NotFound(f"no export {name!r}; choose one of {', '.join(export.FORMATS)}")
    db: Database = request.app.state.db
    include_rejected = request.query_params.get("include_rejected") in ("1", "true", "yes")

    def produce(c) -> list[str]:
        if name == "results.jsonl":
            return list(export.results_jsonl(c, include_rejected))
        if name == "claims.csv":
            return list(export.claims_csv(c, include_rejected))
        if name == "claimreview.jsonld":
            doc = export.claimreview_jsonld(c, request.app.state.org, request.app.state.public_url)
            return [json.dumps(doc, ensure_ascii=False, indent=1) + "\n"]
        if name == "training-attribution.jsonl":
            return list(export.training_attribution(c))
        return list(export.training_stance(c))

    chunks = await db.aread(produce)
    mime = export.FORMATS[name][0]
    headers = {"Content-Disposition": f'attachment; filename="claims-{name}"'}
    return Raw(StreamingResponse(iter(chunks), media_type=mime, headers=headers))


async def static_view(request: Request, user: Optional[User]):
    name = request.path_params["name"]
    if not re.fullmatch(r"[a-z0-9_-]+\.(css|js|svg)", name) or not (STATIC_DIR / name).is_file():
        raise store.NotFound("no such file")
    if user is None and name not in PUBLIC_STATIC:
        raise HTTPError(401, "log in first")
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Raw(Response((STATIC_DIR / name).read_bytes(), media_type=mime,
                        headers={"Cache-Control": "private, max-age=300"}))


# -- the route table -------------------------------------------------------------------------------

@dataclass
class R:
    path: str
    view: Callable[..., Awaitable[Any]]
    methods: tuple[str, ...] = ("GET",)
    anonymous: bool = False  # the login page (and its stylesheet)


ROUTES: list[R] = [
    R("/", index_view),
    R("/login", login_view, ("GET", "POST"), anonymous=True),
    R("/logout", logout_view, ("POST",)),
    R("/articles", articles_view, ("GET", "POST")),
    R("/articles/new", new_article_view),
    R("/articles/{id:int}", article_view),
    R("/articles/{id:int}/status", article_status_view, ("POST",)),
    R("/articles/{id:int}/claims", add_claim_view, ("POST",)),
    R("/claims/{id:int}", claim_view, ("GET", "POST")),
    R("/jobs", jobs_view),
    R("/jobs/{id:int}", job_view),
    R("/jobs/{id:int}/retry", job_retry_view, ("POST",)),
    R("/disputes", disputes_view, ("GET", "POST")),
    R("/disputes/import", disputes_import_view, ("POST",)),
    R("/disputes/{id}", dispute_view, ("GET", "POST")),
    R("/disputes/{id}/delete", dispute_delete_view, ("POST",)),
    R("/disputes/{id}/rescore", dispute_rescore_view, ("POST",)),
    R("/speakers", speakers_view),
    R("/speakers/evidence", evidence_view),
    R("/audit", audit_view),
    R("/users", users_view, ("GET", "POST")),
    R("/users/{name}/delete", user_delete_view, ("POST",)),
    R("/users/{name}/password", user_password_view, ("POST",)),
    R("/export", export_index_view),
    R("/export/{name}", export_view),
    R("/static/{name}", static_view, anonymous=True),
]


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda x: "" if x is None else f"{100 * float(x):.0f}%"
    env.filters["day"] = lambda s: (s or "")[:10]
    env.filters["when"] = lambda s: (s or "")[:19].replace("T", " ")
    env.filters["urlq"] = lambda s: quote(str(s), safe="")
    env.filters["brief"] = lambda v: (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))[:200]
    env.globals["version"] = __version__
    return env


SECURITY_HEADERS = {
    # no inline script or style anywhere: the pages load /static only
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _endpoint(route: R, api: bool):
    async def handle(request: Request) -> Response:
        request.state.api = api
        db: Database = request.app.state.db
        token = request.cookies.get(auth.SESSION_COOKIE)
        user = await db.aread(auth.session_user, token) if token else None
        if user is not None and user.stale:
            await db.awrite(auth.touch_session, token)
        try:
            if user is None and not route.anonymous:
                raise HTTPError(401, "log in first")
            for k, v in request.query_params.multi_items():
                try:
                    clean_value(v, f"the parameter {k[:40]!r}")
                except ValueError as e:
                    raise HTTPError(400, str(e)) from None
            if request.method in STATE_CHANGING and not route.anonymous:
                # the header is checked before a byte of the body is read; a browser form carries
                # the token in the body, which is read under the path's size cap
                given = request.headers.get("x-csrf-token") or None
                if given is None and not api:
                    ctype = request.headers.get("content-type", "")
                    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data",
                                         "application/json")):
                        given = (await body_of(request)).get("csrf_token")
                if not auth.tokens_match(user.csrf_token, given if isinstance(given, str) else None):
                    raise HTTPError(403, "CSRF check failed: send the session's token in the X-CSRF-Token header "
                                         "(or the csrf_token form field); reload the page to get a fresh one")
            result = await route.view(request, user)
        except HTTPError as e:
            return _error(request, user, e.status, e.message, e.data)
        except StarletteHTTPException as e:
            return _error(request, user, e.status_code, str(e.detail))
        except store.Conflict as e:
            return _error(request, user, 409, str(e), {"current": e.current})
        except store.NotFound as e:
            return _error(request, user, 404, str(e))
        except (store.Invalid, AuthError) as e:
            return _error(request, user, 400, str(e))
        except Exception:  # noqa: BLE001 - a bug: logged in full, the user gets a short message
            log.exception("%s %s", request.method, request.url.path)
            return _error(request, user, 500, "something went wrong on the server; the server log has the details")
        return _render(request, user, result)
    handle.__name__ = route.view.__name__ + ("_api" if api else "")
    return handle


def _render(request: Request, user: Optional[User], result) -> Response:
    if isinstance(result, Raw):
        return result.response
    if isinstance(result, Done):
        data = dict(result.data)
        set_session = data.pop("_set_session", None)
        clear = data.pop("_clear_session", None)
        if request.state.api:
            resp: Response = JSONResponse(data, status_code=result.status)
        else:
            resp = RedirectResponse(result.location, status_code=303)
        secure = request.url.scheme == "https"
        if set_session:
            resp.set_cookie(auth.SESSION_COOKIE, set_session, max_age=auth.SESSION_DAYS * 86400, httponly=True,
                            samesite="lax", secure=secure, path="/")
            resp.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/")
        if clear:
            resp.delete_cookie(auth.SESSION_COOKIE, path="/")
        return resp
    page: Page = result
    if request.state.api:
        resp = JSONResponse(page.data, status_code=page.status)
    else:
        env: jinja2.Environment = request.app.state.templates
        html = env.get_template(page.template).render(
            data=page.data, user=user, request=request, path=request.url.path, **page.extra)
        resp = HTMLResponse(html, status_code=page.status)
    login_cookie = page.extra.get("set_login_cookie")
    if login_cookie:
        resp.set_cookie(auth.LOGIN_CSRF_COOKIE, login_cookie, max_age=3600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return resp


def _error(request: Request, user: Optional[User], status: int, message: str, data: Optional[dict] = None) -> Response:
    data = data or {}
    if status == 303:
        return RedirectResponse(data["location"], status_code=303)
    if request.state.api:
        return JSONResponse({"error": message, **data}, status_code=status)
    if status == 401 and user is None and request.method == "GET" and not request.url.path.startswith("/static/"):
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
    if status in (401, 403, 429) and request.url.path == "/login":
        # a failed login shows the form again with the message
        token = request.cookies.get(auth.LOGIN_CSRF_COOKIE) or auth.new_login_csrf()
        env = request.app.state.templates
        html = env.get_template("login.html").render(data={"csrf_token": token}, user=None, request=request,
                                                     path="/login", next=data.get("next", "/articles"),
                                                     error=message)
        return HTMLResponse(html, status_code=401)
    env = request.app.state.templates
    html = env.get_template("error.html").render(data={"error": message, **data}, user=user, request=request,
                                                 path=request.url.path, status=status)
    return HTMLResponse(html, status_code=status)


class SecurityHeaders:
    """Adds the security headers to every response (pages, JSON, static files, errors)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                for k, v in SECURITY_HEADERS.items():
                    if k.lower().encode() not in have:
                        headers.append((k.lower().encode(), v.encode()))
                if b"cache-control" not in have:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(db: Database | str | Path, analyzer_factory: Optional[Callable[[], object]] = None,
               start_jobs: bool = True, org: str = "Fact-checking desk", disputes: Optional[list] = None,
               public_url: str = "") -> Starlette:
    """The console as an ASGI app. ``analyzer_factory`` builds the analyzer for background jobs
    (default: the shipped models); ``start_jobs=False`` leaves jobs queued (e.g. a read-only replica);
    ``disputes`` fill an empty disputes table (a new database has none otherwise);
    ``public_url`` is the console's address for links in exports (never taken from a request's Host)."""
    if public_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public_url):
        raise ValueError(f"public_url must be an http(s) address, not {public_url!r}")
    if not isinstance(db, Database):
        db = Database(db)
    db.migrate()
    if disputes:  # a new console starts with the disputes it is given, and none otherwise
        db.apply(store.seed_disputes, list(disputes))
    runner = JobRunner(db, analyzer_factory) if analyzer_factory else JobRunner(db)

    @asynccontextmanager
    async def lifespan(app):
        if start_jobs:
            runner.start()
        try:
            yield
        finally:
            runner.stop()

    routes = []
    for r in ROUTES:
        routes.append(Route(r.path, _endpoint(r, api=False), methods=list(r.methods)))
        routes.append(Route("/api" + (r.path if r.path != "/" else ""), _endpoint(r, api=True),
                            methods=list(r.methods)))
    routes.append(Route("/api/", _endpoint(ROUTES[0], api=True), methods=["GET"]))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit)])
    app.state.db = db
    app.state.jobs = runner
    app.state.templates = _templates()
    app.state.org = org
    app.state.public_url = public_url
    app.state.password_checks = weakref.WeakKeyDictionary()  # event loop -> its limiter

    async def not_found(request: Request, exc):
        request.state.api = request.url.path.startswith("/api")
        token = request.cookies.get(auth.SESSION_COOKIE)
        user = await db.aread(auth.session_user, token) if token else None
        if user is None:  # nothing but the login page for strangers, not even which paths exist
            return _error(request, None, 401, "log in first")
        return _error(request, user, exc.status_code, "no such page" if exc.status_code == 404 else str(exc.detail))

    app.add_exception_handler(404, not_found)
    app.add_exception_handler(405, not_found)
    return app
