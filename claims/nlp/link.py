"""Link tagged spans into claims: which cue each content fragment belongs to, which source each cue has.

Two logistic models score candidate pairs from features of their arrangement in the text
(direction, distance in words and sentences, spans in between, quotation marks). Each content
fragment joins its best cue; fragments of one cue form one (possibly discontinuous) content; each
cue takes its best source if that scores above ``source_threshold``, so a source can serve several
cues ("X said A ... and added B") and claims without a source stay sourceless. The models are
fit on PolNeAR's gold spans (``training.attribution``) and stored as plain coefficients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .segment import QUOTE_MARK, Segmented
from .tagger import TaggedSpan

MAX_DISTANCE = 80  # words between a cue and a candidate partner

CONTENT_FEATURES = (
    "bias", "cue_before", "cue_after", "log_gap", "adjacent", "gap_le3", "sent_dist0", "sent_dist1",
    "sent_dist2plus", "same_paragraph", "n_cues_between", "n_contents_between", "nearest_before",
    "nearest_after", "gap_punct_only", "content_quoted_end", "content_quoted_start", "after_x_adjacent",
    "before_x_adjacent", "after_x_quoted_end", "colon_between", "cue_len",
)
SOURCE_FEATURES = (
    "bias", "source_before", "log_gap", "adjacent", "gap_le3", "sent_dist0", "sent_dist1",
    "sent_dist2plus", "n_cues_between", "n_contents_between", "nearest_before", "nearest_after",
    "source_len", "gap_punct_only", "after_x_adjacent", "pronoun", "between_has_content_of_cue",
)



def check_width(names: tuple[str, ...], X: np.ndarray) -> None:
    """Feature rows are positional: each must hold one value per name, in the names' order."""
    if np.ndim(X) != 2 or np.shape(X)[1] != len(names):
        raise ValueError(f"feature rows of shape {np.shape(X)} for {len(names)} named features")


PRONOUNS = {"i", "you", "he", "she", "it", "we", "they", "me", "him", "her", "us", "them"}


@dataclass
class LogisticScorer:
    """``sigmoid(w · standardise(x))`` with coefficients kept as lists (JSON-friendly)."""

    features: tuple[str, ...]
    weights: list[float] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)

    def prob(self, X: np.ndarray) -> np.ndarray:
        check_width(self.features, X)
        z = ((X - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "weights": self.weights, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict) -> "LogisticScorer":
        return cls(tuple(d["features"]), d["weights"], d["mean"], d["scale"])


def _between(spans: list[TaggedSpan], lo: int, hi: int, role: str) -> int:
    return sum(1 for s in spans if s.role == role and s.first > lo and s.last < hi)


def _gap_words(seg: Segmented, lo: int, hi: int) -> list[str]:
    return [seg.word(i) for i in range(lo + 1, hi)]


def content_features(seg: Segmented, c: TaggedSpan, q: TaggedSpan, spans: list[TaggedSpan],
                     nearest_before: bool, nearest_after: bool) -> list[float]:
    before = q.last < c.first
    lo, hi = (q.last, c.first) if before else (c.last, q.first)
    gap = max(hi - lo - 1, 0)
    gap_words = _gap_words(seg, lo, hi)
    # sentences between the cue and the nearer end of the content
    sd = min(abs(int(seg.sentence[q.first]) - int(seg.sentence[c.first])),
             abs(int(seg.sentence[q.first]) - int(seg.sentence[c.last])))
    quoted_end = float(seg.quote[c.last] == QUOTE_MARK or (c.last + 1 < len(seg) and seg.quote[c.last + 1] == QUOTE_MARK))
    quoted_start = float(seg.quote[c.first] == QUOTE_MARK or (c.first > 0 and seg.quote[c.first - 1] == QUOTE_MARK))
    adjacent = float(gap == 0)
    after = float(not before)
    return [
        1.0, float(before), after, math.log1p(gap), adjacent, float(gap <= 3), float(sd == 0), float(sd == 1),
        float(sd >= 2), float(seg.paragraph[q.first] == seg.paragraph[c.first]),
        math.log1p(_between(spans, lo, hi, "cue")), math.log1p(_between(spans, lo, hi, "content")),
        float(nearest_before), float(nearest_after),
        float(all(not w.isalnum() for w in gap_words)), quoted_end, quoted_start,
        after * adjacent, float(before) * adjacent, after * quoted_end, float(":" in gap_words),
        math.log1p(q.last - q.first + 1),
    ]


def source_features(seg: Segmented, q: TaggedSpan, s: TaggedSpan, spans: list[TaggedSpan],
                    nearest_before: bool, nearest_after: bool, own_contents: list[TaggedSpan]) -> list[float]:
    before = s.last < q.first
    lo, hi = (s.last, q.first) if before else (q.last, s.first)
    gap = max(hi - lo - 1, 0)
    gap_words = _gap_words(seg, lo, hi)
    sd = abs(int(seg.sentence[q.first]) - int(seg.sentence[s.first]))
    adjacent = float(gap == 0)
    text = seg.text[s.start:s.end].lower()
    own_between = any(c.first > lo and c.last < hi for c in own_contents)
    return [
        1.0, float(before), math.log1p(gap), adjacent, float(gap <= 3), float(sd == 0), float(sd == 1),
        float(sd >= 2), math.log1p(_between(spans, lo, hi, "cue")), math.log1p(_between(spans, lo, hi, "content")),
        float(nearest_before), float(nearest_after), math.log1p(s.last - s.first + 1),
        float(all(not w.isalnum() for w in gap_words)), float(not before) * adjacent, float(text in PRONOUNS),
        float(own_between),
    ]


def _nearest_flags(anchor: TaggedSpan, cands: list[TaggedSpan]) -> list[tuple[bool, bool]]:
    before = [c for c in cands if c.last < anchor.first]
    after = [c for c in cands if c.first > anchor.last]
    nb = max(before, key=lambda c: c.last) if before else None
    na = min(after, key=lambda c: c.first) if after else None
    return [(c is nb, c is na) for c in cands]


def content_candidates(c: TaggedSpan, cues: list[TaggedSpan]) -> list[TaggedSpan]:
    return [q for q in cues if abs(q.first - c.first) <= MAX_DISTANCE + (c.last - c.first)
            and (q.last < c.first or q.first > c.last)]


def source_candidates(q: TaggedSpan, sources: list[TaggedSpan]) -> list[TaggedSpan]:
    return [s for s in sources if abs(s.first - q.first) <= MAX_DISTANCE and (s.last < q.first or s.first > q.last)]


def content_pairs(seg: Segmented, spans: list[TaggedSpan]):
    """(content, cue, features) for every candidate pair."""
    cues = [s for s in spans if s.role == "cue"]
    for c in (s for s in spans if s.role == "content"):
        cands = content_candidates(c, cues)
        for q, (nb, na) in zip(cands, _nearest_flags(c, cands)):
            yield c, q, content_features(seg, c, q, spans, nb, na)


def source_pairs(seg: Segmented, spans: list[TaggedSpan], contents_of: dict[int, list[TaggedSpan]]):
    """(cue, source, features) for every candidate pair; contents_of maps id(cue) to its contents."""
    sources = [s for s in spans if s.role == "source"]
    for q in (s for s in spans if s.role == "cue"):
        cands = source_candidates(q, sources)
        for s, (nb, na) in zip(cands, _nearest_flags(q, cands)):
            yield q, s, source_features(seg, q, s, spans, nb, na, contents_of.get(id(q), []))


@dataclass
class LinkedClaim:
    cue: TaggedSpan
    contents: list[TaggedSpan]
    source: TaggedSpan | None
    content_link: float     # lowest link probability among its content fragments
    source_link: float      # probability of the chosen source (or of having none)


@dataclass
class Linker:
    content: LogisticScorer
    source: LogisticScorer
    content_threshold: float = 0.2
    source_threshold: float = 0.5

    def link(self, seg: Segmented, spans: list[TaggedSpan]) -> list[LinkedClaim]:
        """Assemble claims from one article's tagged spans, in text order."""
        best_cue: dict[int, tuple[float, TaggedSpan, TaggedSpan]] = {}
        pairs = list(content_pairs(seg, spans))
        if pairs:
            probs = self.content.prob(np.asarray([f for _, _, f in pairs]))
            for (c, q, _), p in zip(pairs, probs):
                if p >= self.content_threshold and (id(c) not in best_cue or p > best_cue[id(c)][0]):
                    best_cue[id(c)] = (float(p), c, q)
        by_cue: dict[int, list[tuple[float, TaggedSpan]]] = {}
        cue_of: dict[int, TaggedSpan] = {}
        for p, c, q in best_cue.values():
            by_cue.setdefault(id(q), []).append((p, c))
            cue_of[id(q)] = q
        contents_of = {k: [c for _, c in v] for k, v in by_cue.items()}
        best_src: dict[int, tuple[float, TaggedSpan]] = {}
        spairs = [x for x in source_pairs(seg, spans, contents_of) if id(x[0]) in by_cue]
        if spairs:
            probs = self.source.prob(np.asarray([f for _, _, f in spairs]))
            for (q, s, _), p in zip(spairs, probs):
                if id(q) not in best_src or p > best_src[id(q)][0]:
                    best_src[id(q)] = (float(p), s)
        out = []
        for k, members in by_cue.items():
            q = cue_of[k]
            p_src, src = best_src.get(k, (0.0, None))
            if p_src < self.source_threshold:
                src, p_src = None, 1.0 - p_src
            out.append(LinkedClaim(q, sorted((c for _, c in members), key=lambda c: c.first), src,
                                   min(p for p, _ in members), p_src))
        out.sort(key=lambda lc: min([lc.cue.first] + [c.first for c in lc.contents]
                                    + ([lc.source.first] if lc.source else [])))
        return out

    def to_dict(self) -> dict:
        return {"content": self.content.to_dict(), "source": self.source.to_dict(),
                "content_threshold": self.content_threshold, "source_threshold": self.source_threshold}

    @classmethod
    def from_dict(cls, d: dict) -> "Linker":
        return cls(LogisticScorer.from_dict(d["content"]), LogisticScorer.from_dict(d["source"]),
                   d.get("content_threshold", 0.2), d.get("source_threshold", 0.5))
