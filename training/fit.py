"""Fitting the attribution model's small scorers (training only): the linker's two logistic
scorers from gold attributions, and any ``LogisticScorer`` (the claim confidence too); and the
tagger's gold labels per word."""

from __future__ import annotations

import numpy as np

from claims.nlp.link import (CONTENT_FEATURES, SOURCE_FEATURES, Linker, LogisticScorer, check_width, content_pairs,
                             source_pairs)
from claims.nlp.segment import Segmented
from claims.nlp.tagger import LABEL_INDEX, TaggedSpan


def fit_logistic(features: tuple[str, ...], X: np.ndarray, y: np.ndarray, C: float = 1.0) -> LogisticScorer:
    """A ``LogisticScorer`` over standardised features, the first of which is the bias column."""
    from sklearn.linear_model import LogisticRegression

    check_width(features, X)
    mean, scale = X.mean(0), X.std(0)
    mean[0], scale[0] = 0.0, 1.0  # bias column stays 1
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000, fit_intercept=False)
    lr.fit((X - mean) / scale, y)
    return LogisticScorer(tuple(features), lr.coef_[0].tolist(), mean.tolist(), scale.tolist())


def gold_tagged(seg: Segmented, attributions: list[dict]) -> tuple[list[TaggedSpan], list[tuple]]:
    """Gold attributions as tagged spans plus their links: (content, cue) and (cue, source) pairs,
    by span identity. Used to fit the linker and to test it."""
    spans: dict[tuple, TaggedSpan] = {}

    def get(role: str, s: int, e: int) -> TaggedSpan | None:
        rng = seg.word_range(s, e)
        if rng is None:
            return None
        key = (role, *rng)
        if key not in spans:
            a, b = rng
            spans[key] = TaggedSpan(role, a, b, int(seg.starts[a]), int(seg.ends[b]), 1.0)
        return spans[key]

    links = []
    for att in attributions:
        cues = [get("cue", s, e) for s, e in att.get("cue") or []]
        cues = [q for q in cues if q is not None]
        if not cues:
            continue
        q = cues[0]
        for s, e in att.get("content") or []:
            c = get("content", s, e)
            if c is not None:
                links.append(("content", c, q))
        for s, e in (att.get("source") or [])[:1]:
            src = get("source", s, e)
            if src is not None:
                links.append(("source", q, src))
    return sorted(spans.values(), key=lambda s: (s.first, s.last)), links


def fit_linker(docs: list[tuple[Segmented, list[dict]]], C: float = 1.0) -> Linker:
    """Fit both scorers on gold spans: every candidate pair is an example, gold links positive."""
    Xc, yc, Xs, ys = [], [], [], []
    for seg, attributions in docs:
        spans, links = gold_tagged(seg, attributions)
        pos_c = {(id(c), id(q)) for kind, c, q in links if kind == "content"}
        pos_s = {(id(q), id(s)) for kind, q, s in links if kind == "source"}
        contents_of: dict[int, list[TaggedSpan]] = {}
        for kind, c, q in links:
            if kind == "content":
                contents_of.setdefault(id(q), []).append(c)
        for c, q, f in content_pairs(seg, spans):
            Xc.append(f)
            yc.append((id(c), id(q)) in pos_c)
        for q, s, f in source_pairs(seg, spans, contents_of):
            Xs.append(f)
            ys.append((id(q), id(s)) in pos_s)
    for name, y in (("content-cue", yc), ("cue-source", ys)):
        if len(set(y)) < 2:
            raise ValueError(f"cannot fit the linker: the {name} pairs of the training documents are all "
                             f"{'links' if y and y[0] else 'non-links'}; more varied documents are needed")
    content = fit_logistic(CONTENT_FEATURES, np.asarray(Xc), np.asarray(yc), C)
    source = fit_logistic(SOURCE_FEATURES, np.asarray(Xs), np.asarray(ys), C)
    return Linker(content, source)


def word_labels(seg: Segmented, spans: list[tuple[str, int, int]]) -> np.ndarray:
    """BIO label ids per word for gold (role, char_start, char_end) spans; later spans do not
    overwrite earlier ones (annotations are univocal, overlaps are noise)."""
    out = np.zeros(len(seg), dtype=np.int64)
    for role, s, e in sorted(spans, key=lambda x: (x[1], x[2])):
        rng = seg.word_range(s, e)
        if rng is None:
            continue
        a, b = rng
        if out[a:b + 1].any():
            continue
        out[a] = LABEL_INDEX[f"B-{role}"]
        out[a + 1:b + 1] = LABEL_INDEX[f"I-{role}"]
    return out
