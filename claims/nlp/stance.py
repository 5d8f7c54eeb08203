"""Stance of each claim toward each dispute: favor / against / neutral / unrelated.

Late interaction, so that what is costly is done once per article or once per dispute, and only a
small head runs per (claim, dispute) pair (``python -m eval.bench``: about one bare encoder pass
with 3 disputes, about three with 20):

* the stance model's own top layers run once over the article windows, on the frozen trunk states
  the tagger also uses, giving contextual states for every subword of the article;
* each proposition is encoded once per run (cached by its text);
* a small head lets the proposition's tokens attend to the claim's tokens, each marked with its
  role (source, cue, content), and classifies the pair. The cue's and source's roles are what
  make "Moscow denies the allegations" come out against a proposition its content never states.

The head is trained on the stance corpora (``training.stance``), where the text's own
attributions (found by the tagger) supply the roles. Probabilities are temperature-scaled on dev.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..doc import STANCE_LABELS, ArticleResult, Dispute, Stance
from ..errors import ModelError
from .encoder import EncoderConfig, Top, trunk_for
from .model_dir import ModelDir, load_weights, read_config
from .segment import Prepared

DEFAULT_STANCE_DIR = Path(os.environ.get("CLAIMS_STANCE_MODEL")
                          or Path(__file__).resolve().parents[1] / "models" / "stance")

ROLE_PAD, ROLE_SOURCE, ROLE_CUE, ROLE_CONTENT, ROLE_CONTEXT = range(5)
MAX_CLAIM_TOKENS = 160   # subwords of one claim given to the head (source + cue + content)
SIDES = (0, 1)           # indices of favor and against in STANCE_LABELS
MAX_TARGET_TOKENS = 64
PROPOSITION_CACHE = 4096   # propositions kept encoded (disputes are few; scoring benchmarks bring many)


class HeadBlock(nn.Module):
    """Proposition tokens attend to themselves, then to the claim's tokens; then a feed-forward."""

    def __init__(self, h: int, heads: int = 6, ff: int = 768, dropout: float = 0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(h, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(h, heads, dropout=dropout, batch_first=True)
        self.n1, self.n2, self.n3 = nn.LayerNorm(h), nn.LayerNorm(h), nn.LayerNorm(h)
        self.ff = nn.Sequential(nn.Linear(h, ff), nn.GELU(), nn.Linear(ff, h))
        self.drop = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor, q_pad: torch.Tensor, kv: torch.Tensor, kv_pad: torch.Tensor) -> torch.Tensor:
        # q: (N, Lp, H) proposition tokens; kv: (N, Lc, H) claim tokens; *_pad: True at padding
        x = self.n1(q + self.drop(self.self_attn(q, q, q, key_padding_mask=q_pad, need_weights=False)[0]))
        x = self.n2(x + self.drop(self.cross_attn(x, kv, kv, key_padding_mask=kv_pad, need_weights=False)[0]))
        return self.n3(x + self.drop(self.ff(x)))

    # -- inference with the claim side computed once for all disputes ---------------------------

    def self_part(self, q: torch.Tensor, q_pad: torch.Tensor) -> torch.Tensor:
        return self.n1(q + self.self_attn(q, q, q, key_padding_mask=q_pad, need_weights=False)[0])

    def kv_proj(self, kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the cross-attention for claim tokens (..., H)."""
        a, h = self.cross_attn, kv.shape[-1]
        w, b = a.in_proj_weight, a.in_proj_bias
        return F.linear(kv, w[h:2 * h], b[h:2 * h]), F.linear(kv, w[2 * h:], b[2 * h:])

    def cross_part(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kv_pad: torch.Tensor) -> torch.Tensor:
        """The cross-attention and feed-forward of ``forward`` (eval mode) on projected keys/values."""
        a = self.cross_attn
        n, lq, h = x.shape
        nh = a.num_heads
        hd = h // nh
        q = F.linear(x, a.in_proj_weight[:h], a.in_proj_bias[:h]).view(n, lq, nh, hd).transpose(1, 2)
        k = k.view(n, -1, nh, hd).transpose(1, 2)
        v = v.view(n, -1, nh, hd).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=(~kv_pad)[:, None, None, :])
        x = self.n2(x + a.out_proj(o.transpose(1, 2).reshape(n, lq, h)))
        return self.n3(x + self.ff(x))


class StanceNet(nn.Module):
    def __init__(self, cfg: EncoderConfig, top_layers: int, head_layers: int = 2, dropout: float = 0.1,
                 roles: int = 4):
        super().__init__()
        h = cfg.hidden_size
        self.top = Top(cfg, top_layers)
        self.role = nn.Embedding(roles, h)   # pad, source, cue, content (and context when trained with it)
        nn.init.normal_(self.role.weight, std=0.02)
        self.blocks = nn.ModuleList(HeadBlock(h, dropout=dropout) for _ in range(head_layers))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * h, h), nn.GELU(),
                                        nn.Dropout(dropout), nn.Linear(h, len(STANCE_LABELS)))

    def encode(self, trunk_states: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Contextual states of this model's top layers, (B, L, H)."""
        return self.top(trunk_states, ids)

    def pair_logits(self, prop: torch.Tensor, prop_pad: torch.Tensor,
                    claim: torch.Tensor, roles: torch.Tensor) -> torch.Tensor:
        """prop: (N, Lp, H), prop_pad: (N, Lp) True at padding; claim: (N, Lc, H), roles: (N, Lc)
        with ROLE_PAD at padding. Returns (N, 4) logits."""
        claim_pad = roles == ROLE_PAD
        kv = claim + self.role(roles)
        x = prop
        for block in self.blocks:
            x = block(x, prop_pad, kv, claim_pad)
        keep = (~prop_pad).unsqueeze(-1).float()
        prop_mean = (x * keep).sum(1) / keep.sum(1).clamp(min=1)
        content = (roles == ROLE_CONTENT).unsqueeze(-1).float()
        content_mean = (claim * content).sum(1) / content.sum(1).clamp(min=1)
        cue = (roles == ROLE_CUE).unsqueeze(-1).float()
        cue_mean = (claim * cue).sum(1) / cue.sum(1).clamp(min=1)
        feats = torch.cat([x[:, 0], prop_mean, content_mean * prop_mean, cue_mean], -1)
        return self.classifier(feats)

    def cross_logits(self, props: list[torch.Tensor], claims: list[torch.Tensor], roles: list[torch.Tensor],
                     batch_pairs: int = 256) -> torch.Tensor:
        """Logits (n_claims, n_props, 4) of every claim against every proposition; the same as
        ``pair_logits`` over all pairs (in eval mode), but what depends on one side only is computed
        once: the claim tokens' keys and values and pooled states per claim, the first
        self-attention per proposition. Claims go shortest first, so batches pad little."""
        nd, nc = len(props), len(claims)
        out = torch.zeros((nc, nd, len(STANCE_LABELS)))
        if not nd or not nc:
            return out
        claims = [c[:MAX_CLAIM_TOKENS] for c in claims]
        roles = [r[:MAX_CLAIM_TOKENS].long() for r in roles]
        lens = [len(c) for c in claims]
        # claim side: role-marked tokens, each block's keys and values, pooled content and cue
        kv_all = torch.cat(claims) + self.role(torch.cat(roles))
        kvs = [blk.kv_proj(kv_all) for blk in self.blocks]
        bounds = np.cumsum([0] + lens)
        pooled = []
        for c, r in zip(claims, roles):
            content, cue = r == ROLE_CONTENT, r == ROLE_CUE
            pooled.append((c[content].sum(0) / max(int(content.sum()), 1), c[cue].sum(0) / max(int(cue.sum()), 1)))
        # proposition side: padded states and the first block's self-attention
        lp = max(len(p) for p in props)
        prop = pad_stack(props, lp)
        prop_pad = pad_stack([torch.zeros(len(p), dtype=torch.bool) for p in props], lp, True)
        first = self.blocks[0].self_part(prop, prop_pad)
        keep = (~prop_pad).unsqueeze(-1).float()
        order = sorted(range(nc), key=lambda i: lens[i])
        per = max(1, batch_pairs // nd)
        for b in range(0, nc, per):
            idx = order[b:b + per]
            lc = max(lens[i] for i in idx)
            pad = pad_stack([torch.zeros(lens[i], dtype=torch.bool) for i in idx], lc, True)
            pad = pad.repeat_interleave(nd, 0)
            x = first.repeat(len(idx), 1, 1)
            xp = prop_pad.repeat(len(idx), 1)
            for j, blk in enumerate(self.blocks):
                k = pad_stack([kvs[j][0][bounds[i]:bounds[i + 1]] for i in idx], lc).repeat_interleave(nd, 0)
                v = pad_stack([kvs[j][1][bounds[i]:bounds[i + 1]] for i in idx], lc).repeat_interleave(nd, 0)
                if j > 0:
                    x = blk.self_part(x, xp)
                x = blk.cross_part(x, k, v, pad)
            kp = keep.repeat(len(idx), 1, 1)
            prop_mean = (x * kp).sum(1) / kp.sum(1).clamp(min=1)
            content_mean = torch.stack([pooled[i][0] for i in idx]).repeat_interleave(nd, 0)
            cue_mean = torch.stack([pooled[i][1] for i in idx]).repeat_interleave(nd, 0)
            feats = torch.cat([x[:, 0], prop_mean, content_mean * prop_mean, cue_mean], -1)
            out[idx] = self.classifier(feats).view(len(idx), nd, -1).float()
        return out


def pad_stack(rows: list[torch.Tensor], length: int, value: float = 0.0) -> torch.Tensor:
    """Stack (L_i, ...) tensors into (N, length, ...), truncating or padding."""
    out = rows[0].new_full((len(rows), length, *rows[0].shape[1:]), value)
    for i, r in enumerate(rows):
        n = min(len(r), length)
        out[i, :n] = r[:n]
    return out


def stance_config(path: str | Path | None = None) -> tuple[Path, dict]:
    """The stance model directory (default: the shipped one) and its config, read before the
    weights: how many frozen layers it reads decides the trunk it is loaded on."""
    path = Path(path or DEFAULT_STANCE_DIR)
    return path, read_config(path, "stance", "stance")


@dataclass
class StanceModel(ModelDir):
    net: StanceNet
    config: dict
    tokenizer: object
    trunk: Optional[nn.Module] = None
    path: Optional[Path] = None
    polarity: Optional[object] = None   # the second stage (claims.nlp.polarity.PolarityModel), when shipped
    _prop_cache: dict = field(default_factory=dict)

    @property
    def context_tokens(self) -> int:
        """Subwords before the claim (the previous sentence and the claim's own) given to the head."""
        return int(self.config.get("context_tokens", 0))

    @property
    def side_threshold(self) -> float:
        """A side (favor / against) is given only at this probability or above (fitted on dev, for
        the two stages together where the second is present)."""
        if self.polarity is not None:
            return float(self.polarity.config.get("side_threshold", 0.0))
        return float(self.config.get("side_threshold", 0.0))

    @classmethod
    def load(cls, path: str | Path | None, encoder_config: EncoderConfig, tokenizer, trunk=None) -> "StanceModel":
        path, config = stance_config(path)
        if list(config.get("labels", [])) != list(STANCE_LABELS):
            raise ModelError(f"{path}: stance labels {config.get('labels')} differ from {list(STANCE_LABELS)}")
        net = load_weights(StanceNet(encoder_config, encoder_config.num_hidden_layers - int(config["shared_layers"]),
                                     int(config.get("head_layers", 2)), roles=int(config.get("roles", 4))),
                           path / "stance.safetensors")
        if trunk is not None:
            trunk = trunk_for(trunk, int(config["shared_layers"]), f"the stance model at {path}")
        polarity = None
        if (path / "polarity.json").exists():
            from .polarity import PolarityModel
            polarity = PolarityModel.load(path, encoder_config, tokenizer, trunk)
        return cls(net, config, tokenizer, trunk, path, polarity)

    # -- propositions ------------------------------------------------------------------------

    def encode_propositions(self, texts: list[str], trunk=None) -> list[torch.Tensor]:
        """(L_i, H) states per proposition, not cached; gradients reach this model's layers when
        enabled (training), never the frozen trunk."""
        trunk = trunk or self.trunk
        sep = self.tokenizer.token_to_id("[SEP]")
        encs = [self.tokenizer.encode(t).ids[:MAX_TARGET_TOKENS - 1] + [sep] for t in texts]
        ids = torch.zeros((len(encs), max(len(e) for e in encs)), dtype=torch.long)
        for i, e in enumerate(encs):
            ids[i, :len(e)] = torch.tensor(e)
        with torch.no_grad():
            h = trunk(ids)
        states = self.net.encode(h, ids)
        return [states[i, :len(e)] for i, e in enumerate(encs)]

    @torch.inference_mode()
    def proposition_states(self, texts: list[str], trunk=None) -> list[torch.Tensor]:
        """(L_i, H) states per proposition, computed once per text and cached."""
        trunk = trunk or self.trunk
        missing = [t for t in dict.fromkeys(texts) if t not in self._prop_cache]
        if missing:
            for t, st in zip(missing, self.encode_propositions(missing, trunk)):
                self._prop_cache[t] = st.clone()
            while len(self._prop_cache) > PROPOSITION_CACHE:
                self._prop_cache.pop(next(iter(self._prop_cache)))  # oldest first
        return [self._prop_cache[t] if t in self._prop_cache else self.proposition_states([t], trunk)[0]
                for t in texts]

    # -- articles ----------------------------------------------------------------------------

    def encode_states(self, trunk_states: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return self.net.encode(trunk_states, ids)

    @torch.inference_mode()
    def score_articles(self, results: list[ArticleResult], prepared: list[Prepared],
                       window_states: list, disputes: list[Dispute], batch_pairs: int = 64) -> None:
        """Set ``claim.stance`` for every claim of every result, from the stance states of the
        article windows (a list of (windows, states (B, L, H)) batches)."""
        if not disputes:
            return
        sub_states = _subword_states(prepared, window_states)
        claim_rows, claim_roles, owners, where = [], [], [], []
        for k, (res, prep) in enumerate(zip(results, prepared)):
            for claim in res.claims:
                idx, roles = claim_subwords(prep, claim, self.context_tokens)
                if len(idx) == 0:
                    continue
                claim_rows.append(sub_states[k][idx])
                claim_roles.append(torch.from_numpy(roles))
                owners.append(claim)
                where.append((res.text, prep.seg.sentence_spans))
        if not owners:
            return
        props = self.proposition_states([d.proposition for d in disputes])
        self._score_pairs(owners, claim_rows, claim_roles, props, disputes, batch_pairs, where)

    def _score_pairs(self, owners, claim_rows, claim_roles, props, disputes, batch_pairs: int,
                     where: list | None = None) -> None:
        logits = self.net.cross_logits(props, claim_rows, claim_roles, batch_pairs)
        probs = F.softmax(logits / self.temperature, -1).numpy()
        if self.polarity is not None and where is not None:
            probs = self._second_stage(probs, owners, disputes, where)
        for c, claim in enumerate(owners):
            for d, dispute in enumerate(disputes):
                claim.stance[dispute.id] = _stance(probs[c, d], self.side_threshold)

    def _second_stage(self, probs: np.ndarray, owners, disputes, where) -> np.ndarray:
        """Pairs the first stage finds likely related are read again by the cross-encoder, which shares
        out their related mass. A pair whose related probability is under the side threshold can
        never be given a side, so it is read again only above the polarity model's gate and that
        threshold both."""
        from .polarity import claim_in_context, combine

        # a three-way stage cannot lower the unrelated probability, so pairs under the side threshold
        # need no second reading; a four-way one can, and reads every pair over its gate
        gate = self.polarity.gate if self.polarity.reads_relatedness else max(self.polarity.gate, self.side_threshold)
        todo = np.argwhere(1.0 - probs[..., 3] >= gate)
        if not len(todo):
            return probs
        texts = {}
        for c in {int(c) for c, _ in todo}:
            texts[c] = claim_in_context(where[c][0], where[c][1], owners[c])
        p2 = self.polarity.probs([disputes[d].proposition for _, d in todo],
                                 [texts[c][0] for c, _ in todo], [texts[c][1] for c, _ in todo],
                                 related=1.0 - probs[todo[:, 0], todo[:, 1], 3])
        out = probs.copy()
        out[todo[:, 0], todo[:, 1]] = combine(probs[todo[:, 0], todo[:, 1]], p2, self.polarity.unrelated_weight)
        return out

    @torch.inference_mode()
    def pair_probs(self, props: list[torch.Tensor], claims: list[torch.Tensor], roles: list[torch.Tensor]) -> np.ndarray:
        logits = self.pair_logits(props, claims, roles)
        return F.softmax(logits / self.temperature, -1).numpy()

    def pair_logits(self, props, claims, roles) -> torch.Tensor:
        lp = max(len(p) for p in props)
        lc = min(max(len(c) for c in claims), MAX_CLAIM_TOKENS)
        prop = pad_stack(props, lp)
        prop_pad = pad_stack([torch.zeros(len(p), dtype=torch.bool) for p in props], lp, True)
        claim = pad_stack(claims, lc)
        role = pad_stack([r.long() for r in roles], lc, ROLE_PAD)
        return self.net.pair_logits(prop, prop_pad, claim, role)

    # -- single texts (claims stance PAIRS.jsonl) ----------------------------------------------

    @torch.inference_mode()
    def score_texts(self, targets: list[str], texts: list[str], roles: list[np.ndarray] | None, trunk,
                    batch_size: int = 32, progress=None) -> np.ndarray:
        """Probabilities (N, 4) for (target, text) pairs, in input order; ``roles`` per subword of
        each text (without specials), or None for all-content. Pairs are grouped by text so that a
        text paired with many targets (a news body and its headlines) is encoded once, shortest
        texts first so that batches pad little; ``progress(done, total)`` is called as pairs are scored."""
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), texts[i]))
        out = np.zeros((len(texts), len(STANCE_LABELS)), dtype=np.float32)
        chunk_pairs = 8 * batch_size
        for b in range(0, len(order), chunk_pairs):
            idx = order[b:b + chunk_pairs]
            uniq = list(dict.fromkeys(texts[i] for i in idx))
            first_of = {}
            for i in idx:
                first_of.setdefault(texts[i], i)
            states, role_rows = [], []
            for u in range(0, len(uniq), batch_size):
                part = uniq[u:u + batch_size]
                st, rr = encode_texts(self, part, trunk,
                                      [roles[first_of[t]] for t in part] if roles is not None else None,
                                      max_len=int(self.config.get("max_text_len", 160)))  # as in training
                states += st
                role_rows += rr
            pos = {t: k for k, t in enumerate(uniq)}
            props = self.proposition_states([targets[i] for i in idx], trunk)
            probs = self.pair_probs(props, [states[pos[texts[i]]] for i in idx],
                                    [role_rows[pos[texts[i]]] for i in idx])
            out[idx] = probs
            if progress:
                progress(b + len(idx), len(order))
        return out


def cut_text(text: str, tok, n: int) -> str:
    """The prefix of a text that holds its first n subwords (all the stance model reads)."""
    enc = tok.encode(text, add_special_tokens=False)
    return text if len(enc.ids) <= n else text[:enc.offsets[n - 1][1]]


@torch.inference_mode()
def text_roles(texts: list[str], model, trunk, tok, max_len: int = 160, batch_size: int = 32,
               progress=None) -> list[np.ndarray]:
    """Role id per subword of each text (source, cue, else content), from the attribution model's
    spans: a single text is read like a claim, its own attributions marking who says what."""
    from .forward import window_shape, word_logprobs
    from .segment import prepare
    from .tagger import decode

    trunk = trunk_for(trunk, model.shared_layers, "the attribution model")
    out: list[np.ndarray] = []
    for b in range(0, len(texts), batch_size):
        prepared = [prepare(cut_text(t, tok, max_len), tok) for t in texts[b:b + batch_size]]
        into = word_logprobs(prepared, trunk, model.net, tok, *window_shape(model.config), batch_size=64)
        for k, p in enumerate(prepared):
            word_role = np.full(len(p.seg), ROLE_CONTENT)
            if len(into[k]):
                for s in decode(p.seg, into[k]):
                    if s.role in ("source", "cue"):
                        word_role[s.first:s.last + 1] = ROLE_SOURCE if s.role == "source" else ROLE_CUE
            sub_role = np.where(p.sub.word >= 0, word_role[np.clip(p.sub.word, 0, None)], ROLE_CONTENT)
            out.append(sub_role.astype(np.int64))
        if progress:
            progress(b + len(prepared), len(texts))
    return out


def encode_texts(model: StanceModel, texts: list[str], trunk, roles: list[np.ndarray] | None,
                 max_len: int = 256, grad: bool = False) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Encode short texts on their own; returns per-text (L_i, H) states and role ids."""
    tok = model.tokenizer
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    encs = [tok.encode(t, add_special_tokens=False).ids[:max_len - 2] for t in texts]
    L = max(len(e) for e in encs) + 2
    ids = torch.zeros((len(encs), L), dtype=torch.long)
    for i, e in enumerate(encs):
        ids[i, :len(e) + 2] = torch.tensor([cls_id, *e, sep_id])
    with torch.no_grad():
        h = trunk(ids)
    states = model.net.encode(h, ids)
    rows, role_rows = [], []
    for i, e in enumerate(encs):
        n = max(len(e), 1)
        rows.append(states[i, 1:1 + n])
        r = roles[i][:n] if roles is not None and roles[i] is not None and len(roles[i]) else np.full(n, ROLE_CONTENT)
        if len(r) < n:
            r = np.concatenate([r, np.full(n - len(r), ROLE_CONTENT)])
        role_rows.append(torch.from_numpy(np.asarray(r, dtype=np.int64)))
    return rows, role_rows


def decide(p: np.ndarray, side_threshold: float = 0.0) -> np.ndarray:
    """Label indices from probabilities (..., 4), abstaining from a side below ``side_threshold``:
    a favor or against whose probability is under it becomes the likelier of neutral and unrelated."""
    p = np.asarray(p)
    top = p.argmax(-1)
    quiet = 2 + p[..., 2:].argmax(-1)
    abstain = np.isin(top, SIDES) & (np.take_along_axis(p, top[..., None], -1)[..., 0] < side_threshold)
    return np.where(abstain, quiet, top)


def _stance(p: np.ndarray, side_threshold: float = 0.0) -> Stance:
    scores = {lab: float(p[i]) for i, lab in enumerate(STANCE_LABELS)}
    return Stance(STANCE_LABELS[int(decide(p, side_threshold))], scores)


def _subword_states(prepared: list[Prepared], window_states: list) -> list[torch.Tensor]:
    """Per article, (n_subwords, H) states, each from the window where the subword is most central."""
    H = window_states[0][1].shape[-1] if window_states else 384
    out = [torch.zeros((len(p.sub.ids), H)) for p in prepared]
    best = [np.full(len(p.sub.ids), -np.inf) for p in prepared]
    for batch, states in window_states:
        for r, w in enumerate(batch):
            # window positions 1..n map to consecutive subwords starting at w.sub_start
            n = len(w.input_ids) - 2
            s = w.sub_start
            better = w.weight[1:1 + n] > best[w.article][s:s + n]
            if better.any():
                pos = np.nonzero(better)[0]
                out[w.article][s + pos] = states[r, 1 + pos].float()
                best[w.article][s + pos] = w.weight[1 + pos]
    return out


def claim_subwords(prep: Prepared, claim, context_tokens: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Subword indices and role ids of a claim: source, cue, then content (truncated), then, with
    ``context_tokens``, up to that many subwords of what precedes the claim in its sentence and in
    the sentence before (what "the allegations" or "it" in the content points back to)."""
    seg, sub = prep.seg, prep.sub
    parts = []
    for role, spans in ((ROLE_SOURCE, [claim.source] if claim.source else []),
                        (ROLE_CUE, [claim.cue] if claim.cue else []),
                        (ROLE_CONTENT, list(claim.content))):
        for sp in spans:
            rng = seg.word_range(sp.start, sp.end)
            if rng is None:
                continue
            idx = np.nonzero((sub.word >= rng[0]) & (sub.word <= rng[1]))[0]
            parts.append((idx, np.full(len(idx), role)))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    idx = np.concatenate([p[0] for p in parts])[:MAX_CLAIM_TOKENS]
    roles = np.concatenate([p[1] for p in parts])[:MAX_CLAIM_TOKENS]
    if context_tokens > 0:
        ctx = context_subwords(prep, int(idx.min()), context_tokens, set(idx.tolist()))
        idx = np.concatenate([idx, ctx])
        roles = np.concatenate([roles, np.full(len(ctx), ROLE_CONTEXT)])
    return idx, roles


def context_subwords(prep: Prepared, first_sub: int, n: int, exclude: set) -> np.ndarray:
    """Up to ``n`` subwords just before ``first_sub``, from the start of the previous sentence on
    (news paragraphs are often one sentence long, so that one may be in the paragraph before),
    leaving out those in ``exclude`` (the claim's own)."""
    seg, sub = prep.seg, prep.sub
    if first_sub <= 0 or len(seg) == 0:
        return np.zeros(0, dtype=np.int64)
    w = int(sub.word[first_sub]) if sub.word[first_sub] >= 0 else 0
    keep = seg.sentence >= int(seg.sentence[w]) - 1
    first_word = int(np.argmax(keep)) if keep.any() else w
    cand = np.arange(first_sub)
    cand = cand[(sub.word[cand] >= first_word) & ~np.isin(cand, list(exclude))]
    return cand[-n:].astype(np.int64)
