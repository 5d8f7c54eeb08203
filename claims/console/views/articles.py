"""Views of the articles: the review queue, adding articles, one article with its claims, a claim."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from starlette.requests import Request

from ...doc import SPEAKER_TYPES, STANCE_LABELS, FORMS
from .. import importer, store
from ..auth import User
from ..db import Database
from ..highlight import pieces
from ..jobs import JobRunner, job_dict
from ..http import HTTPError, Page, Done, body_of, int_param, float_param


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
                   stance=q.get("stance", ""), max_confidence=float_param(q.get("max_confidence"), "max_confidence"),
                   publisher=q.get("publisher", "").strip(), date_from=q.get("from", ""), date_to=q.get("to", ""),
                   sort=q.get("sort", "newest"), analysis=q.get("analysis", ""),
                   mine=user.name if q.get("mine") in ("1", "true", "yes") else "")
    limit = max(1, min(int_param(q.get("limit"), "limit", 50), 500))
    offset = max(0, int_param(q.get("offset"), "offset", 0))
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
                          int_param(data.get("version"), "version"), user.name)
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
