"""The console in a real browser: Playwright driving Debian's Chromium against a live server.

Log in, import the seed article, review a claim with the keyboard, change a span by selecting
text, add a missed claim, export. A screenshot of the article view is kept in test-artifacts/.
Skipped only when /usr/bin/chromium is absent (CI installs it in .ci/run).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from console_support import PASSWORD, StandInAnalyzer, make_console

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CLAIMS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.system,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                 reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    import uvicorn
    app = make_console(tmp_path, StandInAnalyzer())
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.time() + 15
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the console did not start"
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    t.join(10)


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        pg = ctx.new_page()
        pg.set_default_timeout(120_000)  # a busy CI machine; a working page answers in well under a second
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()


def select_text(page, needle: str, occurrence: int = 0) -> None:
    """Select ``needle`` in the article text the way a mouse drag does: a DOM Range."""
    page.evaluate("""([needle, occurrence]) => {
        const root = document.getElementById('text');
        const full = root.textContent;
        let at = -1;
        for (let i = 0; i <= occurrence; i++) at = full.indexOf(needle, at + 1);
        if (at < 0) throw new Error('not in the article: ' + needle);
        const end = at + needle.length;
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        let pos = 0, node, range = document.createRange(), started = false;
        while ((node = walker.nextNode())) {
            const len = node.data.length;
            if (!started && at < pos + len) { range.setStart(node, at - pos); started = true; }
            if (started && end <= pos + len) { range.setEnd(node, end - pos); break; }
            pos += len;
        }
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
    }""", [needle, occurrence])


def test_console_review_in_browser(server, page, tmp_path):
    base, app = server
    seed = ROOT / "seeds" / "000_e4a0bdb19bff5182.txt"
    text = seed.read_text(encoding="utf-8")

    # nothing but the login page without a session
    page.goto(base + "/articles")
    assert "/login" in page.url
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/articles**")

    # import the seed article as a .txt upload
    page.goto(base + "/articles/new")
    page.set_input_files("input[name=files]", str(seed))
    page.click("text=Add and analyse")
    page.wait_for_url("**/articles/1**")
    assert app.state.jobs.drain(30)
    page.reload()
    page.wait_for_selector("#claims .claim")
    cards = page.locator("#claims .claim")
    n_claims = cards.count()
    assert n_claims >= 3

    # keyboard review: j/k move, a accepts (and moves on), r rejects, 2 sets "against" on the
    # active dispute
    page.keyboard.press("j")
    assert "sel" in cards.nth(1).get_attribute("class")
    # typed faster than the server answers: the keys still apply in order
    page.keyboard.press("a")
    page.keyboard.press("k")
    page.keyboard.press("2")
    page.wait_for_selector("#claims .claim:nth-child(2) .badge.st-accepted")
    # (a selector, not wait_for_function: the page's CSP forbids the eval that would need)
    page.wait_for_selector("#claims .claim:nth-child(2) tr.active .label .lab-against")
    page.keyboard.press("j")
    page.keyboard.press("r")
    page.wait_for_selector("#claims .claim:nth-child(3) .badge.st-rejected")
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("?")

    # change a span by selecting text: c1's content becomes a longer stretch of the sentence
    for _ in range(3):
        page.keyboard.press("k")
    first = cards.nth(0)
    assert "sel" in first.get_attribute("class")
    key = first.get_attribute("data-key")
    db_id = first.get_attribute("data-id")
    page.keyboard.press("e")
    assert page.is_visible("#editor")
    # the stand-in found "Moscow denies the allegations": narrow its content to "allegations"
    start = text.index("Moscow denies the allegations") + len("Moscow denies the ")
    select_text(page, "allegations", occurrence=text[:start].count("allegations"))
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    page.wait_for_selector(f"#{key} .badge.st-edited")
    claim = json.loads(page.evaluate(f"fetch('/api/claims/{db_id}').then(r => r.text())"))
    assert claim["content"] == [{"start": start, "end": start + len("allegations"), "text": "allegations"}]
    assert claim["review"]["status"] == "edited"

    # add a claim the model missed: select its content, press n, name the speaker, save
    missed = "the world benefits when powerful nations"
    if missed.lower() not in text.lower():
        missed = text.split("\n")[0][:30]
    idx = text.lower().index(missed.lower())
    select_text(page, text[idx:idx + len(missed)])
    page.keyboard.press("n")
    page.fill("#ed-speaker", "John Kerry")
    page.click("#editor button[type=submit]")
    page.wait_for_load_state("load")
    page.wait_for_selector("#claims .claim.st-added")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "article-view.png"))

    # export: the downloads hold what was reviewed
    page.goto(base + "/export")
    with page.expect_download() as dl:
        page.click("text=results.jsonl")
    lines = Path(dl.value.path()).read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    statuses = {r["status"] for r in record["review"]["claims"].values()}
    assert {"accepted", "edited", "added"} <= statuses
    with page.expect_download() as dl:
        page.click("text=claims.csv")
    assert "John Kerry" in Path(dl.value.path()).read_text(encoding="utf-8")
    assert page.errors == [], page.errors


def _login(page, base: str, name: str = "admin") -> None:
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/articles**")


def _add(app, text: str, title: str = "Talks") -> int:
    from claims.console import importer
    rep = app.state.db.apply(importer.store_records, [importer.Record(text, {"title": title})], "admin")
    app.state.jobs.wake()
    assert app.state.jobs.drain(30)
    return rep.articles[0]


def _no_overlap_or_overflow(page) -> dict:
    return page.evaluate("""() => {
        const doc = document.scrollingElement;
        const text = document.getElementById('text');
        const t = text ? text.getBoundingClientRect() : null;
        const cards = [...document.querySelectorAll('#claims .claim')].map(c => c.getBoundingClientRect());
        return {overflow: doc.scrollWidth - window.innerWidth, textWidth: t ? t.width : null,
                overlaps: t ? cards.filter(c => c.top < t.bottom - 1 && c.bottom > t.top + 1).length : 0,
                cardWidths: cards.map(c => c.width)};
    }""")


def test_console_article_and_queue_usable_at_400px(server, page):
    base, app = server
    seed = (ROOT / "seeds" / "000_e4a0bdb19bff5182.txt").read_text(encoding="utf-8")
    aid = _add(app, seed, "A long title that has to wrap on a phone screen without pushing anything off it")
    page.set_viewport_size({"width": 400, "height": 800})
    _login(page, base)
    page.goto(base + f"/articles/{aid}")
    page.wait_for_selector("#claims .claim")
    got = _no_overlap_or_overflow(page)
    assert got["overflow"] <= 1, got                 # nothing wider than the screen
    assert got["textWidth"] >= 340, got              # the text is a column of reading width, not one word
    assert got["overlaps"] == 0, got                 # the claim cards sit below the text, not over it
    assert all(w >= 340 for w in got["cardWidths"]), got
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.wait_for_selector("#claims .claim .badge.st-accepted")
    page.goto(base + "/articles?status=all")
    got = _no_overlap_or_overflow(page)
    assert got["overflow"] <= 1, got
    link = page.locator("table.queue a", has_text="A long title")
    assert link.bounding_box()["width"] <= 400
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "article-view-400px.png"), full_page=False)
    assert page.errors == [], page.errors


def test_console_confirmed_stances_and_probabilities_in_browser(server, page):
    base, app = server
    aid = _add(app, "Lavrov said Russia keeps the ceasefire in Ukraine.\nKerry said Russia is failing the ceasefire.\n")
    _login(page, base)
    page.goto(base + f"/articles/{aid}")
    page.wait_for_selector("#claims .claim")
    first = page.locator("#claims .claim").nth(0)
    assert first.locator(".stances .p").count() == 3  # a probability beside every label
    assert first.locator(".stances .guess").count() == 3
    assert "stances stay model guesses" in first.locator("[data-act=accept]").get_attribute("title")
    page.keyboard.press("a")  # accept the claim: its stances stay guesses
    page.wait_for_selector("#claims .claim:nth-child(1) .badge.st-accepted")
    assert first.locator(".stances .guess").count() == 3
    second = page.locator("#claims .claim").nth(1)
    second.locator("[data-act=accept-stances]").click()
    page.wait_for_selector("#claims .claim:nth-child(2) .stances .by")
    assert second.locator(".stances .guess").count() == 0 and second.locator(".stances .p").count() == 3
    page.goto(base + "/speakers")
    lavrov = page.locator("tr", has_text="Lavrov")
    assert "not confirmed" in lavrov.inner_text() and "model guess" in lavrov.inner_text()
    kerry = page.locator("tr", has_text="Kerry")
    assert "confirmed" in kerry.inner_text() and "model guess" not in kerry.inner_text()
    assert page.errors == [], page.errors


def test_console_disputes_file_upload_and_open_article_in_browser(server, page, tmp_path):
    base, app = server
    app.state.db.apply(lambda c: c.run("DELETE FROM disputes"))
    aid = _add(app, "Kerry said the truce holds.\n")
    _login(page, base)
    page.goto(base + f"/articles/{aid}")
    assert page.is_visible("text=No disputes yet")
    f = tmp_path / "desk.toml"
    f.write_text('[[dispute]]\nid = "truce"\ntitle = "Truce holds"\nproposition = "The truce holds."\n',
                 encoding="utf-8")
    page.goto(base + "/disputes")
    page.set_input_files("form[action='/disputes/import'] input[name=file]", str(f))
    page.click("form[action='/disputes/import'] button[type=submit]")
    page.wait_for_url(base + "/disputes")
    assert page.is_visible("text=Truce holds")
    # the article is now the admin's; rita sees so in the queue
    page.goto(base + "/articles?status=all")
    assert page.is_visible("text=open by admin")
    assert page.errors == [], page.errors
