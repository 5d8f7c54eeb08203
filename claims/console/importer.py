"""Articles in: pasted text, .txt files, JSON and JSONL files (web upload or ``claims import``).

A record is ``{"id", "text", "title"?, "publisher"?, "published"?, "url"?}``; a record that also
has ``claims`` is a result (``claims analyze --json --include-text``, ``claims batch``) and is stored
as it is, without analysing it again, once it has been checked against the result schema (labels,
forms, speaker types, confidences and scores in [0, 1], spans that match the text). A file is one
JSON document (an object or a list of them, pretty-printed or not) or JSONL, one record a line;
lines are split at ``\n`` only, since a JSON string may hold U+2028 or U+0085 raw. Batch output has
no text unless ``claims batch --include-text`` wrote it; the text can also come from the batch's
input file (``texts``, by id). Bad records are reported by number; the rest go in. New articles
are queued for one background analysis job.

Everything read is strict JSON: NaN, Infinity, integers past 2**53, NUL characters and lone
surrogates are refused with a message (they would break a column, or every page showing it).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .. import jsonl
from ..doc import FORMS, SPEAKER_TYPES, STANCE_LABELS, ArticleResult
from ..errors import MAX_CHARS
from . import store
from .db import Conn
from .jobs import JobRunner

META_KEYS = ("title", "publisher", "published", "url")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number this console accepts")


MAX_JSON_INT = 2**53


def _check_int(text: str) -> int:
    v = int(text)
    if abs(v) > MAX_JSON_INT:
        raise ValueError(f"the integer {text[:20]}... is too large")
    return v


def _check_float(text: str) -> float:
    v = float(text)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is too large")
    return v


def clean_value(v: Any, where: str = "the body") -> Any:
    """Raise ``ValueError`` for what no database column should get: NUL characters and lone
    surrogates in strings (PostgreSQL refuses both), non-finite numbers."""
    if isinstance(v, str):
        if "\x00" in v:
            raise ValueError(f"{where} contains a NUL character")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where} contains a lone surrogate (not valid Unicode)") from None
    elif isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"{where} contains a non-finite number")
    elif isinstance(v, dict):
        for k, x in v.items():
            clean_value(k, where)
            clean_value(x, where)
    elif isinstance(v, list):
        for x in v:
            clean_value(x, where)
    return v


def strict_json(raw: bytes | str) -> Any:
    """JSON as the console accepts it: no NaN/Infinity, no integers past 2**53, no NUL or lone
    surrogates in strings. ``ValueError`` says what is wrong."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_int=_check_int, parse_float=_check_float)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    return clean_value(data)


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


def _is_span(d: Any) -> bool:
    return (isinstance(d, dict) and set(d) == {"start", "end", "text"} and isinstance(d["text"], str)
            and all(isinstance(d[k], int) and not isinstance(d[k], bool) and d[k] >= 0 for k in ("start", "end")))


def _unit(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and 0 <= x <= 1


def check_result(obj: dict) -> None:
    """Raise ``ValueError`` where a result record departs from the result schema
    (``claims/schema/result.schema.json``) in a way the console would store or show wrongly."""
    if obj.get("schema_version", 1) != 1:
        raise ValueError(f"schema_version {obj.get('schema_version')!r} is not 1")
    if not isinstance(obj.get("claims"), list):
        raise ValueError("claims must be a list")
    for n, cl in enumerate(obj["claims"], 1):
        if not isinstance(cl, dict):
            raise ValueError(f"claim #{n} is not an object")
        cid = cl.get("id")
        what = f"claim {cid!r}" if isinstance(cid, str) else f"claim #{n}"
        if not isinstance(cid, str):
            raise ValueError(f"{what}: id must be a string")
        content = cl.get("content")
        if not isinstance(content, list) or not content or not all(_is_span(s) for s in content):
            raise ValueError(f"{what}: content must be one or more spans {{start, end, text}}")
        for role in ("cue", "source"):
            if cl.get(role) is not None and not _is_span(cl[role]):
                raise ValueError(f"{what}: {role} must be a span {{start, end, text}} or null")
        sp = cl.get("speaker")
        if sp is not None:
            if not isinstance(sp, dict) or not isinstance(sp.get("name"), str):
                raise ValueError(f"{what}: speaker must be {{name, type, mention}} or null")
            if sp.get("type", "unknown") not in SPEAKER_TYPES:
                raise ValueError(f"{what}: speaker type {sp.get('type')!r} is not one of {', '.join(SPEAKER_TYPES)}")
            if sp.get("mention") is not None and not _is_span(sp["mention"]):
                raise ValueError(f"{what}: speaker mention must be a span or null")
        if cl.get("form", "indirect") not in FORMS:
            raise ValueError(f"{what}: form {cl.get('form')!r} is not one of {', '.join(FORMS)}")
        if not _unit(cl.get("confidence", 0.0)):
            raise ValueError(f"{what}: confidence {cl.get('confidence')!r} is not a number in [0, 1]")
        stance = cl.get("stance") or {}
        if not isinstance(stance, dict):
            raise ValueError(f"{what}: stance must map dispute ids to {{label, scores}}")
        for did, st in stance.items():
            if not isinstance(st, dict) or st.get("label") not in STANCE_LABELS:
                raise ValueError(f"{what}: the stance toward {did!r} must have a label in {', '.join(STANCE_LABELS)}")
            scores = st.get("scores")
            if not isinstance(scores, dict) or set(scores) != set(STANCE_LABELS) or not all(
                    _unit(v) for v in scores.values()):
                raise ValueError(f"{what}: the stance scores toward {did!r} must give each of "
                                 f"{', '.join(STANCE_LABELS)} a number in [0, 1]")


def record_from(obj: object, where: str, texts: Optional[dict[str, str]] = None) -> Record:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object")
    try:
        clean_value(obj, where)
    except ValueError as e:
        raise ValueError(str(e)) from None
    is_result = isinstance(obj.get("claims"), list)
    rid = obj.get("id")
    if is_result and obj.get("error"):
        err = obj["error"] if isinstance(obj["error"], dict) else {}
        raise ValueError(f"{where}: record {rid!r} is an analysis error ({err.get('type')}: {err.get('message')}), "
                         "not a result; import its input to analyse it again")
    text = obj.get("text")
    if text is None and is_result:
        text = (texts or {}).get(str(rid)) if rid is not None else None
        if text is None:
            raise ValueError(f"{where}: result {rid!r} has no text. Run `claims batch --include-text`, or give "
                             "the batch's input file too (claims import --texts INPUT.jsonl)")
    text = check_text(text, where)
    meta = {k: obj.get(k) or "" for k in META_KEYS}
    meta["ext_id"] = str(rid or "")
    for k, v in meta.items():
        if not isinstance(v, str):
            raise ValueError(f"{where}: {k} must be a string")
    result = None
    if is_result:
        try:
            check_result(obj)
            result = ArticleResult.from_dict(obj, text)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{where}: not a valid result record ({e})") from None
        for cl in result.claims:
            for sp in cl.spans() + ([cl.speaker.mention] if cl.speaker and cl.speaker.mention else []):
                if not (0 <= sp.start < sp.end <= len(text)) or text[sp.start:sp.end] != sp.text:
                    raise ValueError(f"{where}: claim {cl.id}: span [{sp.start}, {sp.end}) does not match the text")
    return Record(text, meta, result)


def json_records(text: str, name: str) -> tuple[list[tuple[str, object]], list[str]]:
    """``(where, object)`` for each record of a JSON document or a JSONL file, and the errors."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            doc = strict_json(stripped)
        except ValueError:
            doc = None  # JSONL (or broken): read line by line below
        if isinstance(doc, list):
            return [(f"{name} record {n}", obj) for n, obj in enumerate(doc, 1)], []
        if isinstance(doc, dict):
            return [(name, doc)], []
    out, errors = [], []
    # lines split at "\n" only (str.splitlines() would also split at U+2028, U+0085 ... inside JSON strings)
    for line in jsonl.json_lines(io.BytesIO(text.encode("utf-8")), loads=strict_json):
        if line.ok:
            out.append((f"{name} line {line.number}", line.value))
        else:
            errors.append(f"{name} line {line.number}: {line.message}")
    return out, errors


def parse_jsonl(data: bytes, name: str, texts: Optional[dict[str, str]] = None) -> tuple[list[Record], list[str]]:
    records = []
    objs, errors = json_records(decode(data, name), name)
    for where, obj in objs:
        try:
            records.append(record_from(obj, where, texts))
        except ValueError as e:
            errors.append(str(e))
    return records, errors


def texts_by_id(data: bytes, name: str) -> dict[str, str]:
    """``{id: text}`` from a JSON/JSONL file of input records (the input of a ``claims batch`` run)."""
    objs, _ = json_records(decode(data, name), name)
    return {str(o["id"]): o["text"] for _, o in objs
            if isinstance(o, dict) and o.get("id") is not None and isinstance(o.get("text"), str)}


def parse_upload(data: bytes, filename: str, texts: Optional[dict[str, str]] = None) -> tuple[list[Record], list[str]]:
    """Records from an uploaded file: ``.jsonl`` / ``.json`` (see the module docstring) or anything
    else as one plain-text article titled by its first line."""
    name = filename or "upload"
    if name.lower().endswith((".jsonl", ".ndjson", ".json")) or (
            not name.lower().endswith(".txt") and data.lstrip()[:1] in (b"{", b"[")):
        return parse_jsonl(data, name, texts)
    try:
        text = check_text(decode(data, name), name)
    except ValueError as e:
        return [], [str(e)]
    stem = name.rsplit("/", 1)[-1]
    stem = stem[:-4] if stem.lower().endswith(".txt") else stem
    return [Record(text, {"title": store._title_from(text) or stem, "ext_id": stem})], []


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
