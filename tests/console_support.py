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


def _fast_password_hashing() -> None:
    """Argon2 at its lowest cost in tests (as web frameworks' test settings do): the same code
    paths, a fraction of the CPU, so the suite stays quick on a busy machine."""
    from argon2 import PasswordHasher

    from claims.console import auth
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    auth._DUMMY_HASH = auth._hasher.hash("dummy password")


_fast_password_hashing()


def make_console(tmp_path, analyzer=None, users=(("admin", "admin"), ("rita", "reviewer")), db_url=None,
                 disputes="seed"):
    """An app on a fresh SQLite file (or the given database URL) with the given users (all with
    ``PASSWORD``) and the seed disputes (``disputes=None``: none)."""
    from claims.console import auth
    from claims.console.app import create_app
    from claims.console.db import Database
    from claims.disputes import default
    db = Database(db_url or tmp_path / "console.db")
    app = create_app(db, analyzer_factory=lambda: analyzer or StandInAnalyzer(),
                     disputes=default() if disputes == "seed" else disputes)
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


def postgres_bin() -> "Path | None":
    """The directory of Debian's PostgreSQL server binaries, if installed."""
    import glob
    from pathlib import Path
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class TempPostgres:
    """A throwaway PostgreSQL cluster on a Unix socket in a temporary folder (no TCP port).

    PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` system user."""

    def __init__(self, root, bindir):
        import os
        import pwd
        import subprocess
        self.root, self.bindir = root, bindir
        self.data, self.sock = root / "data", root / "sock"
        self.sock.mkdir(parents=True)
        self.prefix = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (root, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        run = lambda *a: subprocess.run([*self.prefix, *a], check=True, capture_output=True, timeout=120)  # noqa: E731
        run(str(bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "claims", "-E", "UTF8",
            "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(root / "log"), "-o",
            f"-k {self.sock} -c listen_addresses='' -c fsync=off -c max_connections=200", "start")
        self._run = run
        self.n = 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://claims@/{dbname}?host={self.sock}"

    def new_database(self) -> str:
        import psycopg
        self.n += 1
        name = f"console_test_{self.n}"
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
