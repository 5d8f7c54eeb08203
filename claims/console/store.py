"""What the console keeps: articles, claims, stances, disputes and the audit trail.

Functions here take a ``Conn`` and plain values; the views call them through ``Database.aread`` /
``Database.awrite``. Every change writes an audit row (who, when, before, after) in the same
transaction. Reviewers' edits carry the version they were made on; an edit made on an old version
raises ``Conflict`` and changes nothing, so two reviewers never silently overwrite each other.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ..doc import FORMS, SPEAKER_TYPES, STANCE_LABELS, ArticleResult, Claim, Dispute, Span, Stance
from .claim_state import SPAN_FIELDS, BadAction, check_action, next_status
from .db import Conn, now

ARTICLE_STATUSES = ("to_review", "in_review", "done")
ANALYSIS_STATES = ("pending", "running", "done", "failed")
REVIEWED = ("accepted", "edited", "added")  # claims a reviewer stands behind
RATINGS = ("true", "mostly-true", "half-true", "mostly-false", "false", "unverifiable")
RATING_NAMES = {"true": "True", "mostly-true": "Mostly true", "half-true": "Half true",
                "mostly-false": "Mostly false", "false": "False", "unverifiable": "Unverifiable"}
MAX_TITLE = 500
MAX_FIELD = 2000


class NotFound(LookupError):
    pass


class Invalid(ValueError):
    """A request a user can fix; the message says what is wrong."""


class Conflict(Exception):
    """The thing changed since the client read it; ``current`` is what it is now."""

    def __init__(self, message: str, current: Optional[dict] = None):
        super().__init__(message)
        self.current = current


def dumps(x: Any) -> Optional[str]:
    return None if x is None else json.dumps(x, ensure_ascii=False, sort_keys=True)


def loads(s: Optional[str]) -> Any:
    return None if s is None else json.loads(s)


def audit(c: Conn, user: Optional[str], action: str, entity: str, entity_id: Any,
          article_id: Optional[int], before: Any, after: Any) -> None:
    c.run("INSERT INTO audit (at, user_name, action, entity, entity_id, article_id, before, after) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          (now(), user, action, entity, str(entity_id), article_id, dumps(before), dumps(after)))


# -- disputes ------------------------------------------------------------------------------------

def list_disputes(c: Conn) -> list[dict]:
    rows = c.all("SELECT * FROM disputes ORDER BY position, id")
    for r in rows:
        r["aliases"] = loads(r["aliases"]) or []
    return rows


def dispute_objects(c: Conn) -> list[Dispute]:
    return [Dispute(r["id"], r["title"], r["proposition"], r["description"], r["aliases"]) for r in list_disputes(c)]


def seed_disputes(c: Conn, disputes: list[Dispute]) -> int:
    """Add disputes to an empty disputes table (a new console starts with the disputes it is given)."""
    if c.value("SELECT COUNT(*) AS n FROM disputes"):
        return 0
    for n, d in enumerate(disputes):
        _insert_dispute(c, d, n)
    return len(disputes)


def import_disputes(c: Conn, disputes: list[Dispute], user: str) -> dict:
    """Load a disputes file: new ids are added, changed ones updated (a new version, audited),
    the others left as they are; disputes not in the file stay. Stored stances are not rescored."""
    out: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": []}
    for d in disputes:
        old = c.one("SELECT * FROM disputes WHERE id = ?", (d.id,))
        if old is None:
            save_dispute(c, d, user, create=True)
            out["added"].append(d.id)
        elif (old["title"], old["proposition"], old["description"], loads(old["aliases"]) or []) == (
                d.title, d.proposition, d.description, list(d.aliases)):
            out["unchanged"].append(d.id)
        else:
            save_dispute(c, d, user, old["version"])
            out["updated"].append(d.id)
    return out


def _insert_dispute(c: Conn, d: Dispute, position: int) -> None:
    t = now()
    c.run("INSERT INTO disputes (id, title, proposition, description, aliases, version, position, created_at, "
          "updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
          (d.id, d.title, d.proposition, d.description, dumps(list(d.aliases)), position, t, t))


def save_dispute(c: Conn, d: Dispute, user: str, version: Optional[int] = None, create: bool = False) -> dict:
    """Create (``create=True``) or update a dispute; an update checks ``version``."""
    old = c.one("SELECT * FROM disputes WHERE id = ?", (d.id,))
    if create:
        if old is not None:
            raise Invalid(f"a dispute with id {d.id!r} already exists")
        pos = (c.value("SELECT MAX(position) AS p FROM disputes") or 0) + 1
        _insert_dispute(c, d, pos)
        audit(c, user, "create", "dispute", d.id, None, None,
              d.to_dict() | {"description": d.description, "aliases": list(d.aliases)})
    else:
        if old is None:
            raise NotFound(f"no dispute {d.id!r}")
        changed = c.run("UPDATE disputes SET title = ?, proposition = ?, description = ?, aliases = ?, "
                        "version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
                        (d.title, d.proposition, d.description, dumps(list(d.aliases)), now(), d.id,
                         version if version is not None else old["version"]))
        if not changed:
            raise Conflict(f"dispute {d.id!r} was changed by someone else since you opened it; "
                           "your edit was not saved. Reload to see the current text.",
                           {k: old[k] for k in ("id", "title", "proposition", "version")})
        audit(c, user, "update", "dispute", d.id, None,
              {k: old[k] for k in ("title", "proposition", "description")} | {"aliases": loads(old["aliases"]) or [],
                                                                               "version": old["version"]},
              {"title": d.title, "proposition": d.proposition, "description": d.description,
               "aliases": list(d.aliases), "version": old["version"] + 1})
    return c.one("SELECT * FROM disputes WHERE id = ?", (d.id,))


def delete_dispute(c: Conn, dispute_id: str, user: str) -> None:
    old = c.one("SELECT id, title, proposition, description, aliases FROM disputes WHERE id = ?", (dispute_id,))
    if old is None:
        raise NotFound(f"no dispute {dispute_id!r}")
    old["aliases"] = loads(old["aliases"]) or []
    c.run("DELETE FROM stances WHERE dispute_id = ?", (dispute_id,))
    c.run("DELETE FROM disputes WHERE id = ?", (dispute_id,))
    audit(c, user, "delete", "dispute", dispute_id, None, old, None)


# -- articles ------------------------------------------------------------------------------------

def clean_meta(fields: dict) -> dict:
    """Validated article metadata (title, publisher, published date, url, external id)."""
    out = {}
    for key, limit in (("title", MAX_TITLE), ("publisher", 200), ("url", MAX_FIELD), ("ext_id", 200)):
        v = fields.get(key) or ""
        if not isinstance(v, str):
            raise Invalid(f"{key} must be a string")
        v = v.strip()
        if len(v) > limit:
            raise Invalid(f"{key} is longer than {limit} characters")
        out[key] = v
    pub = fields.get("published") or ""
    if not isinstance(pub, str):
        raise Invalid("published must be a date string (YYYY-MM-DD)")
    pub = pub.strip()[:10]
    if pub:
        import datetime as dt
        try:
            dt.date.fromisoformat(pub)
        except ValueError:
            raise Invalid(f"published {pub!r} is not a date (YYYY-MM-DD)") from None
    out["published"] = pub
    return out


def create_article(c: Conn, text: str, meta: dict, user: str, job_id: Optional[int] = None,
                   result: Optional[ArticleResult] = None) -> int:
    """Store an article; without a ``result`` it waits for analysis (``analysis='pending'``)."""
    t = now()
    meta = clean_meta(meta)
    if not meta["title"]:
        meta["title"] = _title_from(text)
    aid = c.insert("INSERT INTO articles (ext_id, title, publisher, published, url, text, analysis, job_id, status, "
                   "created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, 'to_review', ?, ?, ?) "
                   "RETURNING id",
                   (meta["ext_id"], meta["title"], meta["publisher"], meta["published"], meta["url"], text, job_id,
                    user, t, t))
    audit(c, user, "create", "article", aid, aid, None, meta)
    if result is not None:
        store_result(c, aid, result)
    return int(aid)


def _title_from(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:120] + ("…" if len(first) > 120 else "")


def store_result(c: Conn, article_id: int, result: ArticleResult, candidates: Optional[list[dict]] = None) -> None:
    """Keep the analysis of an article: its claims and stances replace any earlier model output."""
    known = {r["id"] for r in c.all("SELECT id FROM disputes")}
    if result.error:
        c.run("UPDATE articles SET analysis = 'failed', error = ?, updated_at = ? WHERE id = ?",
              (f"{result.error.get('type')}: {result.error.get('message')}", now(), article_id))
        return
    c.run("DELETE FROM claims WHERE article_id = ? AND origin = 'model' AND status = 'pending'", (article_id,))
    t = now()
    confidences = []
    for n, cl in enumerate(sorted(result.claims, key=lambda x: (x.start, x.end)), 1):
        cid = c.insert("INSERT INTO claims (article_id, key, content, cue, source, speaker, speaker_name, form, "
                       "confidence, start_char, status, origin, version, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 'model', 1, ?) RETURNING id",
                       (article_id, f"c{n}", dumps([s.to_dict() for s in cl.content]),
                        dumps(cl.cue.to_dict() if cl.cue else None), dumps(cl.source.to_dict() if cl.source else None),
                        dumps(cl.speaker.to_dict() if cl.speaker else None), cl.speaker.name if cl.speaker else "",
                        cl.form, float(cl.confidence), cl.start, t))
        confidences.append(float(cl.confidence))
        for did, st in cl.stance.items():
            if did in known:
                c.run("INSERT INTO stances (claim_id, dispute_id, label, scores) VALUES (?, ?, ?, ?)",
                      (cid, did, st.label, dumps({k: round(float(v), 4) for k, v in st.scores.items()})))
    if candidates is None:
        candidates = speaker_candidates(result)
    c.run("UPDATE articles SET analysis = 'done', error = NULL, model = ?, candidates = ?, n_claims = ?, "
          "min_confidence = ?, updated_at = ? WHERE id = ?",
          (dumps(result.model or {}), dumps(candidates), len(result.claims),
           min(confidences) if confidences else None, t, article_id))


def speaker_candidates(result: ArticleResult) -> list[dict]:
    """Speakers a reviewer can pick for this article: those the model resolved, then the people
    and organisations the article names (read by the same rules the resolver uses)."""
    out: dict[str, dict] = {}
    for cl in result.claims:
        if cl.speaker and cl.speaker.name:
            out.setdefault(cl.speaker.name.lower(), cl.speaker.to_dict())
    if result.text:
        try:
            from ..nlp.resolve import Resolver
            from ..nlp.segment import segment
            for ent in Resolver(segment(result.text)).entities:
                if ent.type in ("person", "organization", "government", "group", "media"):
                    s, e = ent.first_char
                    mention = Span.of(result.text, s, e).to_dict() if e > s else None
                    out.setdefault(ent.name.lower(), {"name": ent.name, "type": ent.type, "mention": mention})
        except Exception:  # noqa: BLE001 - candidates are a convenience; the claims are what matter
            pass
    return sorted(out.values(), key=lambda d: d["name"].lower())


def mark_analysis(c: Conn, article_id: int, state: str, error: Optional[str] = None) -> None:
    c.run("UPDATE articles SET analysis = ?, error = ?, updated_at = ? WHERE id = ?", (state, error, now(), article_id))


def get_article_row(c: Conn, article_id: int) -> dict:
    row = c.one("SELECT * FROM articles WHERE id = ?", (article_id,))
    if row is None:
        raise NotFound(f"no article {article_id}")
    return row


def article_claims(c: Conn, article_id: int, order: str = "position") -> list[dict]:
    """The claims of an article in the result schema, each with its review fields."""
    rows = c.all("SELECT * FROM claims WHERE article_id = ? ORDER BY " +
                 ("confidence, start_char, id" if order == "confidence" else "start_char, id"), (article_id,))
    stances = stances_of(c, [r["id"] for r in rows])
    return [claim_dict(r, stances.get(r["id"], {})) for r in rows]


def stances_of(c: Conn, claim_ids: list[int]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for b in range(0, len(claim_ids), 500):
        chunk = claim_ids[b:b + 500]
        if not chunk:
            continue
        marks = ",".join("?" * len(chunk))
        for r in c.all(f"SELECT * FROM stances WHERE claim_id IN ({marks})", chunk):
            out.setdefault(r["claim_id"], {})[r["dispute_id"]] = {
                "label": r["label"], "scores": loads(r["scores"]), "reviewed_by": r["reviewed_by"]}
    return out


def claim_dict(row: dict, stances: dict) -> dict:
    """A claim row as the result schema's claim (docs/DESIGN.md 3.2) plus ``review`` and ``db_id``."""
    return {
        "id": row["key"],
        "content": loads(row["content"]),
        "cue": loads(row["cue"]),
        "source": loads(row["source"]),
        "speaker": loads(row["speaker"]),
        "form": row["form"],
        "confidence": round(float(row["confidence"]), 4),
        "stance": stances,
        "db_id": row["id"],
        "review": {"status": row["status"], "origin": row["origin"], "version": row["version"],
                   "by": row["updated_by"], "at": row["updated_at"], "rating": row["rating"],
                   "rating_note": row["rating_note"]},
    }


def article_dict(row: dict, claims: list[dict], disputes: list[dict]) -> dict:
    return {
        "id": row["id"], "ext_id": row["ext_id"], "title": row["title"], "publisher": row["publisher"],
        "published": row["published"], "url": row["url"], "text": row["text"],
        "analysis": row["analysis"], "error": row["error"], "status": row["status"], "version": row["version"],
        "model": loads(row["model"]) or {}, "candidates": loads(row["candidates"]) or [],
        "created_by": row["created_by"], "created_at": row["created_at"], "updated_at": row["updated_at"],
        "open_by": holder(row),
        "disputes": [{"id": d["id"], "title": d["title"], "proposition": d["proposition"]} for d in disputes],
        "claims": claims,
    }


def set_article_status(c: Conn, article_id: int, status: str, version: Optional[int], user: str) -> dict:
    if status not in ARTICLE_STATUSES:
        raise Invalid(f"status must be one of {', '.join(ARTICLE_STATUSES)}")
    row = get_article_row(c, article_id)
    if status == "done":
        pending = c.value("SELECT COUNT(*) AS n FROM claims WHERE article_id = ? AND status = 'pending'", (article_id,))
        if pending:
            raise Invalid(f"{pending} claim{'s are' if pending > 1 else ' is'} still pending; accept or reject "
                          "every claim before marking the article done")
        if row["analysis"] != "done":
            raise Invalid("the article has not been analysed yet")
    changed = c.run("UPDATE articles SET status = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
                    (status, now(), article_id, row["version"] if version is None else int(version)))
    if not changed:
        raise Conflict("the article's status was changed by someone else since you opened it "
                       f"(it is now {row['status'].replace('_', ' ')}); reload and try again",
                       {"status": row["status"], "version": row["version"]})
    audit(c, user, "status", "article", article_id, article_id, {"status": row["status"]}, {"status": status})
    if status == "done":
        c.run("UPDATE articles SET opened_by = NULL, opened_at = NULL WHERE id = ?", (article_id,))
    return get_article_row(c, article_id)


OPEN_MINUTES = 30  # an article someone opened is shown as theirs for this long
OPEN_REFRESH_SECONDS = 120  # reopening within this time writes nothing


def open_since() -> str:
    import datetime as dt
    t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=OPEN_MINUTES)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def holder(row: dict) -> Optional[dict]:
    """Who has the article open (a soft lock): ``{name, since}``, or None."""
    if row.get("opened_by") and (row.get("opened_at") or "") > open_since() and row.get("status") != "done":
        return {"name": row["opened_by"], "since": row["opened_at"]}
    return None


def open_article(c: Conn, article_id: int, user: str) -> Optional[dict]:
    """A reviewer opens an article: it is shown as theirs unless someone else has it open.
    Returns the holder afterwards."""
    import datetime as dt
    row = get_article_row(c, article_id)
    held = holder(row)
    if held and held["name"] != user:
        return held
    fresh = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=OPEN_REFRESH_SECONDS)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    if not (held and held["since"] > fresh) and row["status"] != "done":
        c.run("UPDATE articles SET opened_by = ?, opened_at = ? WHERE id = ?", (user, now(), article_id))
    return holder(get_article_row(c, article_id))


def close_article(c: Conn, article_id: int, user: str) -> None:
    c.run("UPDATE articles SET opened_by = NULL, opened_at = NULL WHERE id = ? AND opened_by = ?", (article_id, user))


def _touch_review(c: Conn, article_id: int) -> None:
    # the first review action moves an article from "to review" to "in review"; no version bump,
    # so a reviewer's open page can still mark it done afterwards
    c.run("UPDATE articles SET status = 'in_review' WHERE id = ? AND status = 'to_review'", (article_id,))


def _refresh_min_confidence(c: Conn, article_id: int) -> None:
    c.run("UPDATE articles SET min_confidence = (SELECT MIN(confidence) FROM claims WHERE article_id = ? "
          "AND status <> 'rejected'), n_claims = (SELECT COUNT(*) FROM claims WHERE article_id = ?) WHERE id = ?",
          (article_id, article_id, article_id))


# -- claims --------------------------------------------------------------------------------------

def _span(text: str, d: Any, what: str) -> Optional[dict]:
    """A span from a client ({start, end}), checked against the article and trimmed of spaces."""
    if d is None:
        return None
    if not isinstance(d, dict):
        raise Invalid(f"{what} must be an object with start and end")
    try:
        s, e = int(d["start"]), int(d["end"])
    except (KeyError, TypeError, ValueError):
        raise Invalid(f"{what} needs integer start and end") from None
    if not (0 <= s < e <= len(text)):
        raise Invalid(f"{what} [{s}, {e}) is outside the article (0..{len(text)})")
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if s == e:
        raise Invalid(f"{what} holds only whitespace")
    if "text" in d and d["text"] is not None and str(d["text"]).strip() != text[s:e]:
        raise Invalid(f"{what}: the text at [{s}, {e}) is not {str(d['text'])[:60]!r}; was the article changed?")
    return Span.of(text, s, e).to_dict()


def _content(text: str, value: Any) -> list[dict]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise Invalid("content must be one or more spans")
    spans = sorted((_span(text, v, "content") for v in value), key=lambda s: (s["start"], s["end"]))
    merged: list[dict] = []
    for s in spans:  # overlapping fragments become one
        if merged and s["start"] <= merged[-1]["end"]:
            last = merged.pop()
            s = Span.of(text, last["start"], max(last["end"], s["end"])).to_dict()
        merged.append(s)
    return merged


def _speaker(value: Any, candidates: list[dict]) -> Optional[dict]:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"].strip():
        raise Invalid("speaker must be a name or {name, type}")
    name = value["name"].strip()
    if len(name) > 200:
        raise Invalid("speaker name is longer than 200 characters")
    known = next((cand for cand in candidates if cand["name"].lower() == name.lower()), None)
    typ = value.get("type") or (known["type"] if known else "unknown")
    if typ not in SPEAKER_TYPES:
        raise Invalid(f"speaker type must be one of {', '.join(SPEAKER_TYPES)}")
    return {"name": name, "type": typ, "mention": known.get("mention") if known else None}


def _check_stance_changes(c: Conn, value: Any) -> dict[str, Optional[str]]:
    if not isinstance(value, dict):
        raise Invalid("stance must map dispute ids to labels")
    known = {r["id"] for r in c.all("SELECT id FROM disputes")}
    out = {}
    for did, label in value.items():
        if did not in known:
            raise Invalid(f"no dispute {did!r}")
        if isinstance(label, dict):
            label = label.get("label")
        if label is not None and label not in STANCE_LABELS:
            raise Invalid(f"stance must be one of {', '.join(STANCE_LABELS)}")
        out[did] = label
    return out


EDITABLE = ("content", "cue", "source", "speaker", "form", "stance", "rating", "rating_note")


def update_claim(c: Conn, claim_id: int, body: dict, user: str) -> dict:
    """Apply a reviewer's change to a claim: ``action`` (accept / reject / reset) and/or edited
    fields, made on ``version``. Raises ``Conflict`` if the claim changed since that version."""
    row = c.one("SELECT * FROM claims WHERE id = ?", (claim_id,))
    if row is None:
        raise NotFound(f"no claim {claim_id}")
    art = get_article_row(c, row["article_id"])
    version = _version_of(body)
    before = claim_dict(row, stances_of(c, [claim_id]).get(claim_id, {}))
    if version != row["version"]:
        raise Conflict(f"claim {row['key']} was changed by {row['updated_by'] or 'the model'} at {row['updated_at']} "
                       f"after you loaded it (your version {version}, now {row['version']}); your change was not "
                       "saved. Reload the claim, check their change, and make yours again.", before)
    action = body.get("action")
    try:
        check_action(action)
    except BadAction as e:
        raise Invalid(str(e)) from None
    sets = _edited_fields(art, row, body)
    stance_changes = _check_stance_changes(c, body["stance"]) if "stance" in body else {}
    status = next_status(row["status"], action, row["origin"], any(k in sets for k in SPAN_FIELDS))
    sets |= {"status": status, "updated_by": user, "updated_at": now()}
    cols = ", ".join(f"{k} = ?" for k in sets)
    changed = c.run(f"UPDATE claims SET {cols}, version = version + 1 WHERE id = ? AND version = ?",
                    (*sets.values(), claim_id, version))
    if not changed:  # lost a race between our read and write (PostgreSQL, several server processes)
        raise Conflict(f"claim {row['key']} was changed by someone else just now; your change was not saved", before)
    for did, label in stance_changes.items():
        _set_stance(c, claim_id, did, label, user)
    if body.get("confirm_stances") in (True, 1, "1", "true", "yes") and action == "accept":
        # accepting confirms the claim; its model stances only when the reviewer says so
        c.run("UPDATE stances SET reviewed_by = ? WHERE claim_id = ? AND reviewed_by IS NULL", (user, claim_id))
    _touch_review(c, row["article_id"])
    if "content" in sets or action in ("reject", "accept", "reset"):
        _refresh_min_confidence(c, row["article_id"])
    new = c.one("SELECT * FROM claims WHERE id = ?", (claim_id,))
    after = claim_dict(new, stances_of(c, [claim_id]).get(claim_id, {}))
    audit(c, user, action or "edit", "claim", claim_id, row["article_id"], _diffable(before), _diffable(after))
    return after


def _version_of(body: dict) -> int:
    if "version" not in body:
        raise Invalid("version is required (the claim version your change was made on)")
    try:
        return int(body["version"])
    except (TypeError, ValueError):
        raise Invalid("version must be an integer") from None


def _edited_fields(art, row, body: dict) -> dict[str, Any]:
    """The claim's columns a change sets, checked: spans against the article text, the speaker
    against the article's candidates, form, rating and note against their allowed values."""
    text = art["text"]
    sets: dict[str, Any] = {}
    if "content" in body:
        sets["content"] = dumps(_content(text, body["content"]))
    for role in ("cue", "source"):
        if role in body:
            sets[role] = dumps(_span(text, body[role], role))
    if "speaker" in body:
        sp = _speaker(body["speaker"], loads(art["candidates"]) or [])
        sets["speaker"], sets["speaker_name"] = dumps(sp), sp["name"] if sp else ""
    if "form" in body:
        if body["form"] not in FORMS:
            raise Invalid(f"form must be one of {', '.join(FORMS)}")
        sets["form"] = body["form"]
    if "rating" in body:
        if body["rating"] not in ("", None, *RATINGS):
            raise Invalid(f"rating must be one of {', '.join(RATINGS)} (or empty)")
        sets["rating"] = body["rating"] or ""
    if "rating_note" in body:
        note = body["rating_note"] or ""
        if not isinstance(note, str) or len(note) > MAX_FIELD:
            raise Invalid(f"rating_note must be text of at most {MAX_FIELD} characters")
        sets["rating_note"] = note
    if "content" in sets:
        spans = loads(sets["content"]) + [s for s in (loads(sets.get("cue", row["cue"])),
                                                      loads(sets.get("source", row["source"]))) if s]
        sets["start_char"] = min(s["start"] for s in spans)
    return sets


def _diffable(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("db_id",)}


def _set_stance(c: Conn, claim_id: int, dispute_id: str, label: Optional[str], user: str) -> None:
    """A reviewer sets (or confirms) a stance; ``None`` hands it back to the model's label."""
    row = c.one("SELECT * FROM stances WHERE claim_id = ? AND dispute_id = ?", (claim_id, dispute_id))
    if label is None:
        if row is not None and row["scores"]:
            scores = loads(row["scores"])
            c.run("UPDATE stances SET label = ?, reviewed_by = NULL WHERE claim_id = ? AND dispute_id = ?",
                  (max(scores, key=scores.get), claim_id, dispute_id))
        elif row is not None:
            c.run("DELETE FROM stances WHERE claim_id = ? AND dispute_id = ?", (claim_id, dispute_id))
        return
    if row is None:
        c.run("INSERT INTO stances (claim_id, dispute_id, label, scores, reviewed_by) VALUES (?, ?, ?, NULL, ?)",
              (claim_id, dispute_id, label, user))
    else:
        c.run("UPDATE stances SET label = ?, reviewed_by = ? WHERE claim_id = ? AND dispute_id = ?",
              (label, user, claim_id, dispute_id))


def add_claim(c: Conn, article_id: int, body: dict, user: str) -> dict:
    """A claim the model missed, added by a reviewer from a text selection."""
    art = get_article_row(c, article_id)
    text = art["text"]
    content = _content(text, body.get("content"))
    cue = _span(text, body.get("cue"), "cue")
    source = _span(text, body.get("source"), "source")
    speaker = _speaker(body.get("speaker"), loads(art["candidates"]) or [])
    form = body.get("form") or "indirect"
    if form not in FORMS:
        raise Invalid(f"form must be one of {', '.join(FORMS)}")
    stance_changes = _check_stance_changes(c, body.get("stance") or {})
    n = 1 + max([int(k[1:]) for k in (r["key"] for r in c.all("SELECT key FROM claims WHERE article_id = ?",
                                                                  (article_id,))) if k[1:].isdigit()] or [0])
    start = min([s["start"] for s in content] + [s["start"] for s in (cue, source) if s])
    cid = c.insert("INSERT INTO claims (article_id, key, content, cue, source, speaker, speaker_name, form, confidence, "
                   "start_char, status, origin, version, updated_by, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1.0, ?, 'added', 'reviewer', 1, ?, ?) RETURNING id",
                   (article_id, f"c{n}", dumps(content), dumps(cue), dumps(source), dumps(speaker),
                    speaker["name"] if speaker else "", form, start, user, now()))
    for did, label in stance_changes.items():
        _set_stance(c, cid, did, label, user)
    _touch_review(c, article_id)
    _refresh_min_confidence(c, article_id)
    row = c.one("SELECT * FROM claims WHERE id = ?", (cid,))
    after = claim_dict(row, stances_of(c, [cid]).get(cid, {}))
    audit(c, user, "add", "claim", cid, article_id, None, _diffable(after))
    return after


def claims_as_objects(claims: list[dict]) -> list[Claim]:
    """Stored claim dicts as ``Claim`` objects (what the analyzer's ``score_stance`` takes)."""
    # stances are left out: the caller is about to score them again
    return [Claim.from_dict({k: v for k, v in d.items() if k not in ("db_id", "review", "stance")}) for d in claims]


def apply_rescore(c: Conn, article_id: int, dispute_id: str, scored: list[tuple[int, Optional[Stance]]]) -> None:
    """Model stances toward one dispute for an article's claims; reviewers' labels are kept."""
    if c.one("SELECT id FROM disputes WHERE id = ?", (dispute_id,)) is None:
        return  # the dispute was deleted while its rescoring ran
    for claim_id, st in scored:
        if st is None:
            continue
        scores = dumps({k: round(float(v), 4) for k, v in st.scores.items()})
        row = c.one("SELECT reviewed_by FROM stances WHERE claim_id = ? AND dispute_id = ?", (claim_id, dispute_id))
        if row is None:
            c.run("INSERT INTO stances (claim_id, dispute_id, label, scores) VALUES (?, ?, ?, ?)",
                  (claim_id, dispute_id, st.label, scores))
        elif row["reviewed_by"]:
            c.run("UPDATE stances SET scores = ? WHERE claim_id = ? AND dispute_id = ?", (scores, claim_id, dispute_id))
        else:
            c.run("UPDATE stances SET label = ?, scores = ? WHERE claim_id = ? AND dispute_id = ?",
                  (st.label, scores, claim_id, dispute_id))


# -- queue ---------------------------------------------------------------------------------------

QUEUE_SORTS = ("newest", "oldest", "confidence", "published")


def equal_to(conditions: list[tuple[str, Any]]) -> tuple[str, list]:
    """`` AND column = ?`` for each (column, value) whose value is set, and those values."""
    chosen = [(column, value) for column, value in conditions if value]
    return "".join(f" AND {column} = ?" for column, _ in chosen), [value for _, value in chosen]


def like(value: str) -> str:
    """A LIKE pattern matching ``value`` anywhere, with its own % and _ taken literally."""
    return "%" + value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def queue(c: Conn, status: Optional[str] = None, dispute: str = "", speaker: str = "", stance: str = "",
          max_confidence: Optional[float] = None, publisher: str = "", date_from: str = "", date_to: str = "",
          sort: str = "newest", limit: int = 50, offset: int = 0, analysis: str = "", mine: str = "") -> dict:
    """Articles matching the filters, with their counts; ``sort='confidence'`` puts the articles
    holding the least confident claims first; ``mine`` (a user name) keeps the articles that user
    has open."""
    where, params = [], []
    if mine:
        where.append("a.opened_by = ? AND a.opened_at > ? AND a.status <> 'done'")
        params += [mine, open_since()]
    if status:
        if status not in ARTICLE_STATUSES:
            raise Invalid(f"status must be one of {', '.join(ARTICLE_STATUSES)}")
        where.append("a.status = ?")
        params.append(status)
    if analysis:
        if analysis not in ANALYSIS_STATES:
            raise Invalid(f"analysis must be one of {', '.join(ANALYSIS_STATES)}")
        where.append("a.analysis = ?")
        params.append(analysis)
    if stance and stance not in STANCE_LABELS:
        raise Invalid(f"stance must be one of {', '.join(STANCE_LABELS)}")
    claim_conds, claim_params = [], []
    if speaker:
        claim_conds.append("LOWER(c.speaker_name) LIKE ? ESCAPE '\\'")
        claim_params.append(like(speaker))
    if dispute or stance:
        more, more_params = equal_to([("s.dispute_id", dispute), ("s.label", stance)])
        sub = "EXISTS (SELECT 1 FROM stances s WHERE s.claim_id = c.id" + more
        claim_params += more_params
        if not stance:
            sub += " AND s.label <> 'unrelated'"
        claim_conds.append(sub + ")")
    if max_confidence is not None:
        claim_conds.append("c.confidence <= ?")
        claim_params.append(float(max_confidence))
    if claim_conds:
        where.append("EXISTS (SELECT 1 FROM claims c WHERE c.article_id = a.id AND c.status <> 'rejected' AND "
                     + " AND ".join(claim_conds) + ")")
        params += claim_params
    if publisher:
        where.append("LOWER(a.publisher) LIKE ? ESCAPE '\\'")
        params.append(like(publisher))
    day = "COALESCE(NULLIF(a.published, ''), SUBSTR(a.created_at, 1, 10))"
    for value, op in ((date_from, ">="), (date_to, "<=")):
        if value:
            import datetime as dt
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise Invalid(f"{value!r} is not a date (YYYY-MM-DD)") from None
            where.append(f"{day} {op} ?")
            params.append(value)
    order = {"newest": "a.created_at DESC, a.id DESC", "oldest": "a.created_at, a.id",
             "confidence": "a.min_confidence IS NULL, a.min_confidence, a.id",
             "published": f"{day} DESC, a.id DESC"}.get(sort)
    if order is None:
        raise Invalid(f"sort must be one of {', '.join(QUEUE_SORTS)}")
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    total = c.value(f"SELECT COUNT(*) AS n FROM articles a{cond}", params)
    rows = c.all("SELECT a.id, a.title, a.publisher, a.published, a.status, a.analysis, a.error, a.n_claims, "
                 "a.min_confidence, a.version, a.created_at, a.updated_at, a.opened_by, a.opened_at, "
                 "(SELECT COUNT(*) FROM claims c WHERE c.article_id = a.id AND c.status = 'pending') AS pending "
                 f"FROM articles a{cond} ORDER BY {order} LIMIT ? OFFSET ?", [*params, int(limit), int(offset)])
    for r in rows:
        r["open_by"] = holder(r)
        del r["opened_by"], r["opened_at"]
    counts = {r["status"]: r["n"] for r in c.all("SELECT status, COUNT(*) AS n FROM articles GROUP BY status")}
    return {"total": total, "articles": rows, "counts": {s: counts.get(s, 0) for s in ARTICLE_STATUSES},
            "limit": limit, "offset": offset}


# -- audit ---------------------------------------------------------------------------------------

def audit_log(c: Conn, article_id: Optional[int] = None, user: str = "", entity: str = "", entity_id: str = "",
              limit: int = 100, offset: int = 0, accounts: bool = True) -> list[dict]:
    """Audit rows, newest first, each with ``changes``: the fields that differ between before and
    after. ``accounts=False`` leaves out the rows about user accounts (what reviewers see)."""
    where, params = [], []
    if not accounts:
        where.append("entity <> 'user'")
    if article_id is not None:
        where.append("article_id = ?")
        params.append(article_id)
    if user:
        where.append("user_name = ?")
        params.append(user)
    if entity:
        where.append("entity = ?")
        params.append(entity)
    if entity_id:
        where.append("entity_id = ?")
        params.append(entity_id)
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    rows = c.all(f"SELECT * FROM audit{cond} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, int(limit), int(offset)])
    for r in rows:
        r["before"], r["after"] = loads(r["before"]), loads(r["after"])
        r["changes"] = changes(r["before"], r["after"])
    return rows


def changes(before: Any, after: Any, prefix: str = "") -> list[dict]:
    """What changed, field by field (nested objects by dotted path): ``[{field, before, after}]``."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for k in sorted(set(before) | set(after), key=str):
            out += changes(before.get(k), after.get(k), f"{prefix}{k}.")
        return out
    if isinstance(before, dict) and after is None:
        return [x for k, v in sorted(before.items()) for x in changes(v, None, f"{prefix}{k}.")]
    if isinstance(after, dict) and before is None:
        return [x for k, v in sorted(after.items()) for x in changes(None, v, f"{prefix}{k}.")]
    if before == after:
        return []
    return [{"field": prefix.rstrip("."), "before": before, "after": after}]
