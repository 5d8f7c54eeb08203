"""Small hand-made data for the evaluation tests: PolNeAR-format articles, claim dicts, stance
rows. Spans are located by their text so that the fixtures read as sentences."""

from __future__ import annotations

import json
from pathlib import Path


def at(text: str, sub: str, nth: int = 0) -> tuple[int, int]:
    """(start, end) of the nth occurrence of ``sub`` in ``text``."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(sub, start + 1)
    return start, start + len(sub)


def claim(text: str, source: str | None, cue: str | None, *content: str, confidence: float = 1.0,
          nth: dict | None = None, speaker: str | None = None, form: str | None = None) -> dict:
    """A claim dict (the metric format): each role a list of (start, end)."""
    nth = nth or {}
    out = {"source": [at(text, source, nth.get("source", 0))] if source else [],
           "cue": [at(text, cue, nth.get("cue", 0))] if cue else [],
           "content": [at(text, c, nth.get("content", 0)) for c in content],
           "confidence": confidence, "speaker": speaker}
    if form:
        out["form"] = form
    return out


def attribution(text: str, id: str, source: str | None, cue: str, *content: str, nth: dict | None = None) -> dict:
    """A PolNeAR attribution (lists of [start, end])."""
    c = claim(text, source, cue, *content, nth=nth)
    return {"id": id, **{r: [list(s) for s in c[r]] for r in ("source", "cue", "content")}}


TEXT_A = "Smith said taxes would fall and added that prices would rise."
TEXT_B = '"The economy," Jones said, "is doing fine."'
TEXT_C = ("Moscow denies the allegations, the ministry said. Critics <b>&</b> others said "
          "the strikes hit rebels. \"We will win,\" he said.")


def articles() -> list[dict]:
    """Three articles from two publishers, covering a shared source, a discontinuous content,
    direct, mixed and indirect forms, and markup-like text that must be escaped."""
    return [
        {"id": "a1", "publisher": "alpha", "title": "A", "text": TEXT_A, "attributions": [
            attribution(TEXT_A, "E1", "Smith", "said", "taxes would fall"),
            attribution(TEXT_A, "E2", "Smith", "added", "that prices would rise")]},
        {"id": "b1", "publisher": "beta", "title": "B", "text": TEXT_B, "attributions": [
            attribution(TEXT_B, "E1", "Jones", "said", "The economy", "is doing fine")]},
        {"id": "c1", "publisher": "beta", "title": "C", "text": TEXT_C, "attributions": [
            attribution(TEXT_C, "E1", "the ministry", "said", "Moscow denies the allegations"),
            attribution(TEXT_C, "E2", "Critics <b>&</b> others", "said", "the strikes hit rebels", nth={"cue": 1}),
            attribution(TEXT_C, "E3", "he", "said", "We will win", nth={"cue": 2})]},
    ]


def predictions() -> list[list[dict]]:
    """Model output for ``articles()``: a1 finds one of two claims; b1 finds the first content
    fragment only (no claim match); c1 finds two claims and one confident false positive."""
    return [
        [claim(TEXT_A, "Smith", "said", "taxes would fall", confidence=0.9)],
        [claim(TEXT_B, "Jones", "said", "The economy", confidence=0.7)],
        [claim(TEXT_C, "the ministry", "said", "Moscow denies the allegations", confidence=0.8),
         claim(TEXT_C, "Moscow", "denies", "the allegations", confidence=0.95),
         claim(TEXT_C, "he", "said", "We will win", confidence=0.6, nth={"cue": 2})],
    ]


def agreement() -> list[dict]:
    """One article with two annotators who agree on one of two attributions."""
    a = articles()[0]
    one = {"annotator": "x", "in_split_file": True, "attributions": a["attributions"], "other_spans": []}
    two = {"annotator": "y", "in_split_file": False, "attributions": a["attributions"][:1], "other_spans": []}
    return [{"id": "a1", "publisher": "alpha", "text": a["text"], "annotations": [one, two]}]


STANCE_DEV = {
    "toy": [
        {"id": f"t{i}", "target": t, "text": x, "label": y}
        for i, (t, x, y) in enumerate([
            ("taxes should rise", "we must raise taxes on the rich", "favor"),
            ("taxes should rise", "raising taxes would hurt workers", "against"),
            ("taxes should rise", "the committee discussed taxes today", "neutral"),
            ("taxes should rise", "the football match ended in a draw", "unrelated"),
            ("walls work", "the wall stopped crossings", "favor"),
            ("walls work", "walls never stopped anyone", "against"),
        ])
    ],
}


def stance_probs() -> dict:
    """Model probabilities for ``STANCE_DEV`` (favor, against, neutral, unrelated): four right,
    the neutral pair predicted favor, the last pair predicted favor."""
    import numpy as np
    return {"toy": np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.8, 0.05, 0.05], [0.5, 0.1, 0.3, 0.1],
                             [0.05, 0.05, 0.1, 0.8], [0.9, 0.05, 0.03, 0.02], [0.6, 0.3, 0.05, 0.05]])}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def results_jsonl(path: Path) -> Path:
    """``predictions()`` as result JSONL (docs/DESIGN.md 3.2), the format ``claims batch`` writes."""
    rows = []
    for a, preds in zip(articles(), predictions()):
        claims = []
        for k, p in enumerate(preds, 1):
            def span(s):
                return {"start": s[0], "end": s[1], "text": a["text"][s[0]:s[1]]}
            claims.append({"id": f"c{k}", "content": [span(s) for s in p["content"]],
                           "cue": span(p["cue"][0]) if p["cue"] else None,
                           "source": span(p["source"][0]) if p["source"] else None,
                           "speaker": None, "form": "indirect", "confidence": p["confidence"], "stance": {}})
        rows.append({"schema_version": 1, "id": a["id"], "model": {}, "disputes": [], "claims": claims, "error": None})
    return write_jsonl(path, rows)


def stance_dir(root: Path) -> Path:
    """A stance folder with one dataset: dev = ``STANCE_DEV``, and a train split to fit the
    baseline on."""
    folder = root / "stance"
    write_jsonl(folder / "toy" / "dev.jsonl", STANCE_DEV["toy"])
    train = []
    for i in range(6):
        train += [{"id": f"r{i}a", "target": "taxes should rise", "text": f"we must raise taxes now {i}", "label": "favor"},
                  {"id": f"r{i}b", "target": "taxes should rise", "text": f"raising taxes hurts workers {i}", "label": "against"},
                  {"id": f"r{i}c", "target": "walls work", "text": f"the committee discussed walls {i}", "label": "neutral"},
                  {"id": f"r{i}d", "target": "walls work", "text": f"the football match ended {i}", "label": "unrelated"}]
    write_jsonl(folder / "toy" / "train.jsonl", train)
    return folder
