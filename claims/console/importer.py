"""Articles in: pasted text, .txt files, JSONL files (web upload or ``claims import``).

A JSONL line is ``{"id", "text", "title"?, "publisher"?, "published"?, "url"?}``; a line that also
has ``claims`` is a result of ``claims analyze --json --include-text`` or ``claims batch`` and is
stored as it is, without analysing it again. Bad lines are reported by number; the rest go in.
New articles are queued for one background analysis job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Optional

from ..doc import ArticleResult
from . import store
from .db import Conn
from .jobs import JobRunner

MAX_CHARS = 200_000  # the analyzer's limit (claims.analyzer.MAX_CHARS), without importing torch here
META_KEYS = ("title", "publisher", "published", "url")


class ImportError_(ValueError):
    """Nothing could be imported; the message says why."""


@dataclass
class Record:
    text: str
    meta: dict
    result: Optional[ArticleResult] = None


@dataclass
class Report:
    articles: list[int] = field(default_factory=list)
    analysed: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    job_id: Optional[int] = None

    def to_dict(self) -> dict:
        return {"articles": self.articles, "stored_with_results": self.analysed, "errors": self.errors,
                "job": self.job_id}


def check_text(text: object, where: str = "text") -> str:
    if not isinstance(text, str):
        raise ValueError(f"{where}: text must be a string")
    if not text.strip():
        raise ValueError(f"{where}: the text is empty")
    if len(text) > MAX_CHARS:
        raise ValueError(f"{where}: {len(text):,} characters is over the limit of {MAX_CHARS:,}")
    if "\x00" in text:
        raise ValueError(f"{where}: the text contains NUL bytes (a binary file?)")
    return text


def decode(data: bytes, name: str) -> str:
    if b"\x00" in data:
        raise ValueError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{name}: not UTF-8 text (invalid byte at offset {e.start})") from None


def record_from(obj: object, where: str) -> Record:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object")
    text = check_text(obj.get("text"), where)
    meta = {k: obj.get(k) or "" for k in META_KEYS}
    meta["ext_id"] = str(obj.get("id") or "")
    for k, v in meta.items():
        if not isinstance(v, str):
            raise ValueError(f"{where}: {k} must be a string")
    result = None
    if isinstance(obj.get("claims"), list):
        try:
            result = ArticleResult.from_dict(obj, text)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{where}: not a valid result record ({type(e).__name__}: {e})") from None
        for cl in result.claims:
            for sp in cl.spans():
                if not (0 <= sp.start < sp.end <= len(text)) or text[sp.start:sp.end] != sp.text:
                    raise ValueError(f"{where}: claim {cl.id}: span [{sp.start}, {sp.end}) does not match the text")
    return Record(text, meta, result)


def parse_jsonl(data: bytes, name: str) -> tuple[list[Record], list[str]]:
    records, errors = [], []
    text = decode(data, name)
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{name} line {n}: invalid JSON ({e.msg})")
            continue
        try:
            records.append(record_from(obj, f"{name} line {n}"))
        except ValueError as e:
            errors.append(str(e))
    return records, errors


def parse_upload(data: bytes, filename: str) -> tuple[list[Record], list[str]]:
    """Records from an uploaded file: ``.jsonl`` (one article per line) or anything else as one
    plain-text article titled by its file name."""
    name = filename or "upload"
    if name.lower().endswith((".jsonl", ".ndjson", ".json")):
        return parse_jsonl(data, name)
    try:
        text = check_text(decode(data, name), name)
    except ValueError as e:
        return [], [str(e)]
    title = name.rsplit("/", 1)[-1]
    title = title[:-4] if title.lower().endswith(".txt") else title
    return [Record(text, {"title": title, "ext_id": title})], []


def store_records(c: Conn, records: Iterable[Record], user: str, errors: Optional[list[str]] = None) -> Report:
    """Store records in one transaction and queue one analysis job for those without results."""
    rep = Report(errors=list(errors or []))
    pending = []
    for r in records:
        try:
            aid = store.create_article(c, r.text, r.meta, user, result=r.result)
        except store.Invalid as e:
            rep.errors.append(f"{r.meta.get('ext_id') or r.meta.get('title') or 'article'}: {e}")
            continue
        rep.articles.append(aid)
        (rep.analysed if r.result is not None else pending).append(aid)
    if pending:
        rep.job_id = JobRunner.add_job(c, "analyze", {"articles": pending}, len(pending), user)
        for aid in pending:
            c.run("UPDATE articles SET job_id = ? WHERE id = ?", (rep.job_id, aid))
    return rep
