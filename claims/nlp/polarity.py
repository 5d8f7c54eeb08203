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

from .encoder import EncoderConfig, Top

CONFIG_FILE, WEIGHTS_FILE = "polarity.json", "polarity.safetensors"   # beside the stance model's files
POLARITY_LABELS = ("favor", "against", "neutral")
MAX_PROP, MAX_CONTEXT, MAX_CLAIM = 48, 64, 128


class PolarityNet(nn.Module):
    def __init__(self, cfg: EncoderConfig, top_layers: int, dropout: float = 0.1):
        super().__init__()
        self.top = Top(cfg, top_layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(cfg.hidden_size, len(POLARITY_LABELS)))

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
        if trunk is not None and trunk.n_layers != shared:
            if trunk.n_layers < shared:
                raise ModelError(f"the polarity model at {path} needs {shared} shared layers; the trunk has "
                                 f"{trunk.n_layers}")
            trunk = trunk.prefix(shared)
        if trunk is None:
            from .encoder import build_trunk
            trunk = build_trunk(shared)
        net = PolarityNet(encoder_config, encoder_config.num_hidden_layers - shared)
        net.load_state_dict({k: v.float() for k, v in load_file(str(path / WEIGHTS_FILE)).items()})
        net.eval()
        return cls(net, config, tokenizer, trunk, path)

    def logits(self, ids: torch.Tensor, trunk=None) -> torch.Tensor:
        trunk = trunk or self.trunk
        with torch.no_grad():
            h = trunk(ids)
        return self.net(h, ids)

    @torch.inference_mode()
    def probs(self, props: list[str], contexts: list[str], claims: list[str], batch_size: int = 32) -> np.ndarray:
        """(N, 3) favor / against / neutral probabilities, batched shortest first."""
        out = np.zeros((len(props), len(POLARITY_LABELS)), dtype=np.float32)
        order = sorted(range(len(props)), key=lambda i: len(contexts[i]) + len(claims[i]) + len(props[i]))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            ids = encode_pairs(self.tokenizer, [props[i] for i in idx], [contexts[i] for i in idx],
                               [claims[i] for i in idx])
            out[idx] = F.softmax(self.logits(ids) / self.temperature, -1).numpy()
        return out


def combine(first: np.ndarray, polarity: np.ndarray) -> np.ndarray:
    """Four-way probabilities: the first stage's unrelated, the rest shared out by the polarity stage."""
    related = 1.0 - first[..., 3:4]
    return np.concatenate([related * polarity, first[..., 3:4]], -1)
