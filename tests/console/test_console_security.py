"""The console's defences, tried as an attacker tries them: oversized and chunked bodies, names
that differ only by spaces, simultaneous guesses, lockouts aimed at someone else, weak passwords,
idle sessions, file permissions, what a reviewer may read, and what an export links to.

Each test drives the app over ASGI (httpx, no port); addresses are set per client.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time

import httpx
import pytest
from starlette.testclient import TestClient

from claims.console import http as console_http
from claims.console import auth
from console_support import PASSWORD, login, make_console


@pytest.fixture()
def app(tmp_path):
    return make_console(tmp_path, users=(("admin", "admin"), ("rita", "reviewer"), ("bob", "reviewer")))


def client_at(app, addr: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(addr, 40000)),
                             base_url="http://testserver")


async def try_login(c: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    token = (await c.get("/api/login")).json()["csrf_token"]
    return await c.post("/api/login", json={"name": name, "password": password}, headers={"X-CSRF-Token": token})


def run(coro):
    return asyncio.run(coro)


# -- 1. request bodies are capped while read ------------------------------------------------------

def _chunks(counter: list, size: int = 1 << 20, n: int = 200, head: bytes = b""):
    async def gen():
        if head:
            yield head
        for _ in range(n):
            counter.append(1)
            yield b"x" * size
    return gen()


@pytest.mark.parametrize("path", ["/api/login", "/login"])
def test_console_chunked_login_body_is_capped_while_read(app, path):
    async def main():
        async with client_at(app, "10.0.0.1") as c:
            token = (await c.get("/api/login")).json()["csrf_token"]
            sent: list = []
            r = await c.post(path, content=_chunks(sent), headers={
                "content-type": "application/json", "X-CSRF-Token": token})
            return r, sent
    r, sent = run(main())
    assert r.status_code == 413
    assert len(sent) <= 2  # 1 MiB chunks: stopped at the first one past the 16 KiB cap, not 200 MiB


def test_console_login_without_its_cookie_reads_no_body(app):
    async def main():
        async with client_at(app, "10.0.0.2") as c:
            sent: list = []
            r = await c.post("/api/login", content=_chunks(sent), headers={"content-type": "application/json"})
            return r, sent
    r, sent = run(main())
    assert r.status_code == 403 and len(sent) <= 1


def test_console_chunked_bodies_are_capped_for_sessions_too(app, monkeypatch):
    monkeypatch.setattr(console_http, "MAX_UPLOAD", 3 << 20)
    async def main():
        async with client_at(app, "10.0.0.3") as c:
            r = await try_login(c, "admin", PASSWORD)
            c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            out = []
            for path, ctype in (("/api/articles", "application/json"),
                                ("/api/articles", "multipart/form-data; boundary=b"),
                                ("/api/claims/1", "application/json"),
                                ("/articles", "application/x-www-form-urlencoded")):
                sent: list = []
                head = (b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
                        b"Content-Type: text/plain\r\n\r\n") if "multipart" in ctype else b""
                r = await c.post(path, content=_chunks(sent, head=head), headers={"content-type": ctype})
                out.append((path, r.status_code, len(sent)))
            # a wrong CSRF header: refused before the body is read
            sent = []
            r = await c.post("/api/articles", content=_chunks(sent),
                             headers={"content-type": "application/json", "X-CSRF-Token": "forged"})
            out.append(("forged", r.status_code, len(sent)))
            return out
    results = run(main())
    assert results[0][1] == 413 and results[0][2] <= 4, results   # articles: the upload cap
    assert results[1][1] == 413 and results[1][2] <= 4, results
    assert results[2][1] == 413 and results[2][2] <= 2, results   # an edit: 1 MiB
    assert results[3][1] in (400, 403, 413) and results[3][2] <= 2, results  # a browser form without its token
    assert results[4][1] == 403 and results[4][2] <= 1, results


def test_console_declared_length_over_the_cap_is_refused_at_once(app):
    with TestClient(app) as c:
        r = c.post("/api/login", content=b"x" * (console_http.MAX_LOGIN_BODY + 1),
                   headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_console_multipart_fields_are_bounded(app):
    with TestClient(app) as c:
        login(c, "admin")
        fields = {f"f{i}": "x" for i in range(console_http.MAX_FORM_FIELDS + 5)}
        r = c.post("/api/articles", data=fields, files={"files": ("a.txt", b"Kerry said yes.", "text/plain")})
        assert r.status_code == 400, r.text


# -- 2. the lockout and the lookup see the same name -------------------------------------------------

@pytest.mark.parametrize("variant", [" bob", "bob ", "\tbob", "\u3000bob", "ｂｏｂ"])
def test_console_lockout_holds_for_names_typed_differently(app, variant):
    async def main():
        async with client_at(app, "10.0.1.1") as c:
            for _ in range(auth.MAX_FAILURES):
                assert (await try_login(c, "bob", "wrong password")).status_code == 401
            return await try_login(c, variant, PASSWORD)
    assert run(main()).status_code == 429


def test_console_login_name_is_trimmed_for_the_lookup(app):
    async def main():
        async with client_at(app, "10.0.1.2") as c:
            return await try_login(c, " bob\u3000", PASSWORD)
    r = run(main())
    assert r.status_code == 200 and r.json()["user"]["name"] == "bob"


# -- 3. simultaneous guesses are counted before they are checked --------------------------------------

def test_console_simultaneous_guesses_are_limited_and_checks_bounded(app, monkeypatch):
    running, peak = [0], [0]
    real = auth.verify_password

    def counting(hashed, password):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.02)
            return real(hashed, password)
        finally:
            running[0] -= 1
    monkeypatch.setattr(auth, "verify_password", counting)

    async def main():
        async with client_at(app, "10.0.2.1") as c:
            token = (await c.get("/api/login")).json()["csrf_token"]
            tries = [c.post("/api/login", json={"name": "bob", "password": f"guess {i}"},
                            headers={"X-CSRF-Token": token}) for i in range(25)]
            return [r.status_code for r in await asyncio.gather(*tries)]
    codes = run(main())
    assert codes.count(401) == auth.MAX_FAILURES and codes.count(429) == 25 - auth.MAX_FAILURES
    assert peak[0] <= console_http.PASSWORD_CHECKS


# -- 4. nobody can lock someone else out ---------------------------------------------------------------

def test_console_failures_lock_only_their_own_name_and_address(app):
    async def main():
        async with client_at(app, "10.0.3.1") as attacker, client_at(app, "10.0.3.2") as office:
            for _ in range(auth.MAX_FAILURES + 2):
                await try_login(attacker, "bob", "wrong password")
            locked = await try_login(attacker, "bob", PASSWORD)
            bob_elsewhere = await try_login(office, "bob", PASSWORD)
            rita_same_address = await try_login(attacker, "rita", PASSWORD)
            return locked.status_code, bob_elsewhere.status_code, rita_same_address.status_code
    assert run(main()) == (429, 200, 200)


def test_console_guessing_one_name_from_many_addresses_is_slowed_not_locked(app, monkeypatch):
    monkeypatch.setattr(auth, "NAME_CEILING", 4)
    monkeypatch.setattr(auth, "SLOW_STEP", 0.4)

    async def main():
        for i in range(6):
            async with client_at(app, f"10.0.4.{i}") as c:
                assert (await try_login(c, "bob", "wrong password")).status_code == 401
        async with client_at(app, "10.0.4.200") as c:
            t0 = time.perf_counter()
            r = await try_login(c, "bob", PASSWORD)
            return r.status_code, time.perf_counter() - t0
    status, took = run(main())
    assert status == 200 and took >= 0.4 * 3


# -- 5. passwords ------------------------------------------------------------------------------------

def test_console_own_password_change_needs_the_current_one(app):
    with TestClient(app) as c:
        login(c, "rita")
        assert c.post("/api/users/rita/password", json={"password": "a new long one"}).status_code == 400
        r = c.post("/api/users/rita/password", json={"password": "a new long one", "current_password": "nope"})
        assert r.status_code == 400 and "current password" in r.json()["error"]
        assert c.post("/api/users/bob/password", json={"password": "a new long one",
                                                       "current_password": PASSWORD}).status_code == 403
        r = c.post("/api/users/rita/password", json={"password": "a new long one", "current_password": PASSWORD})
        assert r.status_code == 200
    with TestClient(app) as c:
        login(c, "rita", "a new long one")


def test_console_weak_passwords_are_refused(app):
    with TestClient(app) as c:
        login(c, "admin")
        for weak in ("password", "password1", "12345678", "qwertyuiop", "newcomer", "NEWCOMER", "aaaaaaaaaa"):
            r = c.post("/api/users", json={"name": "newcomer", "role": "reviewer", "password": weak})
            assert r.status_code == 400, weak
        for weak in ("password", "Passw0rd", "iloveyou"):
            assert c.post("/api/users/bob/password", json={"password": weak}).status_code == 400, weak
        r = c.post("/api/users", json={"name": "newcomer", "role": "reviewer", "password": "newcomer123"})
        assert r.status_code == 400 and "user name" in r.json()["error"]


# -- 7. what no column should get answers 400 -------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"text": "Kerry said yes.", "title": NaN}',
    b'{"text": "Kerry said yes.", "title": "x", "n": Infinity}',
    b'{"text": "Kerry said yes.", "n": 1e999}',
    b'{"text": "Kerry said yes.", "n": 123456789012345678901234567890}',
    b'{"text": "Kerry said \\ud800 yes."}',
    b'{"text": "Kerry said \\u0000 yes."}',
])
def test_console_hostile_json_answers_400(app, body):
    with TestClient(app) as c:
        login(c, "admin")
        r = c.post("/api/articles", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert c.get("/api/articles", params={"status": ""}).json()["total"] == 0
        assert c.get("/api/articles", params={"speaker": "a\x00b"}).status_code == 400


# -- 10. sessions, the database file, what a reviewer reads, exports ---------------------------------

def test_console_idle_session_ends_and_expired_rows_are_purged(app):
    db = app.state.db
    with TestClient(app) as c:
        login(c, "rita")
        assert c.get("/api/articles").status_code == 200
        db.apply(lambda x: x.run("UPDATE sessions SET last_seen = '2000-01-01T00:00:00.000Z'"))
        assert c.get("/api/articles").status_code == 401
    db.apply(lambda x: x.run("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000Z'"))
    with TestClient(app) as c:
        login(c, "admin")
    assert db.conn().value("SELECT COUNT(*) AS n FROM sessions") == 1


def test_console_session_use_is_recorded(app, monkeypatch):
    monkeypatch.setattr(auth, "TOUCH_SECONDS", 0)
    db = app.state.db
    with TestClient(app) as c:
        login(c, "rita")
        db.apply(lambda x: x.run("UPDATE sessions SET last_seen = ?", (auth._since(auth.dt.timedelta(hours=1)),)))
        assert c.get("/api/articles").status_code == 200
    assert db.conn().value("SELECT last_seen FROM sessions") > auth._since(auth.dt.timedelta(minutes=1))


def test_console_database_file_is_private(tmp_path):
    from claims.console.db import Database
    db = Database(tmp_path / "private.db")
    db.migrate()
    for p in tmp_path.iterdir():
        if p.name.startswith("private.db"):
            assert stat.S_IMODE(os.stat(p).st_mode) & 0o077 == 0, p.name


def test_console_reviewers_cannot_list_accounts_through_the_audit(app):
    with TestClient(app) as c:
        login(c, "rita")
        assert c.get("/api/audit", params={"entity": "user"}).json()["entries"] == []
        assert all(e["entity"] != "user" for e in c.get("/api/audit").json()["entries"])
    with TestClient(app) as c:
        login(c, "admin")
        assert c.get("/api/audit", params={"entity": "user"}).json()["entries"]


def test_console_claimreview_links_only_to_the_web_and_the_configured_address(tmp_path):
    from claims.console.app import create_app
    from claims.console.db import Database
    from console_support import StandInAnalyzer
    db = Database(tmp_path / "c.db")
    app = create_app(db, analyzer_factory=StandInAnalyzer, public_url="https://review.example.org/desk")
    db.apply(auth.add_user, "admin", "admin", PASSWORD)
    with TestClient(app, base_url="http://evil.example") as c:
        login(c, "admin")
        for url in ("javascript:alert(1)", "https://news.example/a"):
            r = c.post("/api/articles", json={"text": "Kerry said the talks went well.", "url": url})
            assert app.state.jobs.drain(20)
            aid = r.json()["articles"][0]
            cl = c.get(f"/api/articles/{aid}").json()["claims"][0]
            c.post(f"/api/claims/{cl['db_id']}", json={"version": 1, "action": "accept", "rating": "true"})
        graph = c.get("/api/export/claimreview.jsonld").json()["@graph"]
    appearances = [g["itemReviewed"]["appearance"].get("url") for g in graph]
    assert appearances == [None, "https://news.example/a"]
    assert all(g["url"].startswith("https://review.example.org/desk/articles/") for g in graph)
    assert "evil.example" not in str(graph)
    with pytest.raises(ValueError):
        create_app(db, public_url="javascript:alert(1)")
