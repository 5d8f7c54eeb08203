"""The hand-written BERT that claims used before it loaded its encoder with `transformers`.

Kept as a reference: ``tests/nlp/test_encoder.py`` checks that the `transformers` encoder gives the same
states (and the same seed analysis) on the same ids, and ``python -m eval.bench`` times both in one
run. Parameter names are the old ones (``layers.<i>.query.weight``), which are also the names under
which the shipped model files store their top layers.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from claims.nlp.encoder import EncoderConfig, base_model_path


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
        return self.carry_on(self.embeddings(ids), ids, 0)  # (B, L, H)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def carry_on(self, x: torch.Tensor, ids: torch.Tensor, n_done: int) -> torch.Tensor:
        """States after all layers from ``x``, the states after the first ``n_done``."""
        mask = attention_mask(ids)
        for layer in list(self.layers)[n_done:]:
            x = layer(x, mask)
        return x


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


def reference_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A top's state dict under this module's layer names, whether it was saved under them or
    under the `transformers` ones (``layers.0.attention.self.query.weight``)."""
    out = {}
    for key, t in state.items():
        parts = key.split(".")
        sub = ".".join(parts[2:-1])
        out[f"{parts[0]}.{parts[1]}.{_HF_LAYER_NAMES[sub]}.{parts[-1]}" if sub in _HF_LAYER_NAMES else key] = t
    return out


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
