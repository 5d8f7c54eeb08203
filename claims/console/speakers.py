"""Who stands where: speakers × disputes over the claims reviewers accepted, edited or added.

A stance is **confirmed** when a reviewer set or confirmed it (``reviewed_by``); otherwise it is
the model's guess, even on an accepted claim (accepting a claim confirms its spans and speaker,
not its stances). A cell counts a speaker's claims by stance label toward a dispute (``unrelated``
left out), confirmed stances (``counts``) apart from model guesses (``model_counts``), and names
its position from the confirmed ones only (the most frequent of favor / against / neutral;
``model_position`` is what the guesses alone would say). A speaker is **flagged** on a dispute
when their confirmed position changed over time: taking the articles in date order (published
date, else the day the article was added), the days on which they took a side (favor or
against) do not all agree.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from . import store
from .db import Conn

POSITIONS = ("favor", "against", "neutral")
_DAY = "COALESCE(NULLIF(a.published, ''), SUBSTR(a.created_at, 1, 10))"


def _rows(c: Conn, speaker: str = "", dispute: str = "") -> list[dict]:
    sql = (f"SELECT c.id AS claim_id, c.key, c.speaker_name, c.content, c.status, s.dispute_id, s.label, "
           f"s.reviewed_by, s.scores, a.id AS article_id, a.title, {_DAY} AS day "
           "FROM claims c JOIN stances s ON s.claim_id = c.id JOIN articles a ON a.id = c.article_id "
           "WHERE c.status IN ('accepted', 'edited', 'added') AND c.speaker_name <> '' AND s.label <> 'unrelated'")
    more, params = store.equal_to([("c.speaker_name", speaker), ("s.dispute_id", dispute)])
    return c.all(sql + more + " ORDER BY day, a.id, c.start_char", params)


def changed_over_time(rows: list[dict]) -> bool:
    """True if the sides (favor / against) taken on different days disagree."""
    by_day: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        if r["label"] in ("favor", "against"):
            by_day[r["day"]][r["label"]] += 1
    sides = [cnt.most_common(1)[0][0] for _, cnt in sorted(by_day.items())]
    return len(set(sides)) > 1


def _position(counts: Counter) -> str:
    return max(POSITIONS, key=lambda p: (counts[p], p == "neutral"))


def matrix(c: Conn) -> dict:
    disputes = store.list_disputes(c)
    cells: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in _rows(c):
        cells[r["speaker_name"]][r["dispute_id"]].append(r)
    speakers = []
    for name in sorted(cells, key=lambda n: (-sum(len(v) for v in cells[n].values()), n.lower())):
        row = {"speaker": name, "cells": {}}
        for d in disputes:
            rs = cells[name].get(d["id"], [])
            if not rs:
                continue
            confirmed = [r for r in rs if r["reviewed_by"]]
            guesses = [r for r in rs if not r["reviewed_by"]]
            counts, model_counts = Counter(r["label"] for r in confirmed), Counter(r["label"] for r in guesses)
            row["cells"][d["id"]] = {
                "counts": {p: counts[p] for p in POSITIONS}, "confirmed": len(confirmed),
                "position": _position(counts) if confirmed else None,
                "model_counts": {p: model_counts[p] for p in POSITIONS}, "model": len(guesses),
                "model_position": _position(model_counts) if guesses else None,
                "claims": len(rs), "changed": changed_over_time(confirmed)}
        row["flagged"] = [d for d, cell in row["cells"].items() if cell["changed"]]
        speakers.append(row)
    return {"disputes": [{"id": d["id"], "title": d["title"]} for d in disputes], "speakers": speakers}


def evidence(c: Conn, speaker: str, dispute: str) -> dict:
    """The claims behind one cell, in date order."""
    rows = _rows(c, speaker, dispute)
    items = []
    for r in rows:
        scores = store.loads(r["scores"]) or {}
        items.append({"article_id": r["article_id"], "article_title": r["title"], "day": r["day"], "claim": r["key"],
                      "claim_db_id": r["claim_id"], "label": r["label"], "reviewed_by": r["reviewed_by"],
                      "confirmed": bool(r["reviewed_by"]), "probability": scores.get(r["label"]),
                      "content": " … ".join(s["text"] for s in store.loads(r["content"]))})
    return {"speaker": speaker, "dispute": dispute, "claims": items,
            "changed": changed_over_time([r for r in rows if r["reviewed_by"]])}
