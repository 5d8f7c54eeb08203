"""Fit the attribution decoder's transition scores: a linear-chain CRF over the frozen tagger's
word log-probabilities (only the (previous, current) label scores are learned; the BIO
constraints stay hard).

    python -m eval.emissions --split train --limit 400      # cached train emissions
    python -m training.transitions --out runs/transitions.json
    python -m training.transitions --out runs/transitions.json --rules paragraph,join_cue --install
                                          # into the model config, with the decoding rules to use

Each article's words are cut into pieces of ``--piece`` words (a piece after the first may start
with any label) so that the forward pass runs over a batch. The tagger was trained on train,
so its train emissions are more confident than on new text; whether the fitted scores help is
decided on dev (``python -m eval.decoding``), not here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import corpora
from claims.nlp.segment import segment
from claims.nlp.tagger import _ALLOWED, _START_OK, CONTEXTS, LABELS, transition_context
from training.fit import word_labels

NEG = -1e4


def pieces(lps: list[np.ndarray], labels: list[np.ndarray], size: int,
           contexts: list[np.ndarray] | None = None):
    """Pad (emissions, labels, transition contexts) of all articles into pieces of ``size`` words:
    lp (B, size, K), y (B, size), mask (B, size), first (B,) whether a piece starts an article,
    ctx (B, size)."""
    contexts = contexts or [np.zeros(len(y), dtype=np.int64) for y in labels]
    rows = []
    for lp, y, c in zip(lps, labels, contexts):
        for s in range(0, len(y), size):
            rows.append((lp[s:s + size], y[s:s + size], s == 0, c[s:s + size]))
    B, K = len(rows), len(LABELS)
    LP = np.zeros((B, size, K), dtype=np.float32)
    Y = np.zeros((B, size), dtype=np.int64)
    M = np.zeros((B, size), dtype=bool)
    F = np.zeros(B, dtype=bool)
    C = np.zeros((B, size), dtype=np.int64)
    for b, (lp, y, first, c) in enumerate(rows):
        n = len(y)
        LP[b, :n], Y[b, :n], M[b, :n], F[b], C[b, :n] = lp, y, True, first, c
    return (torch.from_numpy(LP), torch.from_numpy(Y), torch.from_numpy(M), torch.from_numpy(F),
            torch.from_numpy(C))


def crf_nll(trans: torch.Tensor, lp: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
            first: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
    """Mean negative log-likelihood per word of the gold labels under emissions + ``trans``
    ((K, K), or (C, K, K) chosen per word by ``ctx``)."""
    allowed = torch.from_numpy(_ALLOWED)
    t = torch.where(allowed, trans, torch.full_like(trans, NEG))
    if t.dim() == 2:
        t = t[None]
    if ctx is None:
        ctx = torch.zeros_like(y)
    start = torch.where(first[:, None] & ~torch.from_numpy(_START_OK)[None, :], NEG, 0.0)  # (B, K)
    alpha = start + lp[:, 0]
    gold = start.gather(1, y[:, :1])[:, 0] + lp[:, 0].gather(1, y[:, :1])[:, 0]
    for i in range(1, lp.shape[1]):
        ti = t[ctx[:, i]]  # (B, K, K)
        nxt = torch.logsumexp(alpha[:, :, None] + ti, dim=1) + lp[:, i]
        m = mask[:, i]
        alpha = torch.where(m[:, None], nxt, alpha)
        g = t[ctx[:, i], y[:, i - 1], y[:, i]] + lp[:, i].gather(1, y[:, i:i + 1])[:, 0]
        gold = gold + torch.where(m, g, torch.zeros_like(g))
    return (torch.logsumexp(alpha, -1) - gold).sum() / mask.sum()


def fit(lps: list[np.ndarray], labels: list[np.ndarray], piece: int = 128, l2: float = 0.01,
        steps: int = 60, log=print, contexts: list[np.ndarray] | None = None,
        n_contexts: int = 0) -> np.ndarray:
    """Transition scores (K, K), or (n_contexts, K, K) when ``contexts`` gives one id per word."""
    lp, y, mask, first, ctx = pieces(lps, labels, piece, contexts)
    shape = (n_contexts, len(LABELS), len(LABELS)) if contexts is not None else (len(LABELS), len(LABELS))
    trans = torch.zeros(*shape, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.LBFGS([trans], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")
    t0 = time.time()

    def closure():
        opt.zero_grad()
        loss = crf_nll(trans, lp, y, mask, first, ctx) + l2 * (trans ** 2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        base = float(crf_nll(trans, lp, y, mask, first, ctx))
    opt.step(closure)
    with torch.no_grad():
        final = float(crf_nll(trans, lp, y, mask, first, ctx))
    log(f"CRF NLL per word {base:.4f} -> {final:.4f} ({time.time() - t0:.0f}s, {len(lp)} pieces)")
    out = trans.detach().numpy().astype(np.float64)
    return np.where(_ALLOWED, out, 0.0)  # broadcasts over contexts


def main(argv: list[str] | None = None) -> int:
    from scoring import emissions
    from training.attribution import article_spans

    ap = argparse.ArgumentParser(description="Fit CRF transition scores over cached tagger emissions.")
    ap.add_argument("--data", default=None, help="shared data folder (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--cache", default=str(emissions.DEFAULT_DIR), help="emissions cache folder")
    ap.add_argument("--limit", type=int, default=400, help="first N train articles (as cached)")
    ap.add_argument("--piece", type=int, default=128)
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--contexts", action="store_true",
                    help="one matrix per transition context (in sentence, sentence start, paragraph start)")
    ap.add_argument("--out", default="runs/transitions.json")
    ap.add_argument("--model", default=None, help="model directory --install writes to (default: the shipped one)")
    ap.add_argument("--rules", default="",
                    help="comma-separated decoding rules (claims.nlp.tagger.DecodeRules) --install also switches on")
    ap.add_argument("--install", action="store_true", help="write the scores (and --rules) into the model's config.json")
    args = ap.parse_args(argv)
    from claims.nlp.tagger import DecodeRules
    try:
        rules = DecodeRules.from_config({r.strip(): True for r in args.rules.split(",") if r.strip()})
    except ValueError as e:
        print(f"error: --rules: {e}", file=sys.stderr)
        return 2
    articles = corpora.polnear("train", args.data, args.limit)
    lps = emissions.load("train", articles, args.cache)   # a missing cache: one line, exit 2 (corpora.run_command)
    segs = [segment(a["text"]) for a in articles]
    labels = [word_labels(seg, article_spans(a)) for seg, a in zip(segs, articles)]
    contexts = [transition_context(seg) for seg in segs] if args.contexts else None
    trans = fit(lps, labels, args.piece, args.l2, args.steps, contexts=contexts, n_contexts=len(CONTEXTS))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"labels": list(LABELS), "transitions": trans.round(4).tolist(),
                                          "fit": vars(args)}, indent=1) + "\n")
    print(f"wrote {args.out}")
    if args.install:
        from claims.nlp.extract import DEFAULT_MODEL_DIR
        cfg_path = Path(args.model or DEFAULT_MODEL_DIR) / "config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["transitions"] = trans.round(4).tolist()
        cfg["decode_rules"] = {k: v for k, v in rules.to_config().items() if v}
        cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
        print(f"installed into {cfg_path}")
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
