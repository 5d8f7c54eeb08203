"""The attribution tagger: source / cue / content spans over words, BIO with constrained decoding.

The network adds two feature embeddings (casing, quotation state; see ``segment``) to the frozen
trunk's states, runs its own fine-tuned top layers and a linear layer over BIO labels. Decoding is
Viterbi over the word-level log-probabilities with the BIO constraints (``I-x`` only after ``B-x``
or ``I-x``), so every predicted span is well formed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .encoder import EncoderConfig, Top
from .segment import N_CASE, N_QUOTE, Segmented

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


def viterbi(logprobs: np.ndarray) -> np.ndarray:
    """Best BIO-valid label sequence for (n_words, n_labels) log-probabilities."""
    n, k = logprobs.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    neg = -1e9
    trans = np.where(_ALLOWED, 0.0, neg)  # (k, k)
    score = np.where(_START_OK, logprobs[0], neg)
    back = np.zeros((n, k), dtype=np.int64)
    for i in range(1, n):
        cand = score[:, None] + trans  # (prev, cur)
        back[i] = cand.argmax(0)
        score = cand.max(0) + logprobs[i]
    out = np.zeros(n, dtype=np.int64)
    out[-1] = score.argmax()
    for i in range(n - 1, 0, -1):
        out[i - 1] = back[i, out[i]]
    return out


@dataclass
class TaggedSpan:
    role: str
    first: int      # first word (inclusive)
    last: int       # last word (inclusive)
    start: int      # char offsets
    end: int
    prob: float     # mean probability of the decoded labels over the span


def decode(seg: Segmented, logprobs: np.ndarray) -> list[TaggedSpan]:
    """Spans from word log-probabilities, in text order."""
    labels = viterbi(logprobs)
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
        while j + 1 < len(labels) and LABELS[labels[j + 1]] == f"I-{role}":
            j += 1
        s, e = seg.char_span(i, j)
        spans.append(TaggedSpan(role, i, j, s, e, float(probs[i:j + 1].mean())))
        i = j + 1
    return spans


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


def save_config(path: Path, config: dict) -> None:
    (path / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
