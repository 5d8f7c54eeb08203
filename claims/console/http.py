"""Request handling shared by the console's views: size caps on bodies, form and JSON bodies, the
results a view returns (``Page``, ``Done``, ``Raw``) and ``HTTPError``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import anyio
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .importer import clean_value, strict_json

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


def number_param(v: Any, name: str, kind: type = float, default=None):
    """A form or query value as ``kind`` (int or float), ``default`` when empty; a 400 otherwise."""
    if v in (None, ""):
        return default
    try:
        return kind(v)
    except (TypeError, ValueError):
        raise HTTPError(400, f"{name} must be {'an integer' if kind is int else 'a number'}") from None


def int_param(v: Any, name: str, default: Optional[int] = None) -> Optional[int]:
    return number_param(v, name, int, default)


def float_param(v: Any, name: str) -> Optional[float]:
    return number_param(v, name, float)


def safe_next(url: Optional[str]) -> str:
    """Only same-site paths: an open redirect would let a link send a fresh login elsewhere."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/articles"
    return url


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def password_limiter(app) -> anyio.CapacityLimiter:
    loops = app.state.password_checks
    loop = asyncio.get_running_loop()
    if loop not in loops:
        loops[loop] = anyio.CapacityLimiter(PASSWORD_CHECKS)
    return loops[loop]
