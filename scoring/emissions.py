"""Word-level tagger log-probabilities of a PolNeAR split, cached once so that decoding
experiments (``eval.boundaries``, ``eval.decoding``) and the small decoders fitted on them
(``training.transitions``, ``training.refine``) need no encoder pass. ``python -m eval.emissions``
makes the cache.

The file holds one (n_words, n_labels) float16 array per article, keyed by article id, plus the
model directory and stride it was made with. The tagger was trained on train, so train emissions
are more confident than dev ones; they serve for error analysis and fitting small decoders,
never as a measure of quality.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch


DEFAULT_DIR = Path("runs/emissions")


@torch.inference_mode()
def word_logprobs(articles: list[dict], model_dir: str | None = None, stride: int | None = None,
                  progress: bool = True, done: dict[str, np.ndarray] | None = None,
                  checkpoint=None) -> list[np.ndarray]:
    """The shipped pipeline's word log-probabilities, as ``Analyzer`` computes them. Articles
    whose id is in ``done`` are taken from it; ``checkpoint(n, out)`` is called every 50 articles."""
    from claims.analyzer import Analyzer
    from claims.nlp.forward import word_logprobs as forward_word_logprobs
    from claims.nlp.segment import prepare

    an = Analyzer(model=model_dir, stance_model=False, stride=stride)
    out = []
    t0 = time.time()
    done = done or {}
    for n, a in enumerate(articles, 1):
        if a["id"] in done:
            out.append(done[a["id"]].astype(np.float32))
            continue
        p = prepare(a["text"], an.tokenizer)
        out.extend(forward_word_logprobs([p], an.trunk, an.model.net, an.tokenizer, an.max_len, an.stride,
                                         an.batch_size))
        if checkpoint is not None and n % 50 == 0:
            checkpoint(n, out)
        if progress and n % 50 == 0:
            print(f"  {n}/{len(articles)} articles ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return out


def cache_path(split: str, cache_dir: str | Path = DEFAULT_DIR) -> Path:
    return Path(cache_dir) / f"{split}.npz"


def save(path: Path, articles: list[dict], lps: list[np.ndarray], meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"lp/{a['id']}": lp.astype(np.float16) for a, lp in zip(articles, lps)}
    arrays["meta"] = np.asarray(repr(sorted(meta.items())))
    np.savez_compressed(path, **arrays)


def partial_path(split: str, cache_dir: str | Path = DEFAULT_DIR) -> Path:
    return Path(cache_dir) / f"{split}.partial.npz"


def load_partial(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    z = np.load(path)
    return {k[3:]: z[k] for k in z.files if k.startswith("lp/")}


def load(split: str, articles: list[dict], cache_dir: str | Path = DEFAULT_DIR) -> list[np.ndarray]:
    """Cached log-probabilities in the order of ``articles``; a clear error when missing."""
    path = cache_path(split, cache_dir)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; make it with `python -m eval.emissions --split {split}`")
    z = np.load(path)
    missing = [a["id"] for a in articles if f"lp/{a['id']}" not in z.files]
    if missing:
        raise FileNotFoundError(f"{path} lacks {len(missing)} articles (e.g. {missing[0]}); remake it")
    return [z[f"lp/{a['id']}"].astype(np.float32) for a in articles]
