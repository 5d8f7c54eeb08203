"""A stand-in analyzer for console tests: fast, deterministic, no model.

It finds "<Source> <cue> <content>." for a few reporting verbs, so tests get claims at known
offsets without loading the transformer. It is test scaffolding only; the console runs the real
``claims.analyzer.Analyzer`` unless a test injects this.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from claims.doc import ArticleResult, Claim, Dispute, Span, Speaker, Stance

CUES = r"(said|says|denies|denied|told reporters|argued|claimed)"
PATTERN = re.compile(r"(?P<src>\b(?:[A-Z][\w’']+)(?: [A-Z][\w’']+){0,2}|\b[Hh]e|\b[Ss]he|\bThey)\s+"
                     rf"(?P<cue>{CUES})[:,]?\s+(?P<cnt>[^.\n]+)")
NEGATIVE = ("deni", "reject", "not", "no ")


class _StanceModel:
    version = "stand-in"


class StandInAnalyzer:
    """``analyze_many`` / ``score_stance`` like ``claims.analyzer.Analyzer``."""

    def __init__(self, stance: bool = True, fail_on: str = ""):
        self.stance = _StanceModel() if stance else None
        self.fail_on = fail_on
        self.calls = 0

    model_info = {"name": "stand-in", "version": "test"}

    def claims_of(self, text: str) -> list[Claim]:
        out = []
        for n, m in enumerate(PATTERN.finditer(text), 1):
            src = Span.of(text, m.start("src"), m.end("src"))
            cue = Span.of(text, m.start("cue"), m.end("cue"))
            cnt = Span.of(text, m.start("cnt"), m.end("cnt"))
            name = src.text if src.text.lower() not in ("he", "she", "they") else "Someone"
            # a spread of confidences so "low confidence first" has something to sort
            conf = round(0.35 + (len(cnt.text) * 7 % 60) / 100, 2)
            out.append(Claim(f"c{n}", [cnt], cue, src, Speaker(name, "person", src), "indirect", conf))
        return out

    def _stances(self, claims: list[Claim], disputes: list[Dispute]) -> None:
        if self.stance is None:
            return
        for cl in claims:
            words = " ".join(s.text.lower() for s in cl.spans())
            for d in disputes:
                topic = any(w in words for w in d.proposition.lower().split()[:4] if len(w) > 3)
                if not topic:
                    label = "unrelated"
                elif any(neg in words for neg in NEGATIVE):
                    label = "against"
                else:
                    label = "favor"
                scores = {k: 0.1 for k in ("favor", "against", "neutral", "unrelated")}
                scores[label] = 0.7
                cl.stance[d.id] = Stance(label, scores)

    def analyze(self, text: str, id: str = "article", disputes: Optional[list[Dispute]] = None) -> ArticleResult:
        return next(self.analyze_many([(id, text)], disputes))

    def analyze_many(self, items: Iterable[tuple[str, object]], disputes: Optional[list[Dispute]] = None,
                     batch_size: int = 8):
        for id_, text in items:
            self.calls += 1
            if self.fail_on and self.fail_on in text:
                yield ArticleResult.failed(str(id_), "model_error", "stand-in failure")
                continue
            claims = self.claims_of(text)
            self._stances(claims, disputes or [])
            yield ArticleResult(str(id_), text, claims, list(disputes or []), dict(self.model_info))

    def score_stance(self, text: str, claims: list, disputes: list[Dispute]) -> list:
        if self.stance is None:
            raise RuntimeError("no stance model is loaded")
        self._stances(claims, disputes)
        return claims


PASSWORD = "correct horse battery"


def make_console(tmp_path, analyzer=None, users=(("admin", "admin"), ("rita", "reviewer"))):
    """An app on a fresh SQLite file with the given users (all with ``PASSWORD``)."""
    from claims.console import auth
    from claims.console.app import create_app
    from claims.console.db import Database
    db = Database(tmp_path / "console.db")
    app = create_app(db, analyzer_factory=lambda: analyzer or StandInAnalyzer())
    for name, role in users:
        db.apply(auth.add_user, name, role, PASSWORD)
    return app


def login(client, name: str, password: str = PASSWORD) -> str:
    """Log a test client in through the JSON API; returns the session's CSRF token and sets it
    as the client's default header."""
    r = client.get("/api/login")
    token = r.json()["csrf_token"]
    r = client.post("/api/login", json={"name": name, "password": password}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = csrf
    return csrf
