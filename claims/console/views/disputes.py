"""Views of the disputes: list, add, edit, import, delete, and rescoring the stored claims."""

from __future__ import annotations


from starlette.requests import Request

from ...disputes import DisputeError, validate as validate_dispute
from .. import importer, store
from ..auth import User
from ..db import Database
from ..jobs import STANCE_DISABLED, JobRunner
from ..http import HTTPError, Page, Done, body_of, int_param


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
    row = await db.awrite(store.save_dispute, d, user.name, int_param(data.get("version"), "version"), create)
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
    from ...disputes import parse as parse_disputes
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
