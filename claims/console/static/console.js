// claims review console: keyboard-first review of an article's claims, plus small helpers for
// every page. Talks to the JSON twins under /api with the session's CSRF token. Never builds HTML
// from data: text goes in through textContent only.
(function () {
  "use strict";

  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  // the stance labels in key order (keys 1, 2, ...), from the page (claims/labels.py)
  const LABELS = ((document.querySelector('meta[name="stance-labels"]') || {}).content || "").split(" ");

  // -- every page ------------------------------------------------------------------------------

  const help = $("#help");
  function toggleHelp() { if (help) help.hidden = !help.hidden; }
  $$("[data-help]").forEach((b) => b.addEventListener("click", toggleHelp));
  $$("form[data-confirm]").forEach((f) => f.addEventListener("submit", (ev) => {
    if (!window.confirm(f.dataset.confirm)) ev.preventDefault();
  }));
  // pages showing a running job refresh themselves until it is done
  if ($('[data-poll-reload="yes"]')) setTimeout(() => window.location.reload(), 2000);

  let toastTimer = null;
  function toast(message, bad, withReload) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = message;
    t.classList.toggle("bad", !!bad);
    if (withReload) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Reload";
      b.addEventListener("click", () => window.location.reload());
      t.appendChild(b);
    }
    t.hidden = false;
    clearTimeout(toastTimer);
    if (!withReload) toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 6000 : 1800);
  }

  async function api(method, url, body) {
    const res = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try { data = await res.json(); } catch (e) { data = { error: res.statusText }; }
    if (!res.ok) {
      const err = new Error(data.error || res.statusText);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  function reportError(err) {
    if (err.status === 409) toast(err.message, true, true);
    else toast(err.message || String(err), true);
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.key === "?" && !typing(ev)) { toggleHelp(); ev.preventDefault(); }
    else if (ev.key === "Escape" && help && !help.hidden) { help.hidden = true; }
  });

  function typing(ev) {
    const t = ev.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  // -- the article view ------------------------------------------------------------------------

  const dataEl = $("#article-data");
  if (!dataEl) return;
  const article = JSON.parse(dataEl.textContent);
  const claimsByKey = new Map(article.claims.map((c) => [c.id, c]));
  const textEl = $("#text");
  const cards = () => $$("#claims .claim");
  const disputeSel = $("#active-dispute");
  const editor = $("#editor");
  let current = -1;
  let draft = null;   // the claim being edited: {key, mode, content, cue, source}

  function cardOf(key) { return document.getElementById(key); }

  function select(i, scroll) {
    const all = cards();
    if (!all.length) return;
    current = Math.max(0, Math.min(i, all.length - 1));
    all.forEach((c, n) => c.classList.toggle("sel", n === current));
    const card = all[current];
    const key = card.dataset.key;
    $$("#text .cur").forEach((s) => s.classList.remove("cur"));
    let first = null;
    $$("#text [data-c]").forEach((s) => {
      if (s.dataset.c.split(" ").includes(key)) { s.classList.add("cur"); first = first || s; }
    });
    if (scroll !== false) {
      card.scrollIntoView({ block: "nearest" });
      if (first) first.scrollIntoView({ block: "nearest" });
    }
    history.replaceState(null, "", "#" + key);
  }

  function selectedCard() { return cards()[current] || null; }

  function activeDispute() { return disputeSel ? disputeSel.value : null; }

  function markActiveDispute() {
    const d = activeDispute();
    $$(".claim .stances tr").forEach((tr) => tr.classList.toggle("active", tr.dataset.dispute === d));
  }
  if (disputeSel) disputeSel.addEventListener("change", markActiveDispute);
  markActiveDispute();

  function updateCard(card, claim) {
    const key = card.dataset.key;
    claimsByKey.set(key, claim);
    card.dataset.version = claim.review.version;
    card.className = card.className.replace(/\bst-\w+/g, "").trim() + " st-" + claim.review.status;
    const badge = $(".badge.st", card);
    badge.className = "badge st st-" + claim.review.status;
    badge.textContent = claim.review.status;
    for (const tr of $$(".stances tr", card)) {
      const st = claim.stance[tr.dataset.dispute];
      const cell = $(".label", tr);
      cell.textContent = "";
      const lab = document.createElement("span");
      if (st) {
        lab.className = "lab-" + st.label;
        lab.textContent = st.label;
        cell.appendChild(lab);
        if (st.scores && st.scores[st.label] != null) {
          const p = document.createElement("small");
          p.className = "p";
          p.title = "model probability of " + st.label;
          p.textContent = Math.round(100 * st.scores[st.label]) + "%";
          cell.append(" ", p);
        }
        const by = document.createElement("small");
        if (st.reviewed_by) {
          by.className = "by";
          by.title = "confirmed by a reviewer";
          by.textContent = "✓ " + st.reviewed_by;
        } else {
          by.className = "guess";
          by.title = "the model's guess: not confirmed";
          by.textContent = "model";
        }
        cell.append(" ", by);
      } else {
        lab.className = "none";
        lab.textContent = "—";
        cell.appendChild(lab);
      }
    }
    let by = $(".actions .by", card);
    if (!by) { by = document.createElement("small"); by.className = "by"; $(".actions", card).appendChild(by); }
    by.textContent = claim.review.by + ", " + (claim.review.at || "").slice(0, 19).replace("T", " ");
    const status = $("#article-status");
    if (status && status.textContent.trim() === "to review") status.textContent = "in review";
  }

  async function change(card, body, okMessage) {
    body.version = Number(card.dataset.version);
    try {
      const claim = await api("POST", "/api/claims/" + card.dataset.id, body);
      updateCard(card, claim);
      toast(okMessage);
      return claim;
    } catch (err) { reportError(err); return null; }
  }

  async function review(action) {
    const card = selectedCard();
    if (!card) return;
    const body = action === "accept-stances" ? { action: "accept", confirm_stances: true } : { action };
    const said = action === "accept-stances" ? " accepted with its stances" : " " + action + "ed";
    const done = await change(card, body, card.dataset.key + said);
    if (done) select(current + 1);
  }

  async function setStance(n) {
    const card = selectedCard();
    const d = activeDispute();
    if (!card || !d) return;
    const label = LABELS[n - 1];
    await change(card, { stance: { [d]: label } }, card.dataset.key + ": " + label + " on " + d);
  }

  // -- selections -> character offsets (code points, as the server counts) ---------------------

  function pointOffset(node, off) {
    if (node.nodeType === Node.TEXT_NODE) {
      const seg = node.parentElement.closest("[data-s]");
      if (!seg || !textEl.contains(seg)) return null;
      return Number(seg.dataset.s) + Array.from(node.data.slice(0, off)).length;
    }
    // an element boundary: before its off-th child, or at its end
    if (node === textEl || textEl.contains(node)) {
      const kids = node.childNodes;
      if (off < kids.length) {
        const seg = kids[off].nodeType === Node.ELEMENT_NODE ? kids[off].closest("[data-s]") || kids[off].querySelector("[data-s]") : null;
        if (seg) return Number(seg.dataset.s);
      }
      const segs = $$("[data-s]", node.closest("[data-s]") ? node.closest("[data-s]").parentNode : node);
      const last = node.closest("[data-s]") || segs[segs.length - 1];
      if (last) return Number(last.dataset.s) + Array.from(last.textContent).length;
    }
    return null;
  }

  function selectionSpan() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const r = sel.getRangeAt(0);
    if (!textEl.contains(r.commonAncestorContainer)) return null;
    const s = pointOffset(r.startContainer, r.startOffset);
    const e = pointOffset(r.endContainer, r.endOffset);
    if (s === null || e === null || e <= s) return null;
    const text = Array.from(article.text).slice(s, e).join("");
    return { start: s, end: e, text };
  }

  // -- the editor ------------------------------------------------------------------------------

  function showSpans() {
    $("#ed-source").textContent = draft.source ? draft.source.text : "—";
    $("#ed-cue").textContent = draft.cue ? draft.cue.text : "—";
    $("#ed-content").textContent = draft.content.length ? draft.content.map((s) => s.text).join(" … ") : "— (select text, press t)";
  }

  function openEditor(mode, claim) {
    draft = {
      mode, key: claim ? claim.id : "new",
      content: claim ? claim.content.slice() : [],
      cue: claim ? claim.cue : null, source: claim ? claim.source : null,
      touched: new Set(),
    };
    $("#ed-key").textContent = claim ? claim.id : "new claim";
    $("#ed-speaker").value = claim && claim.speaker ? claim.speaker.name : "";
    $("#ed-type").value = claim && claim.speaker ? claim.speaker.type : "unknown";
    $("#ed-form").value = claim ? claim.form : "indirect";
    $("#ed-rating").value = claim ? claim.review.rating : "";
    $("#ed-note").value = claim ? claim.review.rating_note : "";
    $$("[data-stance]", editor).forEach((s) => {
      const st = claim && claim.stance[s.dataset.stance];
      s.value = st && st.reviewed_by ? st.label : "";
      s.dataset.initial = s.value;
    });
    showSpans();
    editor.hidden = false;
  }

  function closeEditor() { editor.hidden = true; draft = null; }

  function setFromSelection(role) {
    if (!draft) return;
    const span = selectionSpan();
    if (!span) { toast("Select some article text first", true); return; }
    if (role === "content") draft.content = [span];
    else if (role === "content+") draft.content = draft.content.concat([span]).sort((a, b) => a.start - b.start);
    else draft[role] = span;
    draft.touched.add(role === "content+" ? "content" : role);
    window.getSelection().removeAllRanges();
    showSpans();
  }

  async function saveEditor() {
    if (!draft) return;
    const body = {};
    const claim = draft.mode === "edit" ? claimsByKey.get(draft.key) : null;
    if (!draft.content.length) { toast("A claim needs content: select its text and press t", true); return; }
    if (!claim || draft.touched.has("content")) body.content = draft.content;
    for (const role of ["cue", "source"]) if (!claim || draft.touched.has(role)) body[role] = draft[role];
    const name = $("#ed-speaker").value.trim();
    const type = $("#ed-type").value;
    const oldName = claim && claim.speaker ? claim.speaker.name : "";
    const oldType = claim && claim.speaker ? claim.speaker.type : "unknown";
    if (!claim || name !== oldName || (name && type !== oldType)) body.speaker = name ? { name, type } : null;
    if (!claim || $("#ed-form").value !== claim.form) body.form = $("#ed-form").value;
    if (!claim || $("#ed-rating").value !== claim.review.rating) body.rating = $("#ed-rating").value;
    if (!claim || $("#ed-note").value !== claim.review.rating_note) body.rating_note = $("#ed-note").value;
    const stance = {};
    $$("[data-stance]", editor).forEach((s) => { if (s.value !== s.dataset.initial) stance[s.dataset.stance] = s.value || null; });
    if (Object.keys(stance).length) body.stance = stance;
    try {
      let saved;
      if (claim) {
        const card = cardOf(claim.id);
        body.action = "edit";
        body.version = Number(card.dataset.version);
        saved = await api("POST", "/api/claims/" + card.dataset.id, body);
      } else {
        saved = await api("POST", "/api/articles/" + article.id + "/claims", body);
      }
      closeEditor();
      // spans moved: draw the article again from the server's copy
      window.location.hash = saved.id;
      window.location.reload();
    } catch (err) { reportError(err); }
  }

  editor.addEventListener("submit", (ev) => { ev.preventDefault(); saveEditor(); });
  $("#ed-cancel").addEventListener("click", closeEditor);
  $$("[data-set]", editor).forEach((b) => b.addEventListener("mousedown", (ev) => ev.preventDefault()));
  $$("[data-set]", editor).forEach((b) => b.addEventListener("click", () => setFromSelection(b.dataset.set)));
  $$("[data-clear]", editor).forEach((b) => b.addEventListener("click", () => {
    draft[b.dataset.clear] = null; draft.touched.add(b.dataset.clear); showSpans();
  }));
  $("#ed-speaker").addEventListener("change", () => {
    const opt = $$("#candidates option").find((o) => o.value === $("#ed-speaker").value);
    if (opt) $("#ed-type").value = opt.textContent;
  });

  function newClaim() {
    const span = selectionSpan();
    if (!span) { toast("Select the claim's content in the article first, then press n", true); return; }
    openEditor("new", null);
    draft.content = [span];
    window.getSelection().removeAllRanges();
    showSpans();
  }

  // -- wiring ----------------------------------------------------------------------------------

  // Keys typed faster than the server answers run in order: "a" then "1" sets the stance of the
  // claim that "a" moved to, not of the one still being saved.
  let chain = Promise.resolve();
  function enqueue(fn) { chain = chain.then(fn, fn).catch(reportError); }

  cards().forEach((card, i) => {
    card.addEventListener("click", (ev) => {
      if (ev.target.closest("button")) return;
      select(i, false);
    });
    $$("[data-act]", card).forEach((b) => b.addEventListener("click", () => {
      select(i, false);
      if (b.dataset.act === "edit") openEditor("edit", claimsByKey.get(card.dataset.key));
      else review(b.dataset.act);
    }));
  });
  textEl.addEventListener("click", (ev) => {
    const seg = ev.target.closest("[data-c]");
    if (!seg || !window.getSelection().isCollapsed) return;
    const key = seg.dataset.c.split(" ")[0];
    const i = cards().findIndex((c) => c.dataset.key === key);
    if (i >= 0) select(i);
  });
  $("#new-claim").addEventListener("click", newClaim);
  $("#new-claim").addEventListener("mousedown", (ev) => ev.preventDefault());
  $$(".status-btn").forEach((b) => b.addEventListener("click", async () => {
    try {
      const res = await api("POST", "/api/articles/" + article.id + "/status", { status: b.dataset.status, version: article.version });
      article.version = res.version;
      toast("Article " + res.status.replace("_", " "));
      window.location.reload();
    } catch (err) { reportError(err); }
  }));

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (draft) {
      if (ev.key === "Escape") { closeEditor(); ev.preventDefault(); return; }
      if (ev.key === "Enter" && ev.target.tagName !== "TEXTAREA" && ev.target.tagName !== "BUTTON") { saveEditor(); ev.preventDefault(); return; }
      if (typing(ev)) return;
      const roles = { s: "source", c: "cue", t: "content", "+": "content+" };
      if (roles[ev.key]) { setFromSelection(roles[ev.key]); ev.preventDefault(); }
      return;
    }
    if (typing(ev)) return;
    switch (ev.key) {
      case "j": enqueue(() => select(current + 1)); break;
      case "k": enqueue(() => select(current - 1)); break;
      case "a": enqueue(() => review("accept")); break;
      case "r": enqueue(() => review("reject")); break;
      case "e": enqueue(() => { const c = selectedCard(); if (c) openEditor("edit", claimsByKey.get(c.dataset.key)); }); break;
      case "n": newClaim(); break;
      case "d":
        if (disputeSel && disputeSel.options.length) {
          disputeSel.selectedIndex = (disputeSel.selectedIndex + 1) % disputeSel.options.length;
          markActiveDispute();
          toast("Stance keys now set: " + disputeSel.options[disputeSel.selectedIndex].textContent);
        }
        break;
      case "1": case "2": case "3": case "4": case "5": case "6": case "7": case "8": case "9": {
        const n = Number(ev.key);
        if (n <= LABELS.length) enqueue(() => setStance(n));
        break;
      }
      default: return;
    }
    ev.preventDefault();
  });

  const fromHash = window.location.hash.slice(1);
  const start = cards().findIndex((c) => c.dataset.key === fromHash);
  select(start >= 0 ? start : 0);
})();
