"""What reviewers see: confirmed stances apart from model guesses (with the model's probability
next to every label), disputes loaded from a file, and who has an article open."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from claims.console import store
from console_support import login, make_console

TEXT = "Lavrov said Russia keeps the ceasefire in Ukraine.\nKerry said Russia is failing the ceasefire.\n"
DISPUTES = """
[[dispute]]
id = "ceasefire"
title = "Ceasefire holds"
proposition = "The ceasefire in Ukraine is holding."
aliases = ["truce"]

[[dispute]]
id = "sanctions"
title = "Sanctions work"
proposition = "Sanctions on Russia change its policy."
"""


@pytest.fixture()
def app(tmp_path):
    return make_console(tmp_path)


def add(client, app, text=TEXT) -> dict:
    r = client.post("/api/articles", json={"title": "Truce", "text": text})
    assert r.status_code == 202, r.text
    assert app.state.jobs.drain(20)
    return client.get(f"/api/articles/{r.json()['articles'][0]}", params={"peek": "1"}).json()


# -- 11. confirmed stances apart from model guesses -----------------------------------------------

def test_console_accept_confirms_the_claim_not_its_model_stances(app):
    with TestClient(app) as c:
        login(c, "admin")
        art = add(c, app)
        first, second = art["claims"]
        # accepting a claim leaves its stances model guesses
        r = c.post(f"/api/claims/{first['db_id']}", json={"version": 1, "action": "accept"})
        assert all(st["reviewed_by"] is None for st in r.json()["stance"].values())
        m = c.get("/api/speakers").json()
        cell = next(s for s in m["speakers"] if s["speaker"] == "Lavrov")["cells"]["ukraine-ceasefire"]
        assert cell["confirmed"] == 0 and cell["position"] is None
        assert cell["model"] == 1 and cell["model_position"] == first["stance"]["ukraine-ceasefire"]["label"]
        # ... unless the reviewer says so
        r = c.post(f"/api/claims/{second['db_id']}", json={"version": 1, "action": "accept", "confirm_stances": True})
        assert all(st["reviewed_by"] == "admin" for st in r.json()["stance"].values())
        cell = next(s for s in c.get("/api/speakers").json()["speakers"]
                    if s["speaker"] == "Kerry")["cells"]["ukraine-ceasefire"]
        assert cell["confirmed"] == 1 and cell["model"] == 0 and cell["position"] is not None
        html = c.get("/speakers").text
        assert "model guess" in html and "confirmed" in html
        page = c.get(f"/articles/{art['id']}").text
        assert "stances stay model guesses" in page


def test_console_every_stance_label_shows_its_probability(app):
    with TestClient(app) as c:
        login(c, "admin")
        art = add(c, app)
        cl = art["claims"][0]
        c.post(f"/api/claims/{cl['db_id']}", json={"version": 1, "stance": {"ukraine-ceasefire": "neutral"}})
        html = c.get(f"/articles/{art['id']}").text
        card = html[html.index(f'id="{cl["id"]}"'):]
        card = card[:card.index("</section>")]
        cells = re.findall(r'<td class="label">(.*?)</td>', card, re.S)
        assert len(cells) == 3 and all(re.search(r'class="p"[^>]*>\d+%<', x) for x in cells), cells
        # a reviewer's label keeps the model's probability of that label beside it
        neutral = next(x for x in cells if "lab-neutral" in x)
        assert "✓ admin" in neutral and ">10%<" in neutral
        ev = c.get("/api/speakers/evidence", params={"speaker": cl["speaker"]["name"],
                                                     "dispute": "ukraine-ceasefire"}).json()
        assert ev["claims"] == [] or ev["claims"][0]["probability"] == pytest.approx(0.1)


# -- 13. disputes from a file ---------------------------------------------------------------------

def test_console_new_database_has_no_disputes_and_says_how_to_add_them(tmp_path):
    app = make_console(tmp_path, disputes=None)
    with TestClient(app) as c:
        login(c, "admin")
        assert c.get("/api/disputes").json()["disputes"] == []
        art = add(c, app)
        assert art["disputes"] == [] and all(cl["stance"] == {} for cl in art["claims"])
        page = c.get(f"/articles/{art['id']}").text
        assert "No disputes yet" in page and "claims disputes import" in page


def test_console_admin_uploads_a_disputes_file(tmp_path):
    app = make_console(tmp_path, disputes=None)
    with TestClient(app) as c:
        login(c, "rita")
        files = {"file": ("d.toml", DISPUTES.encode(), "application/toml")}
        assert c.post("/api/disputes/import", files=files).status_code == 403
    with TestClient(app) as c:
        login(c, "admin")
        r = c.post("/api/disputes/import", files={"file": ("d.toml", DISPUTES.encode(), "application/toml")})
        assert r.status_code == 200, r.text
        assert r.json()["added"] == ["ceasefire", "sanctions"]
        again = c.post("/api/disputes/import", files={"file": ("d.toml", DISPUTES.replace(
            "change its policy", "changed its policy").encode(), "application/toml")}).json()
        assert again == {"added": [], "updated": ["sanctions"], "unchanged": ["ceasefire"]}
        assert c.get("/api/disputes/sanctions").json()["version"] == 2
        assert c.get("/api/disputes/ceasefire").json()["aliases"] == ["truce"]
        bad = c.post("/api/disputes/import", files={"file": ("d.toml", b"[[dispute]]\nid = 'Bad Id'\nproposition = 'p'\n", "text/plain")})
        assert bad.status_code == 400 and "Bad Id" in bad.json()["error"]
        assert 'action="/disputes/import"' in c.get("/disputes").text


def test_console_cli_imports_disputes(tmp_path, capsys):
    from claims.cli import main
    from claims.console.db import Database
    f = tmp_path / "d.toml"
    f.write_text(DISPUTES, encoding="utf-8")
    db = str(tmp_path / "c.db")
    assert main(["disputes", "import", str(f), "--db", db]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["disputes", "list", "--db", db]) == 0
    assert "ceasefire\tCeasefire holds" in capsys.readouterr().out
    assert {r["id"] for r in Database(db).conn().all("SELECT id FROM disputes")} == {"ceasefire", "sanctions"}
    f.write_text("[[dispute]]\nid = 'x'\n", encoding="utf-8")
    assert main(["disputes", "import", str(f), "--db", db]) == 2
    assert "missing 'proposition'" in capsys.readouterr().err


def test_console_txt_upload_takes_its_title_from_the_first_line(app):
    with TestClient(app) as c:
        login(c, "admin")
        r = c.post("/api/articles", files={"files": ("upload-7.txt", b"\n  Talks in Vienna  \n\nKerry said yes.\n",
                                                     "text/plain")})
        art = c.get(f"/api/articles/{r.json()['articles'][0]}").json()
        assert art["title"] == "Talks in Vienna" and art["ext_id"] == "upload-7"


# -- 14. who has an article open --------------------------------------------------------------------

def test_console_an_open_article_is_shown_as_theirs_and_mine_filters(app):
    with TestClient(app) as admin, TestClient(app) as rita:
        login(admin, "admin")
        login(rita, "rita")
        a, b = add(admin, app), add(admin, app)
        assert a["open_by"] is None  # peeking takes nothing
        assert rita.get(f"/api/articles/{a['id']}").json()["open_by"]["name"] == "rita"
        assert admin.get(f"/api/articles/{b['id']}").json()["open_by"]["name"] == "admin"
        # someone else opening it sees it is rita's; the lock stays hers
        page = admin.get(f"/articles/{a['id']}").text
        assert "rita has this article open" in page
        assert admin.get(f"/api/articles/{a['id']}").json()["open_by"]["name"] == "rita"
        queue = admin.get("/api/articles", params={"status": ""}).json()["articles"]
        assert {x["id"]: (x["open_by"] or {}).get("name") for x in queue} == {a["id"]: "rita", b["id"]: "admin"}
        assert "open by rita" in admin.get("/articles?status=all").text
        assert [x["id"] for x in rita.get("/api/articles", params={"status": "", "mine": "1"}).json()["articles"]] \
            == [a["id"]]
        assert [x["id"] for x in admin.get("/api/articles", params={"status": "", "mine": "1"}).json()["articles"]] \
            == [b["id"]]
        # an old lock lapses
        app.state.db.apply(lambda c: c.run("UPDATE articles SET opened_at = '2000-01-01T00:00:00.000Z'"))
        assert admin.get(f"/api/articles/{a['id']}").json()["open_by"]["name"] == "admin"
        assert store.OPEN_MINUTES >= 10
