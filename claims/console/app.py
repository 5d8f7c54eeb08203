"""The review console's web app: one route table, one view per page, HTML and JSON from the same view.
The views live in ``views/`` (a module a page or group of pages), the request helpers they share in
``http``; this module holds the route table, the rendering and the security checks around every view.

Every path in ``ROUTES`` is served twice: ``/x`` renders the view's data with a template, and
``/api/x`` returns the same data as JSON. Both need a session (the login page excepted), and both
check the session's CSRF token on every state change. Views return ``Page`` (data to show) or
``Done`` (a change made: JSON for the API, a redirect for the browser); errors a user can fix
are ``HTTPError`` or the store's ``Invalid`` / ``NotFound`` / ``Conflict``.

    app = create_app("console.db")            # analyzer loaded by the job runner on first use
    app = create_app(db, analyzer_factory=f)  # tests inject a stand-in analyzer
"""

from __future__ import annotations

import json
import re
import weakref
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import __version__
from ..labels import STANCE
from . import auth, store
from .importer import clean_value
from .auth import AuthError, User
from .db import Database
from .jobs import JobRunner
from .http import HERE, STATE_CHANGING, BodyLimit, Done, HTTPError, Page, Raw, body_of, log
from .views.articles import (add_claim_view, article_status_view, article_view, articles_view, claim_view,
                             new_article_view)
from .views.disputes import (dispute_delete_view, dispute_rescore_view, dispute_view, disputes_import_view,
                             disputes_view)
from .views.export import export_index_view, export_view
from .views.jobs import job_retry_view, job_view, jobs_view
from .views.session import index_view, login_view, logout_view, static_view
from .views.speakers import evidence_view, speakers_view
from .views.users import audit_view, user_delete_view, user_password_view, users_view


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
    env.globals["stance_labels"] = STANCE
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
    app.state.routes = ROUTES
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
