"""The Analyzer wires the stages (docs/DESIGN.md section 2); nothing else knows their order.

    from claims import Analyzer
    result = Analyzer().analyze(text)            # ArticleResult
    for r in Analyzer().analyze_many(items):     # (id, text) pairs, streamed in input order
        ...

Batching happens here once: articles are cut into windows, windows from many articles share
encoder batches, and the frozen trunk's states feed both the tagger and the stance model (carried on
through the pretrained layers the stance model shares beyond the tagger's).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
import torch

from . import __version__
from . import disputes as disputes_mod
from .doc import ArticleResult, Dispute
from .errors import MAX_CHARS, InputError, ModelError
from .nlp.encoder import build_trunk, encoder_config, load_tokenizer, resolve_encoder, trunk_for
from .nlp.extract import DEFAULT_MODEL_DIR, AttributionModel, build_claims
from .nlp.resolve import AliasTable
from .nlp.segment import Prepared, collate, prepare, windows
from .nlp.forward import window_shape, word_logprobs



def check_text(text: object, max_chars: int = MAX_CHARS) -> str:
    if not isinstance(text, str):
        raise InputError("not_text", f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError("empty_text", "the text is empty" if not text else "the text is only whitespace")
    if len(text) > max_chars:
        raise InputError("too_long", f"the text has {len(text):,} characters; the limit is {max_chars:,} "
                                     "(split it, or raise the limit with --max-chars)")
    if "\x00" in text:
        raise InputError("binary", "the text contains NUL bytes; it looks like a binary file, not an article")
    return text


@dataclass
class _Job:
    index: int
    id: str
    prepared: Optional[Prepared] = None
    result: Optional[ArticleResult] = None


def _recorded_base_model(model_dir: Path) -> Optional[str]:
    """The ``base_model`` an attribution model directory's config records (None when unreadable:
    loading the model then says what is wrong)."""
    try:
        return json.loads((model_dir / "config.json").read_text()).get("base_model")
    except (OSError, ValueError, AttributeError):
        return None


class Analyzer:
    """Text in, ``ArticleResult`` out. Loads the shipped models unless given others."""

    def __init__(self, model: str | Path | AttributionModel | None = None,
                 stance_model: str | Path | None | bool = None,
                 disputes: Optional[list[Dispute]] = None, aliases: Optional[AliasTable] = None,
                 batch_size: int = 16, max_chars: int = MAX_CHARS, stride: Optional[int] = None,
                 min_confidence: float = 0.0):
        if isinstance(model, AttributionModel):
            self.model = model
            base = resolve_encoder(model.config.get("base_model"))
        else:
            base = resolve_encoder(_recorded_base_model(Path(model or DEFAULT_MODEL_DIR)))
            self.model = AttributionModel.load(model, encoder_config(base))
        self.encoder_path = base    # the encoder directory the models were trained on
        self.tokenizer = load_tokenizer(base)
        # the tagger's trunk; the stance model reads ``stance_trunk``, the same modules carried on
        # through more pretrained layers when it shares more of them than the tagger
        self.trunk = self.stance_trunk = build_trunk(self.model.shared_layers, base)
        self.stance = None
        if stance_model is not False:
            from .nlp.stance import DEFAULT_STANCE_DIR
            path = Path(stance_model) if stance_model not in (None, True) else DEFAULT_STANCE_DIR
            if stance_model not in (None, True) or (path / "config.json").exists():
                self.use_stance_model(path)
        self.disputes = disputes if disputes is not None else disputes_mod.default()
        self.aliases = aliases
        self.batch_size = batch_size
        self.max_chars = max_chars
        self.max_len, trained_stride = window_shape(self.model.config)
        self.stride = stride or trained_stride
        self.min_confidence = min_confidence
        self._cls = self.tokenizer.token_to_id("[CLS]")
        self._sep = self.tokenizer.token_to_id("[SEP]")

    @property
    def model_info(self) -> dict:
        version = f"{__version__}/attribution-{self.model.version}"
        if self.stance is not None:
            version += f"/stance-{self.stance.version}"
        return {"name": "claims-minilm-l6", "version": version}

    def analyze(self, text: str, id: str = "article", disputes: Optional[list[Dispute]] = None) -> ArticleResult:
        """Analyse one article; raises ``InputError`` for unusable text."""
        check_text(text, self.max_chars)
        return next(self._run([_Job(0, id)], [text], disputes))

    def analyze_many(self, items: Iterable[tuple[str, object]], disputes: Optional[list[Dispute]] = None,
                     batch_size: int = 8) -> Iterator[ArticleResult]:
        """Analyse (id, text) pairs, yielding results in input order. A bad item yields a result
        with ``error`` set; it never stops the rest."""
        it = iter(items)
        index = 0
        while True:
            chunk = list(itertools.islice(it, batch_size))
            if not chunk:
                return
            jobs, texts = [], []
            for id_, text in chunk:
                job = _Job(index, str(id_))
                index += 1
                try:
                    texts.append(check_text(text, self.max_chars))
                except InputError as e:
                    job.result = ArticleResult.failed(job.id, e.kind, str(e))
                    texts.append("")
                jobs.append(job)
            try:
                yield from self._run(jobs, texts, disputes)
            except Exception:
                # one article broke the batch: redo the batch one article at a time
                for job, text in zip(jobs, texts):
                    if job.result is not None:
                        yield job.result
                        continue
                    try:
                        yield from self._run([_Job(job.index, job.id)], [text], disputes)
                    except Exception as e:  # noqa: BLE001 - recorded, never fatal to the job
                        yield ArticleResult.failed(job.id, "model_error", f"{type(e).__name__}: {e}")

    def use_stance_model(self, path: str | Path) -> None:
        """Load the stance model in ``path`` (``ModelError`` if it is not there) on this analyzer's trunk."""
        from .nlp.stance import StanceModel, stance_config
        path, config = stance_config(path)
        if resolve_encoder(config.get("base_model")) != self.encoder_path:
            raise ModelError(f"the stance model at {path} was trained on another encoder than the attribution model")
        shared = int(config["shared_layers"])
        if shared < self.model.shared_layers:
            raise ModelError(f"the stance model at {path} shares {shared} frozen layers and the attribution model "
                             f"{self.model.shared_layers}: the stance model must share at least as many")
        if shared != self.stance_trunk.n_layers:
            self.stance_trunk = build_trunk(shared, self.encoder_path)
            self.trunk = trunk_for(self.stance_trunk, self.model.shared_layers, "the attribution model")
        self.stance = StanceModel.load(path, self.stance_trunk.cfg, self.tokenizer, self.stance_trunk)

    def _stance_states(self, h: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """The stance model's window states from the tagger's trunk states ``h``."""
        return self.stance.encode_states(self.stance_trunk.carry_on(h, ids, self.trunk.n_layers), ids)

    @torch.inference_mode()
    def score_pairs(self, targets: list[str], texts: list[str]) -> np.ndarray:
        """Stance of single (target, text) pairs, as ``claims stance`` gives it: (N, 4) probabilities
        in the order of ``STANCE_LABELS``. Each text is read like a claim: the attribution model marks
        its own sources and cues, and the stance model's first stage scores it against the target."""
        if self.stance is None:
            raise ModelError("no stance model is loaded")
        from .nlp.stance import text_roles
        max_len = int(self.stance.config.get("max_text_len", 160))
        roles = text_roles(texts, self.model, self.trunk, self.tokenizer, max_len)
        return self.stance.score_texts(targets, texts, roles, self.stance_trunk)

    @torch.inference_mode()
    def score_stance(self, text: str, claims: list, disputes: list[Dispute]) -> list:
        """Set the stance of given claims (e.g. corrected by a reviewer) toward ``disputes``,
        without extracting claims again; returns the same claims."""
        if self.stance is None:
            raise RuntimeError("no stance model is loaded")
        check_text(text, self.max_chars)
        prep = prepare(text, self.tokenizer)
        wins = windows(prep.sub, 0, self._cls, self._sep, self.max_len, self.stride)
        states = []
        for b in range(0, len(wins), self.batch_size):
            batch = wins[b:b + self.batch_size]
            ids = torch.from_numpy(collate(batch, [prep])["ids"])
            states.append((batch, self.stance.encode_states(self.stance_trunk(ids), ids)))
        result = ArticleResult("rescore", text, list(claims), list(disputes), self.model_info)
        self.stance.score_articles([result], [prep], states, disputes)
        return result.claims

    @torch.inference_mode()
    def _run(self, jobs: list[_Job], texts: list[str], disputes: Optional[list[Dispute]]) -> Iterator[ArticleResult]:
        disputes = self.disputes if disputes is None else disputes
        live = [j for j in jobs if j.result is None]
        for j in live:
            j.prepared = prepare(texts[j.index - jobs[0].index], self.tokenizer)
        prepared = [j.prepared for j in live]
        stance_states = [] if (self.stance is not None and disputes) else None

        def keep_stance_states(batch, h, ids):
            stance_states.append((batch, self._stance_states(h, ids)))
        into = word_logprobs(prepared, self.trunk, self.model.net, self.tokenizer, self.max_len, self.stride,
                             self.batch_size, keep_stance_states if stance_states is not None else None)
        results = {}
        for k, j in enumerate(live):
            claims = build_claims(j.prepared.seg, into[k], self.model, self.aliases, self.min_confidence)
            results[j.index] = ArticleResult(j.id, j.prepared.seg.text, claims, list(disputes), self.model_info)
        if stance_states is not None:
            self.stance.score_articles([results[j.index] for j in live], prepared, stance_states, disputes)
        for j in jobs:
            yield j.result if j.result is not None else results[j.index]
