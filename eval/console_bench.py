"""Review console benchmark: article-view server time and ten concurrent reviewers.

    python -m eval.console_bench                     # both, SQLite in a temporary folder
    python -m eval.console_bench --db postgresql://… # the same on PostgreSQL (an empty database)

1. **Article view.** A generated article of 2,000 words with 60 claims (source, cue, content,
   speaker, stances toward the three seed disputes) is stored, then ``GET /articles/{id}`` (HTML)
   and ``GET /api/articles/{id}`` (JSON) are timed in process over ASGI: the time the server
   spends, from request to the last byte, without network or browser. Median and 95th percentile
   of ``--repeat`` runs.
2. **Concurrent reviewers.** The console runs under uvicorn in its own process; ten reviewers
   (httpx clients over real TCP, all at once) each open the article page, then edit claims in
   turn: read the claim, post an edit on the version they read, and after a conflict read again
   and retry, as a person does after the conflict message. Several reviewers work on the same
   claims, so conflicts happen. Reported: requests, errors (any status other than 200, or 409 on
   an edit), saved edits, conflicts, latency of the review requests (logins excluded: Argon2 is
   slow on purpose); and the check that no edit was lost: every saved edit
   is in the audit trail, and the claims' versions count exactly the saved edits.

Numbers depend on the machine; the tests never assert timings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("the officials meeting talks government policy regional security agreement week council "
         "minister report statement process economic future support conflict forces border plan").split()
SPEAKERS = [("John Kerry", "person"), ("Sergey Lavrov", "person"), ("Russia", "government"),
            ("the Pentagon", "government"), ("Amnesty International", "organization"), ("Reuters", "media"),
            ("Vladimir Putin", "person"), ("Barack Obama", "person")]


def generate_article(n_words: int = 2000, n_claims: int = 60, seed: int = 0):
    """An ``ArticleResult`` with ``n_claims`` claims in about ``n_words`` words."""
    from claims.doc import STANCE_LABELS, ArticleResult, Claim, Span, Speaker, Stance
    from claims.disputes import default
    rng = random.Random(seed)
    disputes = default()
    parts, claims, pos, words = [], [], 0, 0

    def add(s: str) -> int:
        nonlocal pos
        parts.append(s)
        start = pos
        pos += len(s)
        return start

    filler_per_claim = max(0, -(-(n_words - n_claims * 15) // max(1, n_claims)))
    for i in range(n_claims):
        name, typ = SPEAKERS[i % len(SPEAKERS)]
        src_start = add(name)
        add(" ")
        cue_start = add("said")
        add(" that ")
        content = " ".join(rng.choice(WORDS) for _ in range(12))
        cnt_start = add(content)
        add(". ")
        filler = " ".join(rng.choice(WORDS) for _ in range(filler_per_claim)).capitalize()
        add(filler + ".\n\n" if i % 3 == 2 else filler + ". ")
        words += 15 + filler_per_claim
        stance = {}
        for d in disputes:
            p = [rng.random() for _ in STANCE_LABELS]
            total = sum(p)
            scores = {k: v / total for k, v in zip(STANCE_LABELS, p)}
            stance[d.id] = Stance(max(scores, key=scores.get), scores)
        claims.append(Claim(f"c{i + 1}", [Span(cnt_start, cnt_start + len(content), content)],
                            Span(cue_start, cue_start + 4, "said"), Span(src_start, src_start + len(name), name),
                            Speaker(name, typ, Span(src_start, src_start + len(name), name)), "indirect",
                            round(rng.uniform(0.3, 0.99), 3), stance))
    text = "".join(parts)
    return ArticleResult("bench", text, claims, disputes, {"name": "bench", "version": "0"}), len(text.split())


def _login(client, name: str, password: str) -> None:
    token = client.get("/api/login").json()["csrf_token"]
    r = client.post("/api/login", json={"name": name, "password": password}, headers={"X-CSRF-Token": token})
    r.raise_for_status()
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]


def setup(db_url: str, password: str, reviewers: int) -> int:
    from claims.console import auth, importer
    from claims.console.app import create_app
    from claims.console.db import Database
    from claims.disputes import default
    db = Database(db_url)
    create_app(db, start_jobs=False, disputes=default())  # migrations and the seed disputes
    result, _ = generate_article()
    for name in ["admin"] + [f"reviewer{i}" for i in range(reviewers)]:
        if not db.conn().one("SELECT id FROM users WHERE name = ?", (name,)):
            db.apply(auth.add_user, name, "admin" if name == "admin" else "reviewer", password)
    rec = importer.Record(result.text, {"title": "Benchmark article", "ext_id": "bench"}, result)
    report = db.apply(importer.store_records, [rec], "bench")
    db.close()
    return report.articles[0]


def bench_view(db_url: str, article_id: int, password: str, repeat: int) -> dict:
    from starlette.testclient import TestClient

    from claims.console.app import create_app
    from claims.console.db import Database
    app = create_app(Database(db_url), start_jobs=False)
    out = {}
    with TestClient(app) as c:
        _login(c, "admin", password)
        for label, path in (("html", f"/articles/{article_id}"), ("json", f"/api/articles/{article_id}")):
            c.get(path).raise_for_status()  # warm: templates compiled, connections open
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = c.get(path)
                r.raise_for_status()
                _ = r.content
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out[label] = {"median_ms": round(statistics.median(times), 1),
                          "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                          "max_ms": round(times[-1], 1), "bytes": len(r.content)}
        data = c.get(f"/api/articles/{article_id}").json()
        out["article"] = {"words": len(data["text"].split()), "claims": len(data["claims"]),
                          "disputes": len(data["disputes"])}
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_reviewers(db_url: str, article_id: int, password: str, reviewers: int, edits: int) -> dict:
    import httpx
    port = _free_port()
    code = ("import uvicorn, sys; from claims.console.app import create_app; "
            "uvicorn.run(create_app(sys.argv[1], start_jobs=False), host='127.0.0.1', port=int(sys.argv[2]), "
            "log_level='warning')")
    server = subprocess.Popen([sys.executable, "-c", code, db_url, str(port)],
                              cwd=str(Path(__file__).resolve().parents[1]))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        latencies: list[float] = []
        errors: list[str] = []
        saved: list[tuple[int, str]] = []
        conflicts = 0

        async def reviewer(k: int):
            nonlocal conflicts
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                rng = random.Random(k)

                async def call(method, path, **kw):
                    t0 = time.perf_counter()
                    r = await c.request(method, path, **kw)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    return r
                # logging in is left out of the latencies: Argon2 is slow on purpose
                token = (await c.get("/api/login")).json()["csrf_token"]
                # the console checks at most two passwords at once, so ten logins queue: a long timeout
                r = await c.post("/api/login", json={"name": f"reviewer{k}", "password": password},
                                 headers={"X-CSRF-Token": token}, timeout=600)
                c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
                page = await call("GET", f"/articles/{article_id}")
                if page.status_code != 200:
                    errors.append(f"article page {page.status_code}")
                claims = (await call("GET", f"/api/articles/{article_id}")).json()["claims"]
                # neighbours share claims: reviewer k works on claims k, k+1, ... so edits collide
                for step in range(edits):
                    claim = claims[(k * 3 + step) % len(claims)]
                    note = f"reviewer{k}-edit{step}"
                    for _attempt in range(5):
                        cur = await call("GET", f"/api/claims/{claim['db_id']}")
                        if cur.status_code != 200:
                            errors.append(f"read {cur.status_code}")
                            break
                        await asyncio.sleep(rng.uniform(0, 0.05))  # a moment to decide
                        body = {"version": cur.json()["review"]["version"], "action": "edit", "rating_note": note,
                                "stance": {"syria-transition": ["favor", "against", "neutral"][step % 3]}}
                        r = await call("POST", f"/api/claims/{claim['db_id']}", json=body)
                        if r.status_code == 200:
                            saved.append((claim["db_id"], note))
                            break
                        if r.status_code == 409:
                            conflicts += 1
                            continue
                        errors.append(f"edit {r.status_code}: {r.text[:100]}")
                        break

        t0 = time.perf_counter()

        async def main():
            await asyncio.gather(*(reviewer(k) for k in range(reviewers)))
        asyncio.run(main())
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(10)

    from claims.console import store
    from claims.console.db import Database
    db = Database(db_url)
    c = db.conn()
    versions = sum(r["version"] - 1 for r in c.all("SELECT version FROM claims WHERE article_id = ?", (article_id,)))
    audit = c.all("SELECT entity_id, after FROM audit WHERE entity = 'claim' AND article_id = ?", (article_id,))
    in_audit = {(int(a["entity_id"]), store.loads(a["after"])["review"]["rating_note"]) for a in audit}
    lost = [s for s in saved if s not in in_audit]
    latencies.sort()
    return {"reviewers": reviewers, "edits_each": edits, "requests": len(latencies), "errors": len(errors),
            "error_samples": errors[:5], "saved_edits": len(saved), "conflicts_retried": conflicts,
            "versions_counted": versions, "audit_rows": len(audit), "lost_edits": len(lost),
            "latency_median_ms": round(statistics.median(latencies), 1),
            "latency_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "wall_s": round(wall, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="database URL (default: a SQLite file in a temporary folder)")
    ap.add_argument("--repeat", type=int, default=30, help="timed runs of the article view")
    ap.add_argument("--reviewers", type=int, default=10)
    ap.add_argument("--edits", type=int, default=10, help="edits per reviewer")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    password = "benchmark-password"
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db or str(Path(tmp) / "bench.db")
        article_id = setup(db_url, password, args.reviewers)
        view = bench_view(db_url, article_id, password, args.repeat)
        crowd = bench_reviewers(db_url, article_id, password, args.reviewers, args.edits)
    result = {"database": "postgresql" if (args.db or "").startswith("postgres") else "sqlite",
              "article_view": view, "concurrent_reviewers": crowd}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        a = view["article"]
        print(f"article: {a['words']} words, {a['claims']} claims, {a['disputes']} disputes ({result['database']})")
        for k in ("html", "json"):
            v = view[k]
            print(f"  GET article view ({k}): median {v['median_ms']} ms, p95 {v['p95_ms']} ms, "
                  f"max {v['max_ms']} ms, {v['bytes']:,} bytes")
        print(f"{crowd['reviewers']} concurrent reviewers: {crowd['requests']} requests in {crowd['wall_s']} s, "
              f"errors {crowd['errors']}, saved edits {crowd['saved_edits']}, conflicts retried "
              f"{crowd['conflicts_retried']}, lost edits {crowd['lost_edits']} (versions {crowd['versions_counted']}, "
              f"audit rows {crowd['audit_rows']}); latency median {crowd['latency_median_ms']} ms, "
              f"p95 {crowd['latency_p95_ms']} ms")
    ok = crowd["errors"] == 0 and crowd["lost_edits"] == 0 and crowd["versions_counted"] == crowd["saved_edits"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
