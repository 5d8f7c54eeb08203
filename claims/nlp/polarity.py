"""The second stance stage: which side a related claim takes (favor / against / neutral).

The first stage (``claims.nlp.stance``, late interaction) is cheap and decides whether a claim bears on a
dispute at all; it reads the proposition and the claim through a small head only, which is enough
for topic but not for polarity ("denies the allegations" against "hitting moderate rebels"). This
stage is a cross-encoder: the proposition and the claim in its context go through the encoder's
top layers **together**, so that every layer can compare them. It runs only on pairs the first stage
finds likely related, so its cost follows the number of related pairs, not of disputes.

Input: ``[CLS] proposition [SEP] context [SEP] source cue content [SEP]`` where context is the text
from the start of the previous sentence up to the claim, and the claim's spans are joined in text
order. The frozen trunk (embeddings and the first layers, shared with the other models) encodes
it; this model's own top layers and a linear layer give favor / against / neutral.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .encoder import EncoderConfig, Top, trunk_for

CONFIG_FILE, WEIGHTS_FILE = "polarity.json", "polarity.safetensors"   # beside the stance model's files
POLARITY_LABELS = ("favor", "against", "neutral")
FOUR_LABELS = (*POLARITY_LABELS, "unrelated")   # a model trained with unrelated pairs too (``--unrelated``)
MAX_PROP, MAX_CONTEXT, MAX_CLAIM = 48, 64, 128


class PolarityNet(nn.Module):
    def __init__(self, cfg: EncoderConfig, top_layers: int, dropout: float = 0.1, n_labels: int = len(POLARITY_LABELS)):
        super().__init__()
        self.top = Top(cfg, top_layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(cfg.hidden_size, n_labels))

    def forward(self, trunk_states: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        h = self.top(trunk_states, ids)
        return self.classifier(h[:, 0])


def claim_in_context(text: str, sentence_spans: list[tuple[int, int]], claim) -> tuple[str, str]:
    """(context, claim text): the text from the start of the sentence before the claim up to the
    claim, and the claim's source, cue and content spans joined in text order."""
    spans = sorted([s for s in [claim.source, claim.cue, *claim.content] if s is not None], key=lambda s: s.start)
    if not spans:
        return "", ""
    start = spans[0].start
    starts = [s for s, _ in sentence_spans]
    k = bisect_right(starts, start) - 1
    ctx_start = sentence_spans[max(k - 1, 0)][0] if sentence_spans else 0
    context = text[min(ctx_start, start):start]
    return " ".join(context.split()), " ".join(text[s.start:s.end] for s in spans)


def encode_pairs(tok, props: list[str], contexts: list[str], claims: list[str]) -> torch.Tensor:
    """Padded ids (N, L): [CLS] proposition [SEP] context (its end) [SEP] claim [SEP]."""
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    rows = []
    cache: dict[str, list[int]] = {}

    def ids(s: str) -> list[int]:
        if s not in cache:
            cache[s] = tok.encode(s, add_special_tokens=False).ids
        return cache[s]

    for p, c, t in zip(props, contexts, claims):
        ctx = ids(c)[-MAX_CONTEXT:] if c else []
        rows.append([cls_id, *ids(p)[:MAX_PROP], sep_id, *ctx, sep_id, *ids(t)[:MAX_CLAIM], sep_id])
    out = torch.zeros((len(rows), max(len(r) for r in rows)), dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out


@dataclass
class PolarityModel:
    net: PolarityNet
    config: dict
    tokenizer: object
    trunk: Optional[nn.Module] = None
    path: Optional[Path] = None

    @property
    def temperature(self) -> float:
        return float(self.config.get("temperature", 1.0))

    @property
    def gate(self) -> float:
        """Pairs whose related probability (first stage) is under this are not read again."""
        return float(self.config.get("gate", 0.15))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.config.get("labels", POLARITY_LABELS))

    @property
    def reads_relatedness(self) -> bool:
        """True for a four-way model, whose unrelated probability is mixed with the first stage's."""
        return len(self.labels) == len(FOUR_LABELS)

    @property
    def unrelated_weight(self) -> float:
        """Weight of the first stage's unrelated probability in the mix (four-way models; fitted on dev)."""
        return float(self.config.get("unrelated_weight", 1.0))

    @classmethod
    def load(cls, path, encoder_config: EncoderConfig, tokenizer, trunk=None,
             config_file: str = CONFIG_FILE) -> "PolarityModel":
        """From a directory holding ``polarity.json`` and ``polarity.safetensors`` (a stance model's
        directory, or a training run's, whose config is ``config.json``)."""
        from safetensors.torch import load_file
        from ..errors import ModelError

        path = Path(path)
        if not (path / config_file).exists():
            raise ModelError(f"no polarity model at {path} ({config_file} missing); "
                             "train one with `python -m training.polarity --install`")
        config = json.loads((path / config_file).read_text())
        shared = int(config["shared_layers"])
        if trunk is None:
            from .encoder import build_trunk
            trunk = build_trunk(shared)
        trunk = trunk_for(trunk, shared, f"the polarity model at {path}")
        net = PolarityNet(encoder_config, encoder_config.num_hidden_layers - shared,
                          n_labels=len(config.get("labels", POLARITY_LABELS)))
        net.load_state_dict({k: v.float() for k, v in load_file(str(path / WEIGHTS_FILE)).items()})
        net.eval()
        return cls(net, config, tokenizer, trunk, path)

    def logits(self, ids: torch.Tensor, trunk=None) -> torch.Tensor:
        trunk = trunk or self.trunk
        with torch.no_grad():
            h = trunk(ids)
        return self.net(h, ids)

    @property
    def negation_tta(self) -> bool:
        """A pair that may get a side is read a second time with the proposition negated, and the two
        readings (favor and against swapped back) averaged: a side must survive both (chosen on dev)."""
        return bool(self.config.get("negation_tta", False))

    @torch.inference_mode()
    def probs(self, props: list[str], contexts: list[str], claims: list[str], batch_size: int = 32,
              related: Optional[np.ndarray] = None) -> np.ndarray:
        """(N, 3) favor / against / neutral probabilities (N, 4 with unrelated for a four-way model),
        batched shortest first. ``related``: the first stage's related probability per pair, which
        decides, with ``negation_tta``, which pairs are read again (``reread``)."""
        out = self._probs(props, contexts, claims, batch_size)
        if self.negation_tta:
            again = np.flatnonzero(reread(out, related))
            if len(again):
                neg = self._probs([negate(props[i]) for i in again], [contexts[i] for i in again],
                                  [claims[i] for i in again], batch_size)
                out[again] = average_with_negated(out[again], neg)
        return out

    def _probs(self, props: list[str], contexts: list[str], claims: list[str], batch_size: int) -> np.ndarray:
        out = np.zeros((len(props), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(props)), key=lambda i: len(contexts[i]) + len(claims[i]) + len(props[i]))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            ids = encode_pairs(self.tokenizer, [props[i] for i in idx], [contexts[i] for i in idx],
                               [claims[i] for i in idx])
            out[idx] = F.softmax(self.logits(ids) / self.temperature, -1).numpy()
        return out


def negate(proposition: str, template: str = "It is not true that {}") -> str:
    """The proposition's negation through ``template``: "It is not true that ..." (read for
    ``negation_tta``), or another (training draws from several). A template opening with the
    proposition keeps its capital."""
    p = proposition.strip()
    body = p[0].lower() + p[1:] if len(p) > 1 and not p[1].isupper() else p
    return template.format(p) if template.startswith("{}") else template.format(body)


REREAD_AT = 0.25   # a pair is read again with the negated proposition when a side may reach this


def reread(p: np.ndarray, related: Optional[np.ndarray] = None) -> np.ndarray:
    """Pairs whose likelier side, weighted by the related probability, reaches ``REREAD_AT``: the
    only ones that can be given a side (every side threshold fitted on dev is above it)."""
    rel = np.ones(len(p)) if related is None else np.asarray(related)
    return rel * p[:, :2].max(-1) >= REREAD_AT


def average_with_negated(p: np.ndarray, p_negated: np.ndarray) -> np.ndarray:
    """The mean of a reading and of the negated proposition's reading with favor and against swapped."""
    swapped = p_negated.copy()
    swapped[..., [0, 1]] = p_negated[..., [1, 0]]
    return (p + swapped) / 2.0


def combine(first: np.ndarray, polarity: np.ndarray, unrelated_weight: float = 1.0) -> np.ndarray:
    """Four-way probabilities: the unrelated probability, the related rest shared out by the polarity
    stage's favor / against / neutral. A three-way polarity stage leaves unrelated to the first stage;
    a four-way one's is mixed in: ``w * first + (1 - w) * second``."""
    unrelated = first[..., 3:4]
    sides = polarity[..., :3]
    if polarity.shape[-1] == 4:
        unrelated = unrelated_weight * unrelated + (1.0 - unrelated_weight) * polarity[..., 3:4]
        sides = sides / np.clip(sides.sum(-1, keepdims=True), 1e-9, None)
    return np.concatenate([(1.0 - unrelated) * sides, unrelated], -1)
