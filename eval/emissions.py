"""Word-level tagger log-probabilities of a PolNeAR split, cached once so that decoding
experiments (``eval.boundaries``, ``training.boundaries``) need no encoder pass.

    python -m eval.emissions --split train      # writes runs/emissions/train.npz
    python -m eval.emissions --split dev
    python -m eval.emissions --split train --resume   # go on from where an interrupted run stopped

The file holds one (n_words, n_labels) float16 array per article, keyed by article id, plus the
model directory and stride it was made with. The tagger was trained on train, so train emissions
are more confident than dev ones; they serve for error analysis and fitting small decoders,
never as a measure of quality.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import corpora

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Cache the tagger's word log-probabilities of a PolNeAR split.")
    ap.add_argument("--split", default="dev", choices=["dev", "train"])
    ap.add_argument("--data", default=None, help="shared data folder (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--model", default=None, help="attribution model directory (default: the shipped one)")
    ap.add_argument("--stride", type=int, default=None, help="window step at inference (default: the model's)")
    ap.add_argument("--out", default=str(DEFAULT_DIR), help="cache folder")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--resume", action="store_true",
                    help="take the articles already done from the partial file an interrupted run left")
    args = ap.parse_args(argv)
    path = corpora.polnear_path(args.split, args.data)
    if not path.exists():
        print(f"error: {path} not found; set --data or $CLAIMS_DATA to the shared data folder", file=sys.stderr)
        return 2
    articles = corpora.polnear(args.split, args.data)
    if args.limit:
        articles = articles[:args.limit]
    t0 = time.time()
    meta = {"model": str(args.model or "shipped"), "stride": args.stride or "model default"}
    part = partial_path(args.split, args.out)
    done = load_partial(part) if args.resume else {}
    if done:
        print(f"resuming: {len(done)} articles from {part}", flush=True)
    lps = word_logprobs(articles, args.model, args.stride, done=done,
                        checkpoint=lambda n, out: save(part, articles[:n], out, meta))
    save(cache_path(args.split, args.out), articles, lps, meta)
    part.unlink(missing_ok=True)
    print(f"{len(articles)} articles in {time.time() - t0:.0f}s -> {cache_path(args.split, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
