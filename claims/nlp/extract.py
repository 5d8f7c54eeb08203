"""From tagger output to claims: decode spans, link them, resolve speakers, set form and confidence.

``AttributionModel`` is the shipped model directory: the tagger weights, the linker's and the
confidence calibration's coefficients, and the model card. ``build_claims`` is the part of the
pipeline after the encoder; it is deterministic and cheap.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from . import form as form_mod
from ..doc import Claim, Span
from ..errors import ModelError  # noqa: F401 - raised below, imported from here by callers
from .encoder import EncoderConfig
from .link import LinkedClaim, Linker, LogisticScorer
from .model_dir import ModelDir, load_weights, read_config
from .resolve import AliasTable, resolve_sources
from .segment import Segmented
from .tagger import CONTEXTS, LABELS, BoundaryRefiner, DecodeRules, TaggedSpan, TaggerNet, decode

DEFAULT_MODEL_DIR = Path(os.environ.get("CLAIMS_ATTRIBUTION_MODEL")
                         or Path(__file__).resolve().parents[1] / "models" / "attribution")

CONFIDENCE_FEATURES = ("bias", "log_cue_prob", "log_content_prob", "log_content_link", "log_source_link",
                       "has_source", "n_fragments", "log_content_words")


def confidence_features(lc: LinkedClaim) -> list[float]:
    content_prob = float(np.mean([c.prob for c in lc.contents]))
    words = sum(c.last - c.first + 1 for c in lc.contents)
    return [1.0, math.log(max(lc.cue.prob, 1e-6)), math.log(max(content_prob, 1e-6)),
            math.log(max(lc.content_link, 1e-6)), math.log(max(lc.source_link, 1e-6)),
            float(lc.source is not None), float(len(lc.contents)), math.log1p(words)]


@dataclass
class AttributionModel(ModelDir):
    net: TaggerNet
    linker: Linker
    confidence: Optional[LogisticScorer]
    config: dict = field(default_factory=dict)
    path: Optional[Path] = None
    rules: DecodeRules = field(default_factory=DecodeRules)
    transitions: Optional[np.ndarray] = None   # ([n_contexts,] n_labels, n_labels) added to Viterbi's scores

    refiner: Optional[BoundaryRefiner] = None

    def decode(self, seg: Segmented, logprobs: np.ndarray) -> list[TaggedSpan]:
        """Tagged spans under this model's decoding rules and transition scores, content
        boundaries then moved by the refiner if the model has one."""
        spans = decode(seg, logprobs, self.rules, self.transitions)
        return self.refiner.refine(seg, logprobs, spans) if self.refiner is not None else spans

    @classmethod
    def load(cls, path: str | Path | None = None, encoder_config: EncoderConfig | None = None) -> "AttributionModel":
        path = Path(path or DEFAULT_MODEL_DIR)
        config = read_config(path, "attribution", "attribution")
        if list(config.get("labels", [])) != list(LABELS):
            raise ModelError(f"{path}: label set {config.get('labels')} does not match this version {list(LABELS)}")
        enc = encoder_config or EncoderConfig()
        net = load_weights(TaggerNet(enc, enc.num_hidden_layers - int(config["shared_layers"])),
                           path / "tagger.safetensors")
        linker = Linker.from_dict(config["linker"])
        conf = LogisticScorer.from_dict(config["confidence"]) if config.get("confidence") else None
        try:
            rules = DecodeRules.from_config(config.get("decode_rules"))
        except ValueError as e:
            raise ModelError(f"{path}: {e}") from None
        trans = config.get("transitions")
        if trans is not None:
            trans = np.asarray(trans, dtype=np.float64)
            k = len(LABELS)
            if trans.shape not in ((k, k), (len(CONTEXTS), k, k)):
                raise ModelError(f"{path}: transitions must be {k}x{k} or {len(CONTEXTS)}x{k}x{k}, got {trans.shape}")
        try:
            refiner = BoundaryRefiner.from_dict(config["refine"]) if config.get("refine") else None
        except (KeyError, ValueError) as e:
            raise ModelError(f"{path}: {e}") from None
        return cls(net, linker, conf, config, path, rules, trans, refiner)

    def claim_confidence(self, lc: LinkedClaim) -> float:
        if self.confidence is None:
            return float(lc.cue.prob * np.mean([c.prob for c in lc.contents]) * lc.content_link)
        return float(self.confidence.prob(np.asarray([confidence_features(lc)]))[0])


def build_claims(seg: Segmented, logprobs: np.ndarray, model: AttributionModel,
                 aliases: Optional[AliasTable] = None, min_confidence: float = 0.0) -> list[Claim]:
    """Claims of one article from its word log-probabilities (n_words, n_labels)."""
    spans = model.decode(seg, logprobs)
    linked = model.linker.link(seg, spans)
    return claims_from_links(seg, linked, model, aliases, min_confidence)


def claims_from_links(seg: Segmented, linked: list[LinkedClaim], model: AttributionModel,
                      aliases: Optional[AliasTable] = None, min_confidence: float = 0.0) -> list[Claim]:
    text = seg.text
    kept = [(lc, model.claim_confidence(lc)) for lc in linked]
    kept = [(lc, p) for lc, p in kept if p >= min_confidence]

    def span(ts: Optional[TaggedSpan]) -> Optional[Span]:
        return None if ts is None else Span.of(text, ts.start, ts.end)

    speakers = resolve_sources(seg, [span(lc.source) for lc, _ in kept], aliases)
    claims = []
    for n, ((lc, p), speaker) in enumerate(zip(kept, speakers), 1):
        claims.append(Claim(
            id=f"c{n}",
            content=[Span.of(text, c.start, c.end) for c in lc.contents],
            cue=span(lc.cue),
            source=span(lc.source),
            speaker=speaker,
            form=form_mod.classify(seg, [(c.first, c.last) for c in lc.contents]),
            confidence=p,
        ))
    return claims
