"""Dev figures of the attribution model under each decoding rule, from cached emissions, so
that every rule gets its own ablation row without another encoder pass.

    python -m eval.emissions --split dev          # once: runs/emissions/dev.npz
    python -m eval.decoding --split dev

Rows: the plain decoder, each rule of ``claims.nlp.tagger.DecodeRules`` alone, all rules, the
model's transition scores and boundary refiner alone, and the decoding the model directory ships
(its ``decode_rules``, ``transitions`` and ``refine``). Figures are
exact F1 per role and claim F1 over linked claims, as ``eval.attribution`` reports them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

import corpora
from claims.nlp.extract import AttributionModel, build_claims
from claims.nlp.segment import segment
from claims.nlp.tagger import DecodeRules

from scoring import emissions
from scoring.attribution import claim_dicts
from scoring.metrics import ROLES, score_document, summarize

COLUMNS = [f"exact_{r}_f" for r in ROLES] + ["claim_f", "overlap_content_f"]


def score(articles: list[dict], lps: list[np.ndarray], model: AttributionModel) -> dict[str, float]:
    from claims.doc import ArticleResult
    docs = []
    for a, lp in zip(articles, lps):
        seg = segment(a["text"])
        claims = build_claims(seg, lp, model)
        res = ArticleResult(a["id"], a["text"], claims, [], {})
        docs.append(score_document(seg, claim_dicts(res), corpora.gold_claims(a["attributions"])))
    return summarize(docs)


def settings(model: AttributionModel) -> dict[str, AttributionModel]:
    """The model under each decoding setting (rows of the ablation table)."""
    names = [f.name for f in dataclasses.fields(DecodeRules)]
    bare = dataclasses.replace(model, rules=DecodeRules(), transitions=None, refiner=None)
    out = {"plain Viterbi": bare}
    for n in names:
        on = {n: True, "paragraph": True} if n == "quote_continues" else {n: True}
        out[f"+ {n}" + (" (with paragraph)" if n == "quote_continues" else "")] = \
            dataclasses.replace(bare, rules=DecodeRules(**on))
    out["all rules"] = dataclasses.replace(bare, rules=DecodeRules(**{n: True for n in names}))
    if model.transitions is not None:
        out["transitions alone"] = dataclasses.replace(bare, transitions=model.transitions)
        out["model's rules + transitions"] = dataclasses.replace(bare, rules=model.rules,
                                                                 transitions=model.transitions)
    if model.refiner is not None:
        out["refiner alone"] = dataclasses.replace(bare, refiner=model.refiner)
    out["as shipped"] = model
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Attribution figures per decoding rule, from cached emissions.")
    ap.add_argument("--split", default="dev", choices=["dev", "train"])
    ap.add_argument("--data", default=None, help="shared data folder (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--model", default=None, help="attribution model directory (default: the shipped one)")
    ap.add_argument("--cache", default=str(emissions.DEFAULT_DIR), help="emissions cache folder (eval.emissions)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N articles (must be cached)")
    ap.add_argument("--transitions", default=None,
                    help="transition scores from training.transitions (JSON) to use instead of the model's")
    ap.add_argument("--only", default=None, help="comma-separated setting names to run (default: all)")
    args = ap.parse_args(argv)
    articles = corpora.polnear(args.split, args.data, args.limit)
    lps = emissions.load(args.split, articles, args.cache)   # a missing cache: one line, exit 2 (corpora.run_command)
    model = AttributionModel.load(args.model)
    if args.transitions:
        import json
        model = dataclasses.replace(model, transitions=np.asarray(
            json.loads(open(args.transitions).read())["transitions"], dtype=np.float64))
    print(f"{'setting':36s} " + " ".join(f"{c:>18s}" for c in COLUMNS))
    wanted = set(args.only.split(",")) if args.only else None
    for name, variant in settings(model).items():
        if wanted is not None and name not in wanted:
            continue
        m = score(articles, lps, variant)
        print(f"{name:36s} " + " ".join(f"{m[c]:18.1f}" for c in COLUMNS), flush=True)
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
