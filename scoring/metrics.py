"""Attribution metrics of docs/DESIGN.md section 5, over plain data so they can be checked by hand.

Spans are ``(start, end)`` character pairs. A document's gold and predictions are given per role
(``source``, ``cue``, ``content``; a discontinuous content contributes one span per fragment), and
claims as dicts with ``content`` (list of spans) and ``cue`` (a span or None).

* exact: a predicted span is right when its word range equals a gold span's word range of that
  role (seqeval-style, words from ``claims.nlp.segment``);
* overlap: a predicted span counts if at least half of its characters lie in one gold span of
  that role; a gold span is found if at least half of its characters lie in one predicted span;
* claim: a predicted claim matches a gold attribution when their contents overlap by at least half
  of the gold content's characters and their cues overlap (one-to-one, greedy in text order).

Counts are returned per document so that bootstrap intervals can resample documents.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from claims.nlp.segment import Segmented

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


def _claim_candidates(pred: list[dict], gold: list[dict]) -> list[tuple[int, int, int]]:
    """Every (−content overlap, pred index, gold index) that matches, best first."""
    cands = []
    for i, p in enumerate(pred):
        for j, g in enumerate(gold):
            if claim_matches(p, g):
                cands.append((-_spans_overlap(p["content"], g["content"]), i, j))
    cands.sort()
    return cands


def _greedy(cands: list[tuple[int, int, int]], allowed: set[int] | None = None) -> list[tuple[int, int]]:
    used_p, used_g, pairs = set(), set(), []
    for _, i, j in cands:
        if allowed is not None and i not in allowed:
            continue
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            pairs.append((i, j))
    return pairs


def match_claims(pred: list[dict], gold: list[dict]) -> list[tuple[int, int]]:
    """One-to-one matching, pairs (pred index, gold index); greedy by content overlap."""
    return _greedy(_claim_candidates(pred, gold))


def claim_counts(pred: list[dict], gold: list[dict]) -> Counts:
    m = len(match_claims(pred, gold))
    return Counts(m, len(pred), m, len(gold))


def claim_counts_at_thresholds(pred: list[dict], gold: list[dict], thresholds: list[float]) -> list[Counts]:
    """Claim-level counts keeping only predictions with ``confidence >= t``, for each threshold.

    Matching is redone at every threshold (a dropped prediction can free a gold claim for another
    one), from candidate pairs computed once.
    """
    cands = _claim_candidates(pred, gold)
    out = []
    for t in thresholds:
        kept = {i for i, p in enumerate(pred) if float(p.get("confidence", 1.0)) >= t}
        m = len(_greedy(cands, kept))
        out.append(Counts(m, len(kept), m, len(gold)))
    return out


def claim_slice_counts(pred: list[dict], gold: list[dict], pred_keys: list[str], gold_keys: list[str]
                       ) -> dict[str, Counts]:
    """Claim-level counts per slice (a form, a cue word): claims are matched over the whole
    document once, then precision counts the predictions of a slice and recall its gold claims.
    A prediction in one slice that matches gold in another counts as right in both, so a slice's
    figures measure finding those claims, not labelling the slice."""
    pairs = match_claims(pred, gold)
    matched_p = {i for i, _ in pairs}
    matched_g = {j for _, j in pairs}
    out: dict[str, Counts] = {}
    for i, k in enumerate(pred_keys):
        c = out.setdefault(k, Counts())
        c.n_p += 1
        c.tp_p += i in matched_p
    for j, k in enumerate(gold_keys):
        c = out.setdefault(k, Counts())
        c.n_g += 1
        c.tp_r += j in matched_g
    return out


def claim_form(seg: Segmented, content: list[Span]) -> str:
    """Form of a claim from its content's quotation marks, by the rule of ``claims.nlp.form``; used
    for gold attributions, which carry no form of their own."""
    from claims.nlp.form import classify
    ranges = [r for r in (seg.word_range(s, e) for s, e in content) if r is not None]
    return classify(seg, ranges)


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


def prf_array(c: np.ndarray, undefined: float = 0.0) -> np.ndarray:
    """Percent precision, recall, F1 from counts ``(..., 4)`` (tp_p, n_p, tp_r, n_g). Precision
    without predictions and recall without gold are ``undefined`` (0 by default, as
    ``Counts.prf``); F1 is undefined only when both are, else an undefined part counts as 0."""
    c = np.asarray(c, dtype=float)
    has_p, has_r = c[..., 1] > 0, c[..., 3] > 0
    p0 = np.where(has_p, c[..., 0] / np.where(has_p, c[..., 1], 1), 0.0)
    r0 = np.where(has_r, c[..., 2] / np.where(has_r, c[..., 3], 1), 0.0)
    f = np.where(p0 + r0 > 0, 2 * p0 * r0 / np.where(p0 + r0 > 0, p0 + r0, 1), 0.0)
    p = np.where(has_p, p0, undefined / 100)
    r = np.where(has_r, r0, undefined / 100)
    f = np.where(has_p | has_r, f, undefined / 100)
    return 100 * np.stack([p, r, f], axis=-1)


def counts_to_array(counts: list[Counts]) -> np.ndarray:
    """``(len(counts), 4)`` array of tp_p, n_p, tp_r, n_g."""
    return np.array([[c.tp_p, c.n_p, c.tp_r, c.n_g] for c in counts], dtype=float).reshape(len(counts), 4)


def resample_weights(n_units: int, n: int, seed: int) -> np.ndarray:
    """(n, n_units) how often each unit is drawn in each of n bootstrap resamples."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_units, (n, n_units))
    flat = (np.arange(n)[:, None] * n_units + idx).ravel()
    return np.bincount(flat, minlength=n * n_units).reshape(n, n_units).astype(float)


def bootstrap_counts(doc_counts: np.ndarray, n: int = 1000, seed: int = 0, alpha: float = 0.05,
                     groups: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of P/R/F1 from per-document counts ``(n_docs, k, 4)``, resampling
    documents (or ``groups`` of documents, e.g. every annotator pair of one article, so that an
    article counts once). Returns (lo, hi), each ``(k, 3)`` in percent."""
    doc_counts = np.asarray(doc_counts, dtype=float)
    if groups is not None:
        keys = sorted(set(groups), key=str)
        pos = {g: i for i, g in enumerate(keys)}
        units = np.zeros((len(keys),) + doc_counts.shape[1:])
        for d, g in enumerate(groups):
            units[pos[g]] += doc_counts[d]
    else:
        units = doc_counts
    w = resample_weights(len(units), n, seed)
    sums = np.tensordot(w, units, axes=(1, 0))          # (n, k, 4)
    vals = prf_array(sums, undefined=np.nan)            # (n, k, 3)
    # a resample without predictions (or gold) of a slice says nothing about its precision
    # (recall): leave it out; a figure undefined in every resample gets NaN bounds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanpercentile(vals, 100 * alpha / 2, axis=0)
        hi = np.nanpercentile(vals, 100 * (1 - alpha / 2), axis=0)
    return lo, hi


def doc_count_array(docs: list[DocScores]) -> tuple[list[str], np.ndarray]:
    """Keys in ``summarize`` order (``exact_source`` ... ``claim``) and ``(n_docs, k, 4)`` counts."""
    keys = [f"{kind}_{r}" for kind in ("exact", "overlap") for r in ROLES] + ["claim"]
    arr = np.array([counts_to_array([d.exact[r] for r in ROLES] + [d.overlap[r] for r in ROLES] + [d.claim])
                    for d in docs], dtype=float).reshape(len(docs), len(keys), 4)
    return keys, arr


def bootstrap(docs: list[DocScores], n: int = 1000, seed: int = 0, alpha: float = 0.05,
              groups: list | None = None) -> dict[str, tuple[float, float]]:
    """Percentile intervals of every figure in ``summarize``, resampling documents (or groups)."""
    if not docs:
        return {}
    keys, arr = doc_count_array(docs)
    lo, hi = bootstrap_counts(arr, n, seed, alpha, groups)
    out = {}
    for k, key in enumerate(keys):
        for m, name in enumerate("prf"):
            out[f"{key}_{name}"] = (float(lo[k, m]), float(hi[k, m]))
    return out
