"""Cache the tagger's word log-probabilities of a PolNeAR split (``scoring.emissions``), so that
decoding experiments and the decoders fitted on them need no encoder pass.

    python -m eval.emissions --split train      # writes runs/emissions/train.npz
    python -m eval.emissions --split dev
    python -m eval.emissions --split train --resume   # go on from where an interrupted run stopped
"""

from __future__ import annotations

import argparse
import sys
import time

import corpora
from scoring.emissions import DEFAULT_DIR, cache_path, load_partial, partial_path, save, word_logprobs


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
    articles = corpora.polnear(args.split, args.data, args.limit)
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
    from corpora import run_command
    sys.exit(run_command(main))
