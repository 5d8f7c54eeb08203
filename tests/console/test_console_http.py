"""The console through a real HTTP client over ASGI (Starlette's TestClient on httpx).

Anonymous access, CSRF, escaping, SQL metacharacters, version conflicts, concurrent reviewers,
imports, exports, disputes and rescoring, the speakers matrix, and the CLI commands.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re

import httpx
import pytest
from starlette.testclient import TestClient

from claims.console import auth
from claims.console.app import ROUTES
from console_support import PASSWORD, StandInAnalyzer, login, make_console

ARTICLE = ("Kerry, Lavrov Meet Over Syria\n\n"
           "Moscow denies the allegations about its airstrikes in Syria.\n"
           "Kerry said the world benefits when powerful nations find common ground.\n"
           "Lavrov said the ceasefire in eastern Ukraine was holding.\n")


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path):
    """The console on SQLite, and again on PostgreSQL where a server can be started."""
    if request.param == "postgresql":
        return make_console(tmp_path, db_url=request.getfixturevalue("postgres").new_database())
    return make_console(tmp_path)


@pytest.fixture()
def client(app):
    with TestClient(app) as c:
        login(c, "admin")
        yield c


def add_article(client, app, text=ARTICLE, **meta) -> dict:
    r = client.post("/api/articles", json={"title": meta.pop("title", "Talks"), "text": text, **meta})
    assert r.status_code == 202, r.text
    assert app.state.jobs.drain(20)
    return client.get(f"/api/articles/{r.json()['articles'][0]}").json()


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:int)?\}", lambda m: "1" if m.group(2) else "x", path)


# -- access --------------------------------------------------------------------------------------

@pytest.mark.parametrize("route", [r for r in ROUTES if r.path != "/login"], ids=lambda r: r.path)
def test_console_routes_refuse_anonymous(app, route):
    with TestClient(app) as c:
        for prefix in ("", "/api"):
            for method in route.methods:
                path = prefix + concrete(route.path)
                if route.path == "/static/{name}":
                    path = prefix + "/static/console.js"
                r = c.request(method, path, follow_redirects=False)
                assert r.status_code in (401, 303), (method, path, r.status_code)
                if r.status_code == 303:
                    assert r.headers["location"].startswith("/login"), (method, path)
                assert "Kerry" not in r.text


def test_console_unknown_paths_and_assets_need_a_session(app):
    with TestClient(app) as c:
        assert c.get("/api/nothing-here").status_code == 401
        assert c.get("/static/console.css").status_code == 200  # the login page needs it
        assert c.get("/static/console.js").status_code == 401
        login_page = c.get("/login")
        assert login_page.status_code == 200 and 'name="password"' in login_page.text
        assert "console.js" not in login_page.text


def test_console_session_cookie_flags_and_security_headers(app):
    with TestClient(app) as c:
        token = c.get("/api/login").json()["csrf_token"]
        r = c.post("/api/login", json={"name": "admin", "password": PASSWORD}, headers={"X-CSRF-Token": token})
        cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(auth.SESSION_COOKIE)][0]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        page = c.get("/articles")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"


def test_console_reviewer_cannot_administer(app):
    with TestClient(app) as c:
        login(c, "rita")
        assert c.get("/api/users").status_code == 403
        assert c.post("/api/users", json={"name": "x", "role": "admin", "password": "password1"}).status_code == 403
        assert c.post("/api/articles", json={"text": ARTICLE}).status_code == 403
        assert c.post("/api/disputes", json={"id": "x", "proposition": "p"}).status_code == 403
        assert c.get("/api/articles").status_code == 200


def test_console_login_rate_limited(app):
    with TestClient(app) as c:
        token = c.get("/api/login").json()["csrf_token"]
        for _ in range(auth.MAX_FAILURES):
            r = c.post("/api/login", json={"name": "admin", "password": "wrong"}, headers={"X-CSRF-Token": token})
            assert r.status_code == 401
        r = c.post("/api/login", json={"name": "admin", "password": PASSWORD}, headers={"X-CSRF-Token": token})
        assert r.status_code == 429  # even the right password waits now
        assert "Set-Cookie" not in r.headers or auth.SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_console_logout_ends_the_session(client):
    assert client.post("/api/logout").status_code == 200
    assert client.get("/api/articles").status_code == 401


# -- CSRF ----------------------------------------------------------------------------------------

def test_console_csrf_failure_is_refused(app, client):
    art = add_article(client, app)
    claim = art["claims"][0]
    good = client.headers.pop("X-CSRF-Token")
    for token in (None, "forged", good[:-1] + "x"):
        headers = {"X-CSRF-Token": token} if token else {}
        r = client.post(f"/api/claims/{claim['db_id']}", json={"action": "reject", "version": 1}, headers=headers)
        assert r.status_code == 403, token
        r = client.post("/articles", data={"text": "Someone said something.", "csrf_token": token or ""},
                        follow_redirects=False)
        assert r.status_code == 403
    # nothing changed
    client.headers["X-CSRF-Token"] = good
    assert client.get(f"/api/claims/{claim['db_id']}").json()["review"]["status"] == "pending"
    assert client.get("/api/articles", params={"status": ""}).json()["total"] == 1


def test_console_login_needs_its_csrf_token(app):
    with TestClient(app) as c:
        r = c.post("/api/login", json={"name": "admin", "password": PASSWORD})
        assert r.status_code == 403


def test_console_html_form_with_token_works(app, client):
    csrf = client.headers["X-CSRF-Token"]
    del client.headers["X-CSRF-Token"]
    r = client.post("/articles", data={"text": ARTICLE, "title": "Form", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/articles/")


# -- escaping and SQL ----------------------------------------------------------------------------

EVIL = "</script><script>alert('x')</script> \"quoted\" & 'single' <b>bold</b>"


def test_console_article_text_is_shown_escaped(app, client):
    text = f"{EVIL}\nKerry said \"<script>alert(1)</script>\" is a quote.\n"
    art = add_article(client, app, text=text, title=EVIL, publisher=EVIL)
    html = client.get(f"/articles/{art['id']}").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html or "&lt;script&gt;alert(&#39;x&#39;)" in html
    assert "<b>bold</b>" not in html
    # the embedded JSON cannot close its script element
    data = re.search(r'<script type="application/json" id="article-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(data)["text"] == text
    # a javascript: link never becomes a link
    art2 = add_article(client, app, text="Kerry said yes.\n", url="javascript:alert(1)")
    assert 'href="javascript:' not in client.get(f"/articles/{art2['id']}").text
    queue = client.get("/articles?status=all").text
    assert "<b>bold</b>" not in queue and "&lt;b&gt;bold&lt;/b&gt;" in queue
    assert client.get(f"/api/articles/{art['id']}").json()["title"] == EVIL


SQL = "x'; DROP TABLE claims; -- \" OR 1=1 %_\\"


def test_console_sql_metacharacters_are_harmless(app, client):
    text = f"{SQL}\nKerry said {SQL} was typed.\n"
    art = add_article(client, app, text=text, title=SQL, publisher=SQL, url=SQL)
    claim = art["claims"][0]
    r = client.post(f"/api/claims/{claim['db_id']}", json={
        "version": 1, "action": "edit", "speaker": {"name": SQL, "type": "person"}, "rating": "false",
        "rating_note": SQL})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/articles/{art['id']}/claims", json={"content": [{"start": 0, "end": len(SQL)}],
                                                               "speaker": SQL})
    assert r.status_code == 201, r.text
    r = client.post("/api/disputes", json={"id": "sql-test", "title": SQL, "proposition": SQL, "description": SQL})
    assert r.status_code == 201, r.text
    for params in ({"speaker": SQL}, {"publisher": SQL}, {"dispute": SQL}, {"speaker": "%"}, {"publisher": "_"}):
        r = client.get("/api/articles", params={"status": "", **params})
        assert r.status_code == 200, params
    assert client.get("/api/articles", params={"status": "", "speaker": SQL}).json()["total"] == 1
    assert client.get("/api/articles", params={"status": "", "speaker": "%"}).json()["total"] == 1  # literal %
    assert client.get("/api/articles", params={"status": "", "publisher": "zz_"}).json()["total"] == 0
    r = client.get("/api/audit", params={"user": SQL, "entity_id": SQL})
    assert r.status_code == 200 and r.json()["entries"] == []
    assert client.get("/api/speakers/evidence", params={"speaker": SQL, "dispute": SQL}).status_code == 200
    assert client.post("/api/users", json={"name": "x'--", "role": "reviewer", "password": SQL}).status_code == 201
    got = client.get(f"/api/articles/{art['id']}").json()
    assert got["title"] == SQL and got["url"] == SQL
    assert any(c["speaker"] and c["speaker"]["name"] == SQL for c in got["claims"])
    assert len(got["claims"]) == len(art["claims"]) + 1  # the claims table is still there
    assert client.get("/api/disputes/sql-test").json()["proposition"] == SQL


# -- reviewing -----------------------------------------------------------------------------------

def test_console_version_conflict_is_reported_not_lost(app, client):
    art = add_article(client, app)
    claim = art["claims"][0]
    with TestClient(app) as other:
        login(other, "rita")
        r1 = other.post(f"/api/claims/{claim['db_id']}", json={"version": 1, "action": "edit", "speaker": "Russia"})
        assert r1.status_code == 200
        r2 = client.post(f"/api/claims/{claim['db_id']}", json={"version": 1, "action": "edit", "speaker": "Moscow"})
        assert r2.status_code == 409
        assert "rita" in r2.json()["error"] and "not saved" in r2.json()["error"]
        assert r2.json()["current"]["speaker"]["name"] == "Russia"
    now = client.get(f"/api/claims/{claim['db_id']}").json()
    assert now["speaker"]["name"] == "Russia" and now["review"]["version"] == 2
    # both attempts are visible: the saved one in the audit trail
    hist = now["history"]
    assert [h["user_name"] for h in hist] == ["rita"]
    assert hist[0]["before"]["speaker"]["name"] == "Moscow" and hist[0]["after"]["speaker"]["name"] == "Russia"


def test_console_ten_concurrent_reviewers_lose_no_edit(app):
    """Ten reviewers hammer the same article at once: every request answers 200 or 409, and each
    200 is in the audit trail; versions count every saved change exactly once."""
    users = [f"rev{i}" for i in range(10)]
    for u in users:
        app.state.db.apply(auth.add_user, u, "reviewer", PASSWORD)
    with TestClient(app) as c:
        login(c, "admin")
        art = add_article(c, app)
    claim_ids = [cl["db_id"] for cl in art["claims"]]

    async def reviewer(name: str, k: int) -> list[tuple[int, int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as ac:
            token = (await ac.get("/api/login")).json()["csrf_token"]
            r = await ac.post("/api/login", json={"name": name, "password": PASSWORD}, headers={"X-CSRF-Token": token})
            ac.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            out = []
            for step in range(6):
                cid = claim_ids[(k + step) % len(claim_ids)]
                cur = (await ac.get(f"/api/claims/{cid}")).json()
                r = await ac.post(f"/api/claims/{cid}", json={
                    "version": cur["review"]["version"], "action": "edit", "rating_note": f"{name}-{step}"})
                out.append((cid, r.status_code))
            return out

    async def main():
        return await asyncio.gather(*(reviewer(u, i) for i, u in enumerate(users)))

    results = [x for rs in asyncio.run(main()) for x in rs]
    assert {s for _, s in results} <= {200, 409}
    saved = sum(1 for _, s in results if s == 200)
    assert saved >= len(claim_ids)
    with TestClient(app) as c:
        login(c, "admin")
        total_versions = sum(c.get(f"/api/claims/{cid}").json()["review"]["version"] - 1 for cid in claim_ids)
        audit = c.get("/api/audit", params={"entity": "claim", "limit": 1000}).json()["entries"]
    assert total_versions == saved == len(audit)


def test_console_review_flow_and_article_status(app, client):
    art = add_article(client, app)
    ids = [c["db_id"] for c in art["claims"]]
    r = client.post(f"/api/articles/{art['id']}/status", json={"status": "done", "version": art["version"]})
    assert r.status_code == 400 and "pending" in r.json()["error"]
    for n, cid in enumerate(ids):
        r = client.post(f"/api/claims/{cid}", json={"version": 1, "action": "reject" if n == 0 else "accept"})
        assert r.status_code == 200
    assert client.get(f"/api/articles/{art['id']}").json()["status"] == "in_review"
    r = client.post(f"/api/articles/{art['id']}/status", json={"status": "done", "version": art["version"]})
    assert r.status_code == 200, r.text
    assert client.get("/api/articles", params={"status": "done"}).json()["total"] == 1
    r = client.post(f"/api/articles/{art['id']}/status", json={"status": "in_review", "version": art["version"]})
    assert r.status_code == 409


def test_console_edit_validates_spans(app, client):
    art = add_article(client, app)
    cid = art["claims"][0]["db_id"]
    text = art["text"]
    for bad in ([{"start": 5, "end": 5}], [{"start": -1, "end": 3}], [{"start": 0, "end": len(text) + 1}],
                [{"start": 0, "end": 3, "text": "nope"}], [], "x"):
        r = client.post(f"/api/claims/{cid}", json={"version": 1, "content": bad})
        assert r.status_code == 400, bad
    r = client.post(f"/api/claims/{cid}", json={"version": 1, "stance": {"no-such": "favor"}})
    assert r.status_code == 400
    r = client.post(f"/api/claims/{cid}", json={"version": 1, "stance": {"syria-transition": "maybe"}})
    assert r.status_code == 400
    # whitespace around a selection is trimmed; the text field always equals the article slice
    s = text.index("the allegations")
    r = client.post(f"/api/claims/{cid}", json={"version": 1, "content": [{"start": s - 1, "end": s + 16}]})
    assert r.json()["content"] == [{"start": s, "end": s + 15, "text": "the allegations"}]


def test_console_queue_filters_and_low_confidence_first(app, client):
    a = add_article(client, app, publisher="Daily Planet", published="2015-10-01")
    b = add_article(client, app, text="Lavrov said the talks went well and the ceasefire would hold.\n",
                    publisher="Gazette", published="2016-01-01")
    q = lambda **p: client.get("/api/articles", params={"status": "", **p}).json()  # noqa: E731
    assert q()["total"] == 2
    assert [x["id"] for x in q(publisher="planet")["articles"]] == [a["id"]]
    assert [x["id"] for x in q(**{"from": "2015-12-01"})["articles"]] == [b["id"]]
    assert [x["id"] for x in q(to="2015-12-01")["articles"]] == [a["id"]]
    assert {x["id"] for x in q(speaker="lavrov")["articles"]} == {a["id"], b["id"]}
    assert [x["id"] for x in q(speaker="moscow")["articles"]] == [a["id"]]
    lowest = min(a["claims"] + b["claims"], key=lambda c: c["confidence"])
    first = q(sort="confidence")["articles"][0]
    assert first["min_confidence"] == pytest.approx(lowest["confidence"])
    assert q(max_confidence=0.0)["total"] == 0
    dis = q(dispute="airstrike-targets")
    assert dis["total"] >= 1
    assert q(dispute="airstrike-targets", stance="against")["total"] == 1
    assert q(dispute="airstrike-targets", stance="favor")["total"] == 0
    # claims of one article, least confident first
    order = client.get(f"/articles/{a['id']}?sort=confidence").text
    keys = re.findall(r'data-key="(c\d+)"', order)
    confs = {c["id"]: c["confidence"] for c in a["claims"]}
    assert [confs[k] for k in keys] == sorted(confs[k] for k in keys)
    assert client.get("/api/articles", params={"sort": "bogus"}).status_code == 400
    assert client.get("/api/articles", params={"from": "yesterday"}).status_code == 400


def test_console_add_claim_and_speaker_candidates(app, client):
    art = add_article(client, app)
    names = {c["name"] for c in art["candidates"]}
    assert {"Kerry", "Lavrov"} <= names
    s = art["text"].index("Kerry, Lavrov Meet")
    r = client.post(f"/api/articles/{art['id']}/claims", json={
        "content": [{"start": s, "end": s + 5}], "speaker": "Lavrov", "stance": {"syria-transition": "neutral"}})
    assert r.status_code == 201
    c = r.json()
    assert c["review"]["status"] == "added" and c["speaker"]["name"] == "Lavrov" and c["speaker"]["type"] == "person"
    assert c["stance"]["syria-transition"]["reviewed_by"] == "admin"


# -- articles in ---------------------------------------------------------------------------------

def test_console_upload_jsonl_and_txt(app, client):
    result_line = {"schema_version": 1, "id": "pre", "model": {}, "disputes": [], "error": None, "text": "Ann said hi.",
                   "claims": [{"id": "c1", "content": [{"start": 9, "end": 11, "text": "hi"}],
                               "cue": {"start": 4, "end": 8, "text": "said"},
                               "source": {"start": 0, "end": 3, "text": "Ann"}, "speaker": None,
                               "form": "indirect", "confidence": 0.9, "stance": {}}]}
    jsonl = "\n".join([json.dumps({"id": "a1", "text": ARTICLE, "title": "One"}), "not json",
                       json.dumps({"id": "a2", "text": ""}), json.dumps(result_line)]) + "\n"
    files = [("files", ("batch.jsonl", jsonl.encode(), "application/json")),
             ("files", ("note.txt", "Kerry said yes.".encode(), "text/plain")),
             ("files", ("bad.txt", b"\xff\xfe\x00", "text/plain"))]
    r = client.post("/api/articles", files=files)
    assert r.status_code == 202, r.text
    rep = r.json()
    assert len(rep["articles"]) == 3 and len(rep["stored_with_results"]) == 1
    assert len(rep["errors"]) == 3 and any("line 2" in e for e in rep["errors"])
    assert app.state.jobs.drain(20)
    job = client.get(f"/api/jobs/{rep['job']}").json()
    assert job["status"] == "done" and job["done"] == job["total"] == 2
    pre = client.get(f"/api/articles/{rep['stored_with_results'][0]}").json()
    assert pre["claims"][0]["content"][0]["text"] == "hi"
    assert client.post("/api/articles", json={"text": "   "}).status_code == 400
    assert client.post("/api/articles", json={"text": "x" * 200_001}).status_code == 400


def test_console_failed_analysis_is_recorded(tmp_path):
    app = make_console(tmp_path, StandInAnalyzer(fail_on="BREAK"))
    with TestClient(app) as c:
        login(c, "admin")
        r = c.post("/api/articles", json={"articles": [{"text": "BREAK here."}, {"text": ARTICLE}]})
        assert app.state.jobs.drain(20)
        a, b = r.json()["articles"]
        assert c.get(f"/api/articles/{a}").json()["analysis"] == "failed"
        assert c.get(f"/api/articles/{b}").json()["analysis"] == "done"
        assert c.get(f"/api/jobs/{r.json()['job']}").json()["failed"] == 1


def test_console_missing_model_fails_jobs_with_a_message(tmp_path):
    from claims.console.app import create_app
    from claims.console.db import Database

    def no_model():
        raise RuntimeError("no attribution model at /nowhere")
    db = Database(tmp_path / "c.db")
    app = create_app(db, analyzer_factory=no_model)
    db.apply(auth.add_user, "admin", "admin", PASSWORD)
    with TestClient(app) as c:
        login(c, "admin")
        r = c.post("/api/articles", json={"text": ARTICLE})
        assert app.state.jobs.drain(20)
        art = c.get(f"/api/articles/{r.json()['articles'][0]}").json()
        assert art["analysis"] == "failed" and "no attribution model" in art["error"]
        assert c.get("/articles/%d" % art["id"]).status_code == 200


# -- disputes ------------------------------------------------------------------------------------

def test_console_dispute_add_edit_and_rescore(app, client):
    art = add_article(client, app)
    r = client.post("/api/disputes", json={"id": "ceasefire-holds", "title": "Ceasefire holds",
                                           "proposition": "The ceasefire in eastern Ukraine is holding.",
                                           "rescore": True})
    assert r.status_code == 201, r.text
    assert r.json()["rescore"]["job"]
    assert app.state.jobs.drain(20)
    claims = client.get(f"/api/articles/{art['id']}").json()["claims"]
    assert all("ceasefire-holds" in c["stance"] for c in claims)
    # a reviewer's label survives rescoring after an edit of the proposition
    cid = claims[0]["db_id"]
    client.post(f"/api/claims/{cid}", json={"version": claims[0]["review"]["version"],
                                           "stance": {"ceasefire-holds": "neutral"}})
    d = client.get("/api/disputes/ceasefire-holds").json()
    r = client.post("/api/disputes/ceasefire-holds", json={"proposition": "The ceasefire is failing.",
                                                           "version": d["version"], "rescore": "1"})
    assert r.status_code == 200
    assert app.state.jobs.drain(20)
    st = client.get(f"/api/claims/{cid}").json()["stance"]["ceasefire-holds"]
    assert st["label"] == "neutral" and st["reviewed_by"] == "admin"
    # stale version
    r = client.post("/api/disputes/ceasefire-holds", json={"proposition": "x y z", "version": d["version"]})
    assert r.status_code == 409
    assert client.post("/api/disputes", json={"id": "Bad Id", "proposition": "p"}).status_code == 400
    assert client.post("/api/disputes/ceasefire-holds/delete").status_code == 200
    assert "ceasefire-holds" not in client.get(f"/api/claims/{cid}").json()["stance"]


def test_console_without_stance_model_disables_rescoring(tmp_path):
    app = make_console(tmp_path, StandInAnalyzer(stance=False))
    with TestClient(app) as c:
        login(c, "admin")
        art = add_article(c, app)
        assert all(cl["stance"] == {} for cl in art["claims"])
        r = c.post("/api/disputes/syria-transition/rescore")
        assert r.status_code == 409 and "No stance model" in r.json()["error"]
        assert "No stance model" in c.get("/disputes").text
        # reviewers can still set stances by hand
        cl = art["claims"][0]
        r = c.post(f"/api/claims/{cl['db_id']}", json={"version": 1, "stance": {"syria-transition": "against"}})
        assert r.json()["stance"]["syria-transition"]["label"] == "against"


# -- speakers × disputes -------------------------------------------------------------------------

def test_console_speaker_matrix_flags_a_change(app, client):
    first = add_article(client, app, text="Lavrov said the ceasefire is failing.\n", published="2015-01-01")
    second = add_article(client, app, text="Lavrov said the ceasefire is fine.\n", published="2015-06-01")
    for art, label in ((first, "favor"), (second, "against")):
        cl = art["claims"][0]
        r = client.post(f"/api/claims/{cl['db_id']}", json={"version": 1, "action": "accept",
                                                           "stance": {"ukraine-ceasefire": label}})
        assert r.status_code == 200
    m = client.get("/api/speakers").json()
    row = next(s for s in m["speakers"] if s["speaker"] == "Lavrov")
    cell = row["cells"]["ukraine-ceasefire"]
    assert cell["changed"] and row["flagged"] == ["ukraine-ceasefire"]
    ev = client.get("/api/speakers/evidence", params={"speaker": "Lavrov", "dispute": "ukraine-ceasefire"}).json()
    assert [e["label"] for e in ev["claims"]] == ["favor", "against"]
    html = client.get("/speakers").text
    assert "/speakers/evidence?speaker=Lavrov&amp;dispute=ukraine-ceasefire" in html and "⚑" in html


# -- exports -------------------------------------------------------------------------------------

def test_console_exports(app, client, schema):
    import jsonschema
    art = add_article(client, app)
    ids = [c["db_id"] for c in art["claims"]]
    client.post(f"/api/claims/{ids[0]}", json={"version": 1, "action": "reject"})
    client.post(f"/api/claims/{ids[1]}", json={"version": 1, "action": "accept", "rating": "false",
                                              "rating_note": "No evidence.", "stance": {"syria-transition": "favor"}})
    for cid in ids[2:]:
        client.post(f"/api/claims/{cid}", json={"version": 1, "action": "accept"})
    client.post(f"/api/articles/{art['id']}/status", json={"status": "done", "version": art["version"]})

    lines = client.get("/api/export/results.jsonl").text.splitlines()
    rec = json.loads(lines[0])
    jsonschema.validate({k: v for k, v in rec.items()}, schema)
    assert len(rec["claims"]) == len(ids) - 1 and rec["text"] == art["text"]
    assert rec["review"]["claims"][art["claims"][1]["id"]]["rating"] == "false"
    with_rejected = json.loads(client.get("/api/export/results.jsonl?include_rejected=1").text.splitlines()[0])
    assert len(with_rejected["claims"]) == len(ids)

    rows = list(csv.DictReader(io.StringIO(client.get("/export/claims.csv").text)))
    assert len(rows) == len(ids) - 1 and rows[0]["stance:syria-transition"] in ("favor", "unrelated", "against", "")

    doc = client.get("/api/export/claimreview.jsonld").json()
    assert doc["@context"] == "https://schema.org" and len(doc["@graph"]) == 1
    cr = doc["@graph"][0]
    assert cr["@type"] == "ClaimReview" and cr["reviewRating"]["alternateName"] == "False"
    assert cr["itemReviewed"]["author"]["name"] == art["claims"][1]["speaker"]["name"]

    att = [json.loads(x) for x in client.get("/api/export/training-attribution.jsonl").text.splitlines()]
    assert len(att) == 1 and len(att[0]["attributions"]) == len(ids) - 1
    a0 = att[0]["attributions"][0]
    s, e = a0["content"][0]
    assert att[0]["text"][s:e] == art["claims"][1]["content"][0]["text"]

    st = [json.loads(x) for x in client.get("/api/export/training-stance.jsonl").text.splitlines()]
    assert len(st) == 1 and st[0]["label"] == "favor"
    assert st[0]["target"].startswith("President Bashar al-Assad")
    assert st[0]["text"] == "Kerry said the world benefits when powerful nations find common ground."
    assert client.get("/api/export/nope").status_code == 404


def test_console_exports_read_by_training(app, client, tmp_path):
    """The training scripts' readers accept the exports (``--extra``)."""
    import corpora
    art = add_article(client, app)
    for c in art["claims"]:
        client.post(f"/api/claims/{c['db_id']}", json={"version": 1, "action": "accept",
                                                       "stance": {"ukraine-ceasefire": "against"}})
    client.post(f"/api/articles/{art['id']}/status", json={"status": "done", "version": art["version"]})
    p = tmp_path / "att.jsonl"
    p.write_text(client.get("/api/export/training-attribution.jsonl").text)
    articles = list(corpora.read_jsonl(p))
    gold = corpora.gold_claims(articles[0]["attributions"])
    assert len(gold) == len(art["claims"]) and all(g["content"] for g in gold)
    from claims.nlp.segment import segment
    seg = segment(articles[0]["text"])
    assert all(seg.word_range(*g["content"][0]) for g in gold)
    p = tmp_path / "st.jsonl"
    p.write_text(client.get("/api/export/training-stance.jsonl").text)
    rows = list(corpora.read_jsonl(p))
    assert rows and all(set(r) == {"id", "target", "text", "label"} for r in rows)


# -- users and CLI -------------------------------------------------------------------------------

def test_console_users_admin_pages(app, client):
    r = client.post("/api/users", json={"name": "bob", "role": "reviewer", "password": "short"})
    assert r.status_code == 400 and "8 characters" in r.json()["error"]
    assert client.post("/api/users", json={"name": "bob", "role": "reviewer", "password": "long enough"}).status_code == 201
    assert client.post("/api/users", json={"name": "bob", "role": "reviewer", "password": "long enough"}).status_code == 400
    with TestClient(app) as bob:
        login(bob, "bob", "long enough")
        assert client.post("/api/users/bob/password", json={"password": "another one"}).status_code == 200
        assert bob.get("/api/articles").status_code == 401  # a new password ends old sessions
    assert client.post("/api/users/bob/delete").status_code == 200
    assert "bob" not in [u["name"] for u in client.get("/api/users").json()["users"]]
    assert client.post("/api/users/admin/delete").status_code == 400


def test_console_cli_users_and_import(tmp_path, monkeypatch, capsys):
    from claims.cli import main
    db = str(tmp_path / "cli.db")
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert main(["users", "add", "ann", "--role", "admin", "--password-stdin", "--db", db]) == 0
    assert main(["users", "list", "--db", db]) == 0
    assert "ann\tadmin" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert main(["users", "add", "ann", "--password-stdin", "--db", db]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["users", "remove", "ann", "--db", db]) == 2  # the last admin stays
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "x1", "text": ARTICLE, "publisher": "Wire"}) + "\n")
    assert main(["import", str(src), "--db", db]) == 0
    assert "job #1 queued" in capsys.readouterr().out
    from claims.console.db import Database
    d = Database(db)
    assert d.conn().value("SELECT COUNT(*) AS n FROM articles WHERE analysis = 'pending'") == 1
    assert d.schema_version() >= 1


# -- pages, docs, schema -------------------------------------------------------------------------

def test_console_every_page_renders_for_each_role(app, client):
    art = add_article(client, app)
    cid = art["claims"][0]["db_id"]
    client.post(f"/api/claims/{cid}", json={"version": 1, "action": "accept", "rating": "true",
                                           "stance": {"syria-transition": "favor"}})
    speaker = art["claims"][0]["speaker"]["name"]
    pages = ["/articles", "/articles?status=all&sort=confidence", f"/articles/{art['id']}",
             f"/articles/{art['id']}?sort=confidence", "/jobs", "/jobs/1", "/disputes", "/disputes/syria-transition",
             "/speakers", f"/speakers/evidence?speaker={speaker}&dispute=syria-transition",
             f"/audit?article={art['id']}", "/export", "/articles/new", "/users"]
    for p in pages:
        r = client.get(p)
        assert r.status_code == 200, (p, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
        assert client.get("/api" + p).status_code == 200, p
    with TestClient(app) as rc:
        login(rc, "rita")
        for p in pages:
            expected = 403 if p in ("/articles/new", "/users") else 200
            assert rc.get(p).status_code == expected, p
    assert client.get("/articles/999").status_code == 404
    assert client.get("/api/articles/999").json()["error"] == "no article 999"


def test_console_every_api_route_is_documented():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Review console"):]
    for r in ROUTES:
        if r.path.startswith("/static"):
            continue
        path = "/api" + re.sub(r"\{(\w+)(:int)?\}", r"{\1}", r.path)
        assert path in section, f"{path} is not in the README's Review console section"


def test_console_migrations_are_versioned_and_idempotent(tmp_path):
    from claims.console.db import MIGRATIONS, Database
    db = Database(tmp_path / "m.db")
    assert db.migrate() == [v for v, _, _ in MIGRATIONS]
    assert db.migrate() == []
    assert db.schema_version() == MIGRATIONS[-1][0]
    assert db.conn().value("PRAGMA journal_mode") == "wal"


# -- jobs: leases and retries ----------------------------------------------------------------------

def test_console_job_of_a_dead_runner_runs_again_when_its_lease_ends(tmp_path):
    """A killed ``claims import --analyze`` leaves its job running: the server takes it once the
    lease has run out, and not before (a live runner's job is never run twice)."""
    from claims.console import importer
    from claims.console.jobs import JobRunner
    app = make_console(tmp_path)
    db = app.state.db
    rec = importer.Record(ARTICLE, {"title": "t", "ext_id": "x"})
    job = db.apply(importer.store_records, [rec], "cli").job_id
    far, past = "2999-01-01T00:00:00.000Z", "2000-01-01T00:00:00.000Z"
    db.apply(lambda c: c.run("UPDATE jobs SET status = 'running', lease_owner = 'cli:1', lease_until = ?", (far,)))
    runner = JobRunner(db, StandInAnalyzer)
    assert runner.run_next() is False  # a live lease: someone else is running it
    db.apply(lambda c: c.run("UPDATE jobs SET lease_until = ?", (past,)))
    assert runner.run_next() is True
    row = db.conn().one("SELECT status, done, total FROM jobs WHERE id = ?", (job,))
    assert row["status"] == "done" and row["done"] == row["total"] == 1
    assert db.conn().value("SELECT analysis FROM articles") == "done"


def test_console_server_start_leaves_a_live_job_alone(tmp_path):
    from claims.console import importer
    app = make_console(tmp_path)
    db = app.state.db
    db.apply(importer.store_records, [importer.Record(ARTICLE, {"title": "t"})], "cli")
    db.apply(lambda c: c.run("UPDATE jobs SET status = 'running', lease_owner = 'cli:1', "
                             "lease_until = '2999-01-01T00:00:00.000Z'"))
    with TestClient(app) as c:
        login(c, "admin")
        assert not app.state.jobs.drain(0.5)
        job = c.get("/api/jobs/1").json()
        assert job["status"] == "running" and job["lease_owner"] == "cli:1" and not job["stale"]
        assert c.post("/api/jobs/1/retry").status_code == 400  # it is alive


def test_console_admin_retries_a_failed_job(tmp_path):
    analyzer = StandInAnalyzer(fail_on="BREAK")
    app = make_console(tmp_path, analyzer)
    with TestClient(app) as c:
        login(c, "admin")
        r = c.post("/api/articles", json={"text": "BREAK: Kerry said yes."})
        assert app.state.jobs.drain(20)
        jid, aid = r.json()["job"], r.json()["articles"][0]
        db = app.state.db
        db.apply(lambda x: x.run("UPDATE jobs SET status = 'failed', error = 'boom' WHERE id = ?", (jid,)))
        assert c.get(f"/jobs/{jid}").text.count("Retry") == 1
        analyzer.fail_on = "never"
        r = c.post(f"/api/jobs/{jid}/retry")
        assert r.status_code == 202, r.text
        assert app.state.jobs.drain(20)
        assert c.get(f"/api/jobs/{jid}").json()["status"] == "done"
        assert c.get(f"/api/articles/{aid}").json()["analysis"] == "done"
        assert any(e["action"] == "retry" for e in c.get("/api/audit", params={"entity": "job"}).json()["entries"])
    with TestClient(app) as rc:
        login(rc, "rita")
        assert rc.post(f"/api/jobs/{jid}/retry").status_code == 403


# -- edits never overwrite silently ----------------------------------------------------------------

def test_console_dispute_edit_needs_its_version_merges_and_audits_every_field(app, client):
    r = client.post("/api/disputes", json={"id": "talks", "title": "Talks work", "proposition": "The talks work.",
                                           "description": "Whether talks help.", "aliases": ["diplomacy"]})
    assert r.status_code == 201, r.text
    assert client.post("/api/disputes/talks", json={"proposition": "The talks fail."}).status_code == 400
    r = client.post("/api/disputes/talks", json={"proposition": "The talks succeed.", "version": 1})
    assert r.status_code == 200, r.text
    d = client.get("/api/disputes/talks").json()
    assert (d["title"], d["description"], d["aliases"], d["version"]) == (
        "Talks work", "Whether talks help.", ["diplomacy"], 2)
    # another admin's edit on the old version is refused, not merged over
    assert client.post("/api/disputes/talks", json={"title": "Other", "version": 1}).status_code == 409
    # the HTML form keeps (and can change) the aliases
    csrf = client.headers["X-CSRF-Token"]
    form = client.get("/disputes/talks").text
    assert 'name="aliases"' in form and "diplomacy" in form
    r = client.post("/disputes/talks", data={"csrf_token": csrf, "version": "2", "title": "Talks work",
                                             "proposition": "The talks succeed.", "description": "Whether talks help.",
                                             "aliases": "diplomacy, negotiations"}, headers={"X-CSRF-Token": ""},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert client.get("/api/disputes/talks").json()["aliases"] == ["diplomacy", "negotiations"]
    entries = client.get("/api/audit", params={"entity": "dispute", "entity_id": "talks"}).json()["entries"]
    fields = {ch["field"] for e in entries for ch in e["changes"]}
    assert {"proposition", "aliases", "version"} <= fields
    latest = entries[0]["changes"]
    assert {"field": "aliases", "before": ["diplomacy"], "after": ["diplomacy", "negotiations"]} in latest


def test_console_article_status_needs_its_version(app, client):
    art = add_article(client, app)
    r = client.post(f"/api/articles/{art['id']}/status", json={"status": "in_review"})
    assert r.status_code == 400 and "version" in r.json()["error"]
    r = client.post(f"/api/articles/{art['id']}/status", json={"status": "in_review", "version": art["version"]})
    assert r.status_code == 200
    r = client.post(f"/api/articles/{art['id']}/status", json={"status": "to_review", "version": art["version"]})
    assert r.status_code == 409
