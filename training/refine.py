"""Fit the content boundary refiner (``claims.nlp.tagger.BoundaryRefiner``) over cached train emissions.

    python -m eval.emissions --split train --limit 400
    python -m training.refine --out runs/refine.json
    python -m training.refine --out runs/refine.json --install     # into the model config

Spans are decoded as the model decodes them (its rules and transition scores, no refiner); every
decoded content span whose best-overlapping gold content span has its start (end) within the
window gives one example per side: a choice among the candidate positions, the gold one right.
A conditional logit with an L2 penalty is fitted per side. Whether it helps is decided on dev
(``python -m eval.decoding``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import corpora
from claims.nlp.segment import segment
from claims.nlp.tagger import N_BOUNDARY_FEATURES, REFINE_WINDOW, BoundaryRefiner, boundary_candidates, boundary_features


def examples(seg, logprobs, spans, gold: set[tuple[int, int]], side: str):
    """(features (n_cands, F), index of the gold candidate) per decoded content span."""
    probs = np.exp(logprobs)
    out = []
    for k, s in enumerate(spans):
        if s.role != "content":
            continue
        best, ov = None, 0
        for g in gold:
            o = min(g[1], s.last) - max(g[0], s.first) + 1
            if o > ov:
                best, ov = g, o
        if best is None:
            continue
        lo = spans[k - 1].last + 1 if k > 0 else 0
        hi = spans[k + 1].first - 1 if k + 1 < len(spans) else len(seg) - 1
        cands = boundary_candidates(seg, s, side, lo, hi)
        target = best[0] if side == "start" else best[1]
        if len(cands) < 2 or target not in cands:
            continue
        anchor = s.first if side == "start" else s.last
        X = np.asarray([boundary_features(seg, probs, side, j, j - anchor) for j in cands], dtype=np.float32)
        out.append((X, cands.index(target)))
    return out


def fit_side(exs: list[tuple[np.ndarray, int]], l2: float = 0.01, steps: int = 100) -> np.ndarray:
    w = torch.zeros(N_BOUNDARY_FEATURES, dtype=torch.float64, requires_grad=True)
    Xs = [torch.from_numpy(X.astype(np.float64)) for X, _ in exs]
    ys = [y for _, y in exs]
    opt = torch.optim.LBFGS([w], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = sum(torch.logsumexp(X @ w, 0) - (X @ w)[y] for X, y in zip(Xs, ys)) / len(ys) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy()


def main(argv: list[str] | None = None) -> int:
    from claims.nlp.extract import DEFAULT_MODEL_DIR, AttributionModel
    from scoring import emissions
    from scoring.attribution import gold_ranges

    ap = argparse.ArgumentParser(description="Fit the content boundary refiner over cached train emissions.")
    ap.add_argument("--data", default=None, help="shared data folder (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--cache", default=str(emissions.DEFAULT_DIR), help="emissions cache folder")
    ap.add_argument("--model", default=None, help="attribution model directory (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=400, help="first N train articles (as cached)")
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--out", default="runs/refine.json")
    ap.add_argument("--install", action="store_true", help="write the refiner into the model's config.json")
    args = ap.parse_args(argv)
    articles = corpora.polnear("train", args.data, args.limit)
    lps = emissions.load("train", articles, args.cache)   # a missing cache: one line, exit 2 (corpora.run_command)
    t0 = time.time()
    model = dataclasses.replace(AttributionModel.load(args.model), refiner=None)
    ex = {"start": [], "end": []}
    for a, lp in zip(articles, lps):
        seg = segment(a["text"])
        spans = model.decode(seg, lp)
        gold = gold_ranges(seg, a["attributions"])["content"]
        for side in ex:
            ex[side] += examples(seg, lp, spans, gold, side)
    w = {}
    for side, exs in ex.items():
        w[side] = fit_side(exs, args.l2)
        kept = np.mean([y == int(np.argmax(X[:, REFINE_WINDOW])) for X, y in exs])  # offset 0
        moved = np.mean([int(np.argmax(X @ w[side])) == y for X, y in exs])
        print(f"{side}: {len(exs)} examples; decoded boundary right {100 * kept:.1f}%, "
              f"refined right {100 * moved:.1f}% (train)")
    ref = BoundaryRefiner(w["start"], w["end"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(ref.to_dict() | {"fit": vars(args)}, indent=1) + "\n")
    print(f"wrote {args.out} ({time.time() - t0:.0f}s)")
    if args.install:
        cfg_path = Path(args.model or DEFAULT_MODEL_DIR) / "config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["refine"] = ref.to_dict()
        cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
        print(f"installed into {cfg_path}")
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
