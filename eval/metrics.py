"""Attribution metrics of DESIGN.md section 5, over plain data so they can be checked by hand.

Spans are ``(start, end)`` character pairs. A document's gold and predictions are given per role
(``source``, ``cue``, ``content``; a discontinuous content contributes one span per fragment), and
claims as dicts with ``content`` (list of spans) and ``cue`` (a span or None).

* exact: a predicted span is right when its word range equals a gold span's word range of that
  role (seqeval-style, words from ``claims.segment``);
* overlap: a predicted span counts if at least half of its characters lie in one gold span of
  that role; a gold span is found if at least half of its characters lie in one predicted span;
* claim: a predicted claim matches a gold attribution when their contents overlap by at least half
  of the gold content's characters and their cues overlap (one-to-one, greedy in text order).

Counts are returned per document so that bootstrap intervals can resample documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from claims.segment import Segmented

ROLES = ("source", "cue", "content")
Span = tuple[int, int]


@dataclass
class Counts:
    tp_p: int = 0     # predictions that are right
    n_p: int = 0      # predictions
    tp_r: int = 0     # gold items that are found
    n_g: int = 0      # gold items

    def __add__(self, o: "Counts") -> "Counts":
        return Counts(self.tp_p + o.tp_p, self.n_p + o.n_p, self.tp_r + o.tp_r, self.n_g + o.n_g)

    def prf(self) -> tuple[float, float, float]:
        p = self.tp_p / self.n_p if self.n_p else 0.0
        r = self.tp_r / self.n_g if self.n_g else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


def _word_ranges(seg: Segmented, spans: list[Span]) -> set[tuple[int, int]]:
    out = set()
    for s, e in spans:
        rng = seg.word_range(s, e)
        if rng is not None:
            out.add(rng)
    return out


def exact_counts(seg: Segmented, pred: list[Span], gold: list[Span]) -> Counts:
    p, g = _word_ranges(seg, pred), _word_ranges(seg, gold)
    tp = len(p & g)
    return Counts(tp, len(p), tp, len(g))


def _overlap(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def overlap_counts(pred: list[Span], gold: list[Span]) -> Counts:
    pred = [s for s in set(pred) if s[1] > s[0]]
    gold = [s for s in set(gold) if s[1] > s[0]]
    tp_p = sum(any(2 * _overlap(p, g) >= p[1] - p[0] for g in gold) for p in pred)
    tp_r = sum(any(2 * _overlap(g, p) >= g[1] - g[0] for p in pred) for g in gold)
    return Counts(tp_p, len(pred), tp_r, len(gold))


def _chars(spans: list[Span]) -> int:
    return sum(e - s for s, e in spans)


def _spans_overlap(a: list[Span], b: list[Span]) -> int:
    return sum(_overlap(x, y) for x in a for y in b)


def claim_matches(pred_claim: dict, gold_claim: dict) -> bool:
    gc = gold_claim["content"]
    if not gc or not pred_claim["content"]:
        return False
    if 2 * _spans_overlap(pred_claim["content"], gc) < _chars(gc):
        return False
    pc, gq = pred_claim.get("cue") or [], gold_claim.get("cue") or []
    if not pc or not gq:
        return not pc and not gq
    return _spans_overlap(pc, gq) > 0


def match_claims(pred: list[dict], gold: list[dict]) -> list[tuple[int, int]]:
    """One-to-one matching, pairs (pred index, gold index); greedy by content overlap."""
    cands = []
    for i, p in enumerate(pred):
        for j, g in enumerate(gold):
            if claim_matches(p, g):
                cands.append((-_spans_overlap(p["content"], g["content"]), i, j))
    cands.sort()
    used_p, used_g, pairs = set(), set(), []
    for _, i, j in cands:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            pairs.append((i, j))
    return pairs


def claim_counts(pred: list[dict], gold: list[dict]) -> Counts:
    m = len(match_claims(pred, gold))
    return Counts(m, len(pred), m, len(gold))


@dataclass
class DocScores:
    """All counts for one document."""

    exact: dict[str, Counts] = field(default_factory=dict)
    overlap: dict[str, Counts] = field(default_factory=dict)
    claim: Counts = field(default_factory=Counts)


def role_spans(claims: list[dict]) -> dict[str, list[Span]]:
    """Per-role span lists (content fragments separately) from claim dicts."""
    out: dict[str, list[Span]] = {r: [] for r in ROLES}
    for c in claims:
        for r in ROLES:
            out[r].extend(tuple(s) for s in c.get(r) or [])
    return {r: sorted(set(v)) for r, v in out.items()}


def score_document(seg: Segmented, pred_claims: list[dict], gold_claims: list[dict],
                   pred_spans: dict[str, list[Span]] | None = None) -> DocScores:
    """Counts for one document. ``pred_spans`` (the tagger's spans, linked or not) default to the
    spans of the predicted claims."""
    ps = pred_spans if pred_spans is not None else role_spans(pred_claims)
    gs = role_spans(gold_claims)
    d = DocScores()
    for r in ROLES:
        d.exact[r] = exact_counts(seg, ps.get(r, []), gs[r])
        d.overlap[r] = overlap_counts(ps.get(r, []), gs[r])
    d.claim = claim_counts(pred_claims, gold_claims)
    return d


def summarize(docs: list[DocScores]) -> dict[str, float]:
    """Flat dict of percentages: ``exact_<role>_p/_r/_f``, ``overlap_<role>_*``, ``claim_*``."""
    out: dict[str, float] = {}
    for kind in ("exact", "overlap"):
        for r in ROLES:
            c = sum((getattr(d, kind)[r] for d in docs), Counts())
            for name, v in zip("prf", c.prf()):
                out[f"{kind}_{r}_{name}"] = 100 * v
    c = sum((d.claim for d in docs), Counts())
    for name, v in zip("prf", c.prf()):
        out[f"claim_{name}"] = 100 * v
    return out


def bootstrap(docs: list[DocScores], n: int = 1000, seed: int = 0, alpha: float = 0.05
              ) -> dict[str, tuple[float, float]]:
    """Percentile intervals of every figure in ``summarize``, resampling documents."""
    rng = np.random.default_rng(seed)
    if not docs:
        return {}
    samples: dict[str, list[float]] = {}
    for _ in range(n):
        idx = rng.integers(0, len(docs), len(docs))
        for k, v in summarize([docs[i] for i in idx]).items():
            samples.setdefault(k, []).append(v)
    return {k: (float(np.percentile(v, 100 * alpha / 2)), float(np.percentile(v, 100 * (1 - alpha / 2))))
            for k, v in samples.items()}
