"""The attribution tagger: source / cue / content spans over words, BIO with constrained decoding.

The network adds two feature embeddings (casing, quotation state; see ``segment``) to the frozen
trunk's states, runs its own fine-tuned top layers and a linear layer over BIO labels. Decoding is
Viterbi over the word-level log-probabilities with the BIO constraints (``I-x`` only after ``B-x``
or ``I-x``), so every predicted span is well formed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn

from .encoder import EncoderConfig, Top
from .segment import CLOSE_QUOTES, N_CASE, N_QUOTE, OPEN_QUOTES, QUOTE_MARK, Segmented, headline_words

ROLES = ("source", "cue", "content")
LABELS = ("O", "B-source", "I-source", "B-cue", "I-cue", "B-content", "I-content")
LABEL_INDEX = {l: i for i, l in enumerate(LABELS)}


class TaggerNet(nn.Module):
    def __init__(self, cfg: EncoderConfig, top_layers: int, dropout: float = 0.1):
        super().__init__()
        h = cfg.hidden_size
        self.case = nn.Embedding(N_CASE, h)
        self.quote = nn.Embedding(N_QUOTE, h)
        nn.init.zeros_(self.case.weight)  # start exactly at the pretrained model
        nn.init.zeros_(self.quote.weight)
        self.top = Top(cfg, top_layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(h, len(LABELS))
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, trunk_states: torch.Tensor, ids: torch.Tensor,
                case: torch.Tensor, quote: torch.Tensor) -> torch.Tensor:
        # trunk_states: (B, L, H); ids, case, quote: (B, L)
        x = trunk_states + self.case(case) + self.quote(quote)
        x = self.top(x, ids)
        return self.classifier(self.dropout(x))  # (B, L, n_labels)


def _allowed_transitions() -> np.ndarray:
    n = len(LABELS)
    ok = np.ones((n, n), dtype=bool)  # ok[prev, cur]
    for cur, lab in enumerate(LABELS):
        if lab.startswith("I-"):
            role = lab[2:]
            for prev, plab in enumerate(LABELS):
                ok[prev, cur] = plab in (f"B-{role}", f"I-{role}")
    return ok


_ALLOWED = _allowed_transitions()
_START_OK = np.array([not l.startswith("I-") for l in LABELS])


def viterbi(logprobs: np.ndarray, trans: np.ndarray | None = None,
            forbid: dict[int, np.ndarray] | None = None, context: np.ndarray | None = None) -> np.ndarray:
    """Best BIO-valid label sequence for (n_words, n_labels) log-probabilities.

    ``trans`` adds a score to every (previous, current) label pair: one (n_labels, n_labels)
    matrix, or one per context (n_contexts, n_labels, n_labels) with ``context`` (n_words,)
    saying which applies at the transition into each word (see ``transition_context``).
    ``forbid`` maps a word position to a (previous, current) boolean mask of transitions into
    that word that are not allowed (see ``boundary_masks``). At position 0 a marked column
    forbids that label for the first word; a mask at ``n`` (one past the end) forbids a marked
    row's label for the last word.
    """
    n, k = logprobs.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    neg = -1e9
    base = np.where(_ALLOWED, 0.0, neg)  # (k, k)
    if trans is not None:
        trans = np.asarray(trans, dtype=np.float64)
        if trans.ndim == 3:
            if context is None:
                raise ValueError("per-context transition scores need a context per word")
            bases = base[None] + trans
        else:
            base = base + trans
    if trans is None or trans.ndim == 2:
        bases, context = base[None], np.zeros(n, dtype=np.int64)
    forbid = forbid or {}
    score = np.where(_START_OK, logprobs[0], neg)
    if 0 in forbid:
        score = np.where(forbid[0].any(0), neg, score)
    back = np.zeros((n, k), dtype=np.int64)
    for i in range(1, n):
        t = bases[context[i]]
        if i in forbid:
            t = np.where(forbid[i], neg, t)
        cand = score[:, None] + t  # (prev, cur)
        back[i] = cand.argmax(0)
        score = cand.max(0) + logprobs[i]
    if n in forbid:
        score = np.where(forbid[n].any(1), neg, score)
    out = np.zeros(n, dtype=np.int64)
    out[-1] = score.argmax()
    for i in range(n - 1, 0, -1):
        out[i - 1] = back[i, out[i]]
    return out


# -- boundary rules -------------------------------------------------------------------------------

RELATIVE_PRONOUNS = frozenset({"who", "whom", "whose", "which"})
_IN_ROLE = {r: [LABEL_INDEX[f"B-{r}"], LABEL_INDEX[f"I-{r}"]] for r in ROLES}


@dataclass(frozen=True)
class DecodeRules:
    """Hard constraints on decoded spans, each one switchable (the model config names them).

    * ``paragraph``: no span runs on into the next paragraph (PolNeAR's gold content never
      does: a quotation that goes on is annotated paragraph by paragraph);
    * ``quote_continues``: with ``paragraph``, content may still run on when a quotation is open
      at the paragraph's end and the next paragraph opens with a quotation mark (news style for
      a quotation that goes on);
    * ``join_cue``: a cue directly followed by another cue is one cue ("would neither confirm" +
      "nor deny"); applied to the decoded labels, not as a constraint, so no cue word is lost;
    * ``relative_end``: content does not end in a relative pronoun ("... officials who");
    * ``headline_cue``: no cue in a headline or byline line (see ``segment.headline_lines``).
    """

    paragraph: bool = False
    quote_continues: bool = False
    join_cue: bool = False
    relative_end: bool = False
    headline_cue: bool = False

    @classmethod
    def from_config(cls, d: dict | None) -> "DecodeRules":
        d = dict(d or {})
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown decoding rules {sorted(unknown)}; known: {[f.name for f in fields(cls)]}")
        return cls(**{k: bool(v) for k, v in d.items()})

    def to_config(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def boundary_masks(seg: Segmented, rules: DecodeRules) -> dict[int, np.ndarray]:
    """Per-position masks of forbidden (previous, current) label transitions for ``viterbi``."""
    k = len(LABELS)
    n = len(seg)
    masks: dict[int, np.ndarray] = {}

    def mask(i: int) -> np.ndarray:
        if i not in masks:
            masks[i] = np.zeros((k, k), dtype=bool)
        return masks[i]

    if rules.paragraph and n:
        open_at_end = quotation_open_at_paragraph_end(seg)
        for i in np.nonzero(seg.paragraph[1:] != seg.paragraph[:-1])[0] + 1:
            i = int(i)
            m = mask(i)
            for r in ROLES:
                if r == "content" and rules.quote_continues and open_at_end.get(int(seg.paragraph[i - 1]), False) \
                        and seg.quote[i] == QUOTE_MARK:
                    continue
                m[np.ix_(_IN_ROLE[r], [LABEL_INDEX[f"I-{r}"]])] = True
    if rules.relative_end:
        keep = [j for j in range(k) if j != LABEL_INDEX["I-content"]]
        for i in range(n):
            if seg.word(i).lower() in RELATIVE_PRONOUNS:
                mask(i + 1)[np.ix_(_IN_ROLE["content"], keep)] = True
    if rules.headline_cue:
        cue = [LABEL_INDEX["B-cue"], LABEL_INDEX["I-cue"]]
        for i in np.nonzero(headline_words(seg))[0]:
            i = int(i)
            mask(i)[:, cue] = True
    return masks


CONTEXTS = ("in sentence", "sentence start", "paragraph start")


def transition_context(seg: Segmented) -> np.ndarray:
    """Per word, which transition scores lead into it: 0 inside a sentence, 1 at the first word
    of a sentence, 2 at the first word of a paragraph (word 0 counts as a paragraph start)."""
    ctx = np.zeros(len(seg), dtype=np.int64)
    if len(seg):
        ctx[1:][seg.sentence[1:] != seg.sentence[:-1]] = 1
        ctx[1:][seg.paragraph[1:] != seg.paragraph[:-1]] = 2
        ctx[0] = 2
    return ctx


def quotation_open_at_paragraph_end(seg: Segmented) -> dict[int, bool]:
    """Paragraph index -> whether its last quotation mark leaves a quotation open."""
    out: dict[int, bool] = {}
    inside, par = False, -1
    i = 0
    while i < len(seg):
        if seg.paragraph[i] != par:
            inside, par = False, int(seg.paragraph[i])
        if seg.quote[i] == QUOTE_MARK:
            w = seg.word(i)
            if w in OPEN_QUOTES:
                inside = True
            elif w in CLOSE_QUOTES:
                inside = False
            else:
                inside = not inside
                if w in ("'", "`") and i + 1 < len(seg) and seg.quote[i + 1] == QUOTE_MARK \
                        and seg.word(i + 1) == w:
                    i += 1  # a '' or `` pair is one mark
        out[par] = inside
        i += 1
    return out


@dataclass
class TaggedSpan:
    role: str
    first: int      # first word (inclusive)
    last: int       # last word (inclusive)
    start: int      # char offsets
    end: int
    prob: float     # mean probability of the decoded labels over the span


def decode(seg: Segmented, logprobs: np.ndarray, rules: DecodeRules | None = None,
           trans: np.ndarray | None = None) -> list[TaggedSpan]:
    """Spans from word log-probabilities, in text order, under ``rules`` and learned ``trans``
    (one matrix, or one per ``transition_context``)."""
    forbid = boundary_masks(seg, rules) if rules is not None and rules.any else None
    context = transition_context(seg) if trans is not None and np.ndim(trans) == 3 else None
    labels = viterbi(logprobs, trans, forbid, context)
    probs = np.exp(logprobs[np.arange(len(labels)), labels]) if len(labels) else np.zeros(0)
    spans: list[TaggedSpan] = []
    i = 0
    while i < len(labels):
        lab = LABELS[labels[i]]
        if lab == "O":
            i += 1
            continue
        role = lab[2:]
        j = i
        joins = ("I-cue", "B-cue") if role == "cue" and rules is not None and rules.join_cue else (f"I-{role}",)
        while j + 1 < len(labels) and LABELS[labels[j + 1]] in joins:
            j += 1
        s, e = seg.char_span(i, j)
        spans.append(TaggedSpan(role, i, j, s, e, float(probs[i:j + 1].mean())))
        i = j + 1
    return spans


# -- boundary refinement --------------------------------------------------------------------------

REFINE_WINDOW = 3
_B, _I = LABEL_INDEX["B-content"], LABEL_INDEX["I-content"]
_O = LABEL_INDEX["O"]


def _flags(seg: Segmented, i: int) -> list[float]:
    """Surface flags of word i (all zero outside the text)."""
    if i < 0 or i >= len(seg):
        return [0.0] * 7
    w = seg.word(i)
    return [float(not any(c.isalnum() for c in w)), float(seg.quote[i] == QUOTE_MARK),
            float(w in (".", "!", "?")), float(w in (",", ";", ":")), float(w.lower() == "that"),
            float(w.lower() in RELATIVE_PRONOUNS),
            float(i + 1 >= len(seg) or seg.sentence[i + 1] != seg.sentence[i])]


def _probs(p: np.ndarray, i: int) -> list[float]:
    if i < 0 or i >= len(p):
        return [0.0, 0.0, 1.0, 0.0]
    return [float(p[i, _B]), float(p[i, _I]), float(p[i, _O]),
            float(p[i, LABEL_INDEX["B-cue"]] + p[i, LABEL_INDEX["I-cue"]])]


def boundary_features(seg: Segmented, probs: np.ndarray, side: str, pos: int, offset: int) -> list[float]:
    """Features of word ``pos`` as the first (``side="start"``) or last (``"end"``) word of a
    content span whose decoded boundary is ``offset`` words away: an indicator of the offset,
    label probabilities and surface flags of the word and its outer neighbour."""
    onehot = [float(offset == d) for d in range(-REFINE_WINDOW, REFINE_WINDOW + 1)]
    outer = pos - 1 if side == "start" else pos + 1
    par = float(outer < 0 or outer >= len(seg) or seg.paragraph[outer] != seg.paragraph[pos])
    return onehot + _probs(probs, pos) + _probs(probs, outer) + _flags(seg, pos) + _flags(seg, outer) + [par]


N_BOUNDARY_FEATURES = 2 * REFINE_WINDOW + 1 + 4 + 4 + 7 + 7 + 1


def boundary_candidates(seg: Segmented, span: TaggedSpan, side: str, lo: int, hi: int) -> list[int]:
    """Word positions within the window of a content span's start or end, inside [lo, hi] (the
    room between its neighbouring spans), the same paragraph, and never past the other end."""
    if side == "start":
        anchor, keep = span.first, lambda j: j <= span.last
    else:
        anchor, keep = span.last, lambda j: j >= span.first
    par = seg.paragraph[anchor]
    return [j for j in range(anchor - REFINE_WINDOW, anchor + REFINE_WINDOW + 1)
            if lo <= j <= hi and keep(j) and seg.paragraph[j] == par]


@dataclass
class BoundaryRefiner:
    """Moves each decoded content span's start and end to the best-scored word within
    ``REFINE_WINDOW`` words (a conditional logit over the candidates, one weight vector per side)."""

    start: np.ndarray     # (N_BOUNDARY_FEATURES,)
    end: np.ndarray

    def to_dict(self) -> dict:
        return {"window": REFINE_WINDOW, "start": [round(float(x), 5) for x in self.start],
                "end": [round(float(x), 5) for x in self.end]}

    @classmethod
    def from_dict(cls, d: dict) -> "BoundaryRefiner":
        start, end = np.asarray(d["start"], dtype=np.float64), np.asarray(d["end"], dtype=np.float64)
        if d.get("window") != REFINE_WINDOW or start.shape != (N_BOUNDARY_FEATURES,) or end.shape != start.shape:
            raise ValueError(f"boundary refiner does not fit this version (window {REFINE_WINDOW}, "
                             f"{N_BOUNDARY_FEATURES} features per side)")
        return cls(start, end)

    def refine(self, seg: Segmented, logprobs: np.ndarray, spans: list[TaggedSpan]) -> list[TaggedSpan]:
        probs = np.exp(logprobs)
        out = list(spans)
        for k, s in enumerate(spans):
            if s.role != "content":
                continue
            lo = spans[k - 1].last + 1 if k > 0 else 0
            hi = spans[k + 1].first - 1 if k + 1 < len(spans) else len(seg) - 1
            first, last = s.first, s.last
            for side, w in (("start", self.start), ("end", self.end)):
                cands = boundary_candidates(seg, s, side, lo, hi)
                anchor = s.first if side == "start" else s.last
                if len(cands) < 2:
                    continue
                X = np.asarray([boundary_features(seg, probs, side, j, j - anchor) for j in cands])
                best = cands[int(np.argmax(X @ w))]
                first, last = (best, last) if side == "start" else (first, best)
            if first > last or (first, last) == (s.first, s.last):
                continue
            cs, ce = seg.char_span(first, last)
            lab = np.concatenate([[_B], np.full(last - first, _I)])
            prob = float(np.exp(logprobs[np.arange(first, last + 1), lab]).mean())
            out[k] = TaggedSpan("content", first, last, cs, ce, prob)
        return out
