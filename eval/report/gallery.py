"""The error gallery: the model's worst false positives and misses, each with the article text
around it and both the predicted and the gold spans marked, so a reader sees what goes wrong.

* false positives: predicted claims that match no gold attribution, most confident first;
* misses: gold attributions that no predicted claim matches; those the model left untouched (no
  predicted span overlaps them) first, then the longest.

At most ``per_article`` items come from one article, so that one odd article does not fill the
gallery. Excerpts carry offsets relative to the excerpt; renderers escape the text.
"""

from __future__ import annotations

import corpora

from scoring.metrics import ROLES, match_claims

CONTEXT_CHARS = 160     # characters of text shown on each side of the claim
MAX_EXCERPT = 900


def _all_spans(claim: dict) -> list[tuple[int, int]]:
    return [tuple(s) for r in ROLES for s in claim.get(r) or []]


def _overlaps(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    return any(min(x[1], y[1]) > max(x[0], y[0]) for x in a for y in b)


def excerpt(text: str, focus: dict, layers: dict[str, list[dict]], context: int = CONTEXT_CHARS) -> dict:
    """The text around ``focus`` (a claim dict), cut at whitespace, with the spans of every claim
    in ``layers`` (``"pred"``/``"gold"`` -> claim dicts) that fall inside it, as marks
    ``{"start", "end", "role", "layer"}`` relative to the excerpt."""
    spans = _all_spans(focus)
    lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    room = max(0, (MAX_EXCERPT - (hi - lo)) // 2)
    start, end = max(0, lo - min(context, room)), min(len(text), hi + min(context, room))
    while start > 0 and start < lo and not text[start - 1].isspace():
        start += 1
    while end < len(text) and end > hi and not text[end].isspace():
        end -= 1
    marks = []
    for layer in sorted(layers):
        for claim in layers[layer]:
            for role in ROLES:
                for s, e in claim.get(role) or []:
                    s2, e2 = max(s, start), min(e, end)
                    if e2 > s2:
                        marks.append({"start": s2 - start, "end": e2 - start, "role": role, "layer": layer})
    marks.sort(key=lambda m: (m["start"], m["end"], m["layer"], m["role"]))
    return {"text": text[start:end], "offset": start, "cut_left": start > 0, "cut_right": end < len(text),
            "marks": marks}


def _roles_text(text: str, claim: dict) -> dict:
    return {r: " … ".join(text[s:e] for s, e in claim.get(r) or []) for r in ROLES}


def error_gallery(articles: list[dict], predictions: list[list[dict]] | None, n: int = 10,
                  per_article: int = 2, missing: str = "") -> dict:
    """Worst false positives and misses (see the module docstring) as renderable items."""
    if predictions is None:
        return {"available": False, "missing": missing or "no attribution model"}
    fps, misses = [], []
    for k, (a, preds) in enumerate(zip(articles, predictions)):
        gold = corpora.gold_claims(a["attributions"])
        pairs = match_claims(preds, gold)
        mp, mg = {i for i, _ in pairs}, {j for _, j in pairs}
        for i, p in enumerate(preds):
            if i not in mp and _all_spans(p):
                fps.append(((-float(p.get("confidence", 0.0)), a["id"], min(_all_spans(p)), k, i), a, p, gold))
        for j, g in enumerate(gold):
            if j not in mg and _all_spans(g):
                touched = any(_overlaps(_all_spans(g), _all_spans(p)) for p in preds)
                length = sum(e - s for s, e in g["content"])
                misses.append(((touched, -length, a["id"], min(_all_spans(g)), k, j), a, g, preds))

    def pick(items):
        chosen, per = [], {}
        for it in sorted(items, key=lambda x: x[0]):
            aid = it[1]["id"]
            if per.get(aid, 0) >= per_article:
                continue
            per[aid] = per.get(aid, 0) + 1
            chosen.append(it)
            if len(chosen) == n:
                break
        return chosen

    out_fp = []
    for key, a, p, gold in pick(fps):
        near = [g for g in gold if _overlaps(_all_spans(g), _all_spans(p))]
        out_fp.append({"article": a["id"], "publisher": a.get("publisher", ""), "confidence": round(-key[0], 3),
                       "form": p.get("form"), "predicted": _roles_text(a["text"], p),
                       "gold_nearby": [_roles_text(a["text"], g) for g in near],
                       "excerpt": excerpt(a["text"], p, {"pred": [p], "gold": gold})})
    out_miss = []
    for key, a, g, preds in pick(misses):
        near = [p for p in preds if _overlaps(_all_spans(g), _all_spans(p))]
        out_miss.append({"article": a["id"], "publisher": a.get("publisher", ""), "touched": key[0],
                         "gold": _roles_text(a["text"], g),
                         "predicted_nearby": [_roles_text(a["text"], p) for p in near],
                         "excerpt": excerpt(a["text"], g, {"gold": [g], "pred": preds})})
    return {"available": True, "false_positives": out_fp, "misses": out_miss,
            "n_false_positives": len(fps), "n_misses": len(misses)}
