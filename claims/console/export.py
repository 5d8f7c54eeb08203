"""Exports of reviewed work.

* ``results_jsonl``: one result JSON per article (docs/DESIGN.md 3.2, valid against the shipped schema)
  with the article text and metadata at the top level and the review fields under ``review``
  (claim fields stay exactly the schema's, so every reader of results reads these too).
* ``claims_csv``: one row per reviewed claim, for spreadsheets.
* ``claimreview_jsonld``: schema.org ``ClaimReview`` for each claim a reviewer gave a rating.
* ``training_attribution``: PolNeAR-format JSONL for ``python -m training.attribution --extra``:
  articles marked done, with their accepted, edited and added claims (rejected ones left out, so
  they teach the model what is not an attribution).
* ``training_stance``: ``{id, target, text, label}`` JSONL for ``python -m training.stance --extra``:
  only the stances a reviewer set or confirmed, the text being the sentences the claim spans.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Iterator, Optional

from ..doc import SCHEMA_VERSION, STANCE_LABELS
from ..nlp.segment import sentence_spans
from . import store
from .db import Conn

FORMATS = {
    "results.jsonl": ("application/x-ndjson", "reviewed claims in the result schema plus review fields"),
    "claims.csv": ("text/csv", "one row per reviewed claim"),
    "claimreview.jsonld": ("application/ld+json", "schema.org ClaimReview for claims a reviewer rated"),
    "training-attribution.jsonl": ("application/x-ndjson",
                                   "PolNeAR-format attributions of articles marked done (training.attribution --extra)"),
    "training-stance.jsonl": ("application/x-ndjson",
                              "reviewer-set stances as {id, target, text, label} (training.stance --extra)"),
}


def _articles(c: Conn, done_only: bool = False) -> Iterator[dict]:
    cond = " WHERE status = 'done'" if done_only else " WHERE analysis = 'done'"
    for row in c.all("SELECT id FROM articles" + cond + " ORDER BY id"):
        yield store.get_article_row(c, row["id"])


def _schema_stance(st: dict) -> dict:
    scores = st.get("scores")
    if not scores:  # a label a reviewer set where the model gave none
        scores = {k: 1.0 if k == st["label"] else 0.0 for k in STANCE_LABELS}
    return {"label": st["label"], "scores": {k: float(scores.get(k, 0.0)) for k in STANCE_LABELS}}


def result_record(c: Conn, row: dict, disputes: list[dict], include_rejected: bool = False,
                  reviewed_only: bool = True) -> Optional[dict]:
    keep = set(store.REVIEWED) | ({"rejected"} if include_rejected else set())
    if not reviewed_only:
        keep |= {"pending"}
    claims = [cl for cl in store.article_claims(c, row["id"]) if cl["review"]["status"] in keep]
    if not claims and reviewed_only:
        return None
    out_claims, review = [], {}
    for cl in claims:
        out_claims.append({"id": cl["id"], "content": cl["content"], "cue": cl["cue"], "source": cl["source"],
                           "speaker": cl["speaker"], "form": cl["form"], "confidence": cl["confidence"],
                           "stance": {d: _schema_stance(s) for d, s in cl["stance"].items()}})
        review[cl["id"]] = dict(cl["review"]) | {
            "stance_reviewed_by": {d: s["reviewed_by"] for d, s in cl["stance"].items() if s.get("reviewed_by")}}
    return {
        "schema_version": SCHEMA_VERSION,
        "id": row["ext_id"] or str(row["id"]),
        "model": store.loads(row["model"]) or {},
        "disputes": [{"id": d["id"], "title": d["title"], "proposition": d["proposition"]} for d in disputes],
        "claims": out_claims,
        "error": None,
        "text": row["text"],
        "title": row["title"], "publisher": row["publisher"], "published": row["published"], "url": row["url"],
        "review": {"article_id": row["id"], "status": row["status"], "version": row["version"], "claims": review},
    }


def results_jsonl(c: Conn, include_rejected: bool = False) -> Iterator[str]:
    disputes = store.list_disputes(c)
    for row in _articles(c):
        rec = result_record(c, row, disputes, include_rejected)
        if rec is not None:
            yield json.dumps(rec, ensure_ascii=False) + "\n"


CSV_COLUMNS = ["article_id", "article_title", "publisher", "published", "claim_id", "status", "origin",
               "speaker", "speaker_type", "source", "cue", "content", "form", "confidence", "rating", "rating_note",
               "reviewed_by", "reviewed_at"]


def claims_csv(c: Conn, include_rejected: bool = False) -> Iterator[str]:
    disputes = store.list_disputes(c)
    buf = io.StringIO()
    w = csv.writer(buf)

    def flush() -> str:
        s = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return s

    w.writerow(CSV_COLUMNS + [f"stance:{d['id']}" for d in disputes])
    yield flush()
    for row in _articles(c):
        for cl in store.article_claims(c, row["id"]):
            st = cl["review"]["status"]
            if st not in store.REVIEWED and not (include_rejected and st == "rejected"):
                continue
            sp = cl["speaker"] or {}
            w.writerow(_csv_row([row["id"], row["title"], row["publisher"], row["published"], cl["id"], st,
                        cl["review"]["origin"], sp.get("name", ""), sp.get("type", ""),
                        (cl["source"] or {}).get("text", ""), (cl["cue"] or {}).get("text", ""),
                        " … ".join(s["text"] for s in cl["content"]), cl["form"], cl["confidence"],
                        cl["review"]["rating"], cl["review"]["rating_note"], cl["review"]["by"] or "",
                        cl["review"]["at"]]
                       + [cl["stance"].get(d["id"], {}).get("label", "") for d in disputes]))
            yield flush()


def _csv_row(values: list) -> list:
    # A cell starting with = + - @ is a formula to a spreadsheet: quote it so an article's text
    # cannot run anything on the machine that opens the export.
    return ["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v for v in values]


def web_url(url: str) -> bool:
    """Only http(s) addresses are copied into exports: a ``javascript:`` or ``data:`` URL stays out."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


RATING_VALUES = {"true": 5, "mostly-true": 4, "half-true": 3, "mostly-false": 2, "false": 1, "unverifiable": 0}


def claimreview_jsonld(c: Conn, org: str = "Fact-checking desk", base_url: str = "") -> dict:
    """A JSON-LD document with one ClaimReview per claim that a reviewer rated."""
    graph = []
    for row in _articles(c):
        for cl in store.article_claims(c, row["id"]):
            r = cl["review"]
            if not r["rating"] or r["status"] not in store.REVIEWED:
                continue
            sp = cl["speaker"] or {}
            author = {"@type": "Person" if sp.get("type") == "person" else "Organization",
                      "name": sp.get("name") or (cl["source"] or {}).get("text") or "unknown"}
            appearance = {"@type": "CreativeWork", "headline": row["title"]}
            if web_url(row["url"]):
                appearance["url"] = row["url"]
            if row["publisher"]:
                appearance["publisher"] = {"@type": "Organization", "name": row["publisher"]}
            if row["published"]:
                appearance["datePublished"] = row["published"]
            item = {"@type": "Claim", "author": author, "appearance": appearance}
            if row["published"]:
                item["datePublished"] = row["published"]
            value = RATING_VALUES[r["rating"]]
            rating = {"@type": "Rating", "alternateName": store.RATING_NAMES[r["rating"]],
                      "bestRating": 5, "worstRating": 1}
            if value:
                rating["ratingValue"] = value
            review = {"@type": "ClaimReview", "datePublished": (r["at"] or "")[:10],
                      "claimReviewed": " … ".join(s["text"] for s in cl["content"]),
                      "itemReviewed": item, "author": {"@type": "Organization", "name": org},
                      "reviewRating": rating}
            if r["rating_note"]:
                review["reviewBody"] = r["rating_note"]
            if base_url:
                review["url"] = f"{base_url.rstrip('/')}/articles/{row['id']}#{cl['id']}"
            graph.append(review)
    return {"@context": "https://schema.org", "@graph": graph}


def training_attribution(c: Conn) -> Iterator[str]:
    """PolNeAR JSONL lines (``{id, text, attributions}``) of the articles marked done."""
    for row in _articles(c, done_only=True):
        atts = []
        for cl in store.article_claims(c, row["id"]):
            if cl["review"]["status"] not in store.REVIEWED:
                continue
            atts.append({"id": cl["id"],
                         "source": [[cl["source"]["start"], cl["source"]["end"]]] if cl["source"] else [],
                         "cue": [[cl["cue"]["start"], cl["cue"]["end"]]] if cl["cue"] else [],
                         "content": [[s["start"], s["end"]] for s in cl["content"]]})
        yield json.dumps({"id": f"console-{row['id']}", "text": row["text"], "attributions": atts},
                         ensure_ascii=False) + "\n"


def claim_context(text: str, claim: dict, sentences: list[tuple[int, int]]) -> str:
    """The text from the start of the sentence holding the claim's first span to the end of the
    sentence holding its last span."""
    spans = [s for s in (claim["source"], claim["cue"], *claim["content"]) if s]
    first, last = min(s["start"] for s in spans), max(s["end"] for s in spans)
    start = next((s for s, e in sentences if s <= first < e), first)
    end = next((e for s, e in reversed(sentences) if s < last <= e), last)
    return text[min(start, first):max(end, last)]


def training_stance(c: Conn) -> Iterator[str]:
    """Stance pairs a reviewer set or confirmed, from claims that were not rejected."""
    props = {d["id"]: d["proposition"] for d in store.list_disputes(c)}
    for row in _articles(c):
        sentences = None
        for cl in store.article_claims(c, row["id"]):
            if cl["review"]["status"] == "rejected":
                continue
            for did, st in cl["stance"].items():
                if not st.get("reviewed_by") or did not in props:
                    continue
                if sentences is None:
                    sentences = sentence_spans(row["text"])
                yield json.dumps({"id": f"console-{row['id']}-{cl['id']}-{did}", "target": props[did],
                                  "text": claim_context(row["text"], cl, sentences), "label": st["label"]},
                                 ensure_ascii=False) + "\n"
