"""Stance toward disputes on the in-domain disputes set, end to end and on gold attributions.

    python -m eval.disputes --split dev
    python -m eval.disputes --split dev --model runs/dispute_stance --json disputes-dev.json

Every article is analysed with its own disputes (2 to 4: catalog ones that recur across articles,
and a custom one written for that article alone, so dev's custom disputes are zero-shot).

* **end to end**: the shipped attribution model finds the claims; model claims are matched to gold
  attributions with the attribution eval's rule (``scoring.metrics.match_claims``); a gold attribution
  no model claim matches counts as saying nothing (its gold sides are missed). Sides the model gives
  on claims that match no gold attribution are counted apart (a fact-checker sees them too).
* **gold attributions**: the stance model alone, on the annotated spans.

Figures: sided precision / recall / F1 (favor and against), related-vs-unrelated F1, for custom and
catalog disputes, with ``alt`` labels not accepted and accepted; 95% intervals over articles for
sided F1; confusion matrix; ECE of the calibrated probabilities; per-dispute table; the TF-IDF +
logistic regression baseline (``eval.stance.TfidfBaseline``) fitted on the train split's gold pairs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import corpora
from claims.doc import STANCE_LABELS, Dispute

from scoring.attribution import claim_dicts, gold_claim_objects
from scoring.dispute_metrics import SIDED, Pair, confusion, ece, sided_prf, summary
from scoring.metrics import bootstrap_counts, match_claims


def load(split: str, data: str | None = None) -> list[dict]:
    path = corpora.data_dir(data) / "disputes" / f"{split}.jsonl"
    if not path.exists():
        sys.exit(f"error: {path} not found (set --data or $CLAIMS_DATA to the shared data folder)")
    return corpora.dataset(path).to_list()


def disputes_of(article: dict) -> list[Dispute]:
    return [Dispute(d["id"], d.get("title") or d["id"], d["proposition"]) for d in article["disputes"]]


def _pairs(article: dict, labels_of, probs_of=None) -> list[Pair]:
    """Pairs for every gold attribution x dispute; ``labels_of(k)`` gives the predicted label per
    dispute id for gold attribution k (None: nothing said)."""
    out = []
    for k, a in enumerate(article["attributions"]):
        pred = labels_of(k) or {}
        probs = probs_of(k) if probs_of else None
        for d in article["disputes"]:
            out.append(Pair(article["id"], d["id"], bool(d.get("catalog")), a["stance"][d["id"]],
                            pred.get(d["id"], "unrelated"), (a.get("alt") or {}).get(d["id"]),
                            None if probs is None or d["id"] not in probs else probs[d["id"]]))
    return out


def run(articles: list[dict], stance_model: str | None = None, attribution_model: str | None = None,
        end_to_end: bool = True, progress: bool = True) -> dict:
    """Pairs on gold attributions and end to end, plus the count of sides on unmatched claims."""
    from claims.analyzer import Analyzer

    an = Analyzer(model=attribution_model, stance_model=stance_model or True)
    if an.stance is None:
        sys.exit("error: no stance model")
    gold_pairs, e2e_pairs, spurious, t0 = [], [], 0, time.time()
    for n, art in enumerate(articles, 1):
        disputes = disputes_of(art)
        claims = an.score_stance(art["text"], gold_claim_objects(art), disputes)
        gold_pairs += _pairs(art, lambda k: {d: s.label for d, s in claims[k].stance.items()},
                             lambda k: {d: np.array([s.scores[l] for l in STANCE_LABELS])
                                        for d, s in claims[k].stance.items()})
        if end_to_end:
            res = an.analyze(art["text"], art["id"], disputes)
            matched = dict((g, p) for p, g in match_claims(claim_dicts(res), corpora.gold_claims(art["attributions"])))
            e2e_pairs += _pairs(art, lambda k: ({d: s.label for d, s in res.claims[matched[k]].stance.items()}
                                                if k in matched else None))
            used = set(matched.values())
            spurious += sum(s.label in SIDED for i, c in enumerate(res.claims) if i not in used
                            for s in c.stance.values())
        if progress and n % 10 == 0:
            print(f"  {n}/{len(articles)} articles ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return {"gold": gold_pairs, "e2e": e2e_pairs, "spurious_sides": spurious,
            "model": {"version": an.stance.version, "side_threshold": an.stance.side_threshold,
                      "temperature": an.stance.temperature}}


def baseline_pairs(train: list[dict], dev: list[dict]) -> list[Pair]:
    """TF-IDF baseline on dev's gold pairs, fitted on train's gold pairs (target = proposition,
    text = source, cue and content)."""
    from .stance import TfidfBaseline

    def rows(arts):
        for art in arts:
            for a in art["attributions"]:
                text = " ".join(x for x in (a.get("source_text"), a.get("cue_text"), a.get("content_text")) if x)
                for d in art["disputes"]:
                    yield art, a, d, text
    tr = list(rows(train))
    base = TfidfBaseline().fit([d["proposition"] for _, _, d, _ in tr], [t for *_, t in tr],
                               [a["stance"][d["id"]] for _, a, d, _ in tr])
    dv = list(rows(dev))
    pred = base.predict([d["proposition"] for _, _, d, _ in dv], [t for *_, t in dv])
    return [Pair(art["id"], d["id"], bool(d.get("catalog")), a["stance"][d["id"]], p, (a.get("alt") or {}).get(d["id"]))
            for (art, a, d, _), p in zip(dv, pred)]


def bootstrap_sided_f1(pairs: list[Pair], n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of sided F1, resampling articles (``scoring.metrics.bootstrap_counts``)."""
    arts = sorted({p.article for p in pairs})
    if not arts:
        return (0.0, 0.0)
    idx = {a: i for i, a in enumerate(arts)}
    c = np.zeros((len(arts), 1, 4))   # tp, predicted sides, tp, gold sides
    for p in pairs:
        tp = p.pred in SIDED and p.pred == p.gold
        c[idx[p.article], 0] += (tp, p.pred in SIDED, tp, p.gold in SIDED)
    lo, hi = bootstrap_counts(c, n, seed)
    return float(lo[0, 2]), float(hi[0, 2])


def abstention_curve(pairs: list[Pair], thresholds=(0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> list[dict]:
    """Sided P/R/F1 if a side were given only at each probability threshold (gold attributions)."""
    from claims.nlp.stance import decide

    probs = np.stack([p.probs for p in pairs])
    out = []
    for t in thresholds:
        pred = decide(probs, t)
        alt = [Pair(p.article, p.dispute, p.catalog, p.gold, STANCE_LABELS[int(k)], p.alt) for p, k in zip(pairs, pred)]
        row = {"threshold": t}
        for part, sel in (("custom", lambda p: not p.catalog), ("catalog", lambda p: p.catalog)):
            m = sided_prf([p for p in alt if sel(p)])
            row[part] = {"p": m["p"], "r": m["r"], "f1": m["f1"], "n_pred": m["n_pred"]}
        out.append(row)
    return out


def per_dispute(pairs: list[Pair]) -> list[dict]:
    by: dict[str, list[Pair]] = {}
    for p in pairs:
        by.setdefault(p.dispute, []).append(p)
    out = []
    for d, ps in sorted(by.items(), key=lambda kv: (not kv[1][0].catalog, kv[0])):
        m = sided_prf(ps)
        out.append({"dispute": d, "catalog": ps[0].catalog, "pairs": len(ps), "gold_sided": m["n_gold"],
                    "pred_sided": m["n_pred"], "sided_p": m["p"], "sided_r": m["r"], "sided_f1": m["f1"]})
    return out


def report(result: dict, base: list[Pair] | None, n_boot: int = 1000) -> dict:
    out: dict = {"model": result["model"], "spurious_sides_on_unmatched_claims": result["spurious_sides"]}
    for name in ("gold", "e2e"):
        pairs = result[name]
        if not pairs:
            continue
        entry = {"strict": summary(pairs), "alt_accepted": summary(pairs, accept_alt=True),
                 "confusion": confusion(pairs), "per_dispute": per_dispute(pairs)}
        for part, sel in (("custom", lambda p: not p.catalog), ("catalog", lambda p: p.catalog)):
            entry["strict"][part]["sided"]["f1_ci"] = bootstrap_sided_f1([p for p in pairs if sel(p)], n_boot)
        if name == "gold":
            probs = np.stack([p.probs for p in pairs])
            entry["ece"] = ece(probs, [p.gold for p in pairs])
            entry["abstention"] = abstention_curve(pairs)
        out[name] = entry
    if base:
        out["baseline"] = {"strict": summary(base), "alt_accepted": summary(base, accept_alt=True)}
    return out


def print_report(rep: dict, show_disputes: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    c = Console()
    t = Table(title="Stance toward disputes, dev (sided = favor/against; %; 95% interval over articles)")
    for col in ("system", "disputes", "alt", "sided P", "sided R", "sided F1", "related F1"):
        t.add_column(col, justify="left" if col in ("system", "disputes", "alt") else "right")
    rows = [("model, end to end", rep.get("e2e")), ("model, gold attributions", rep.get("gold")),
            ("TF-IDF baseline, gold attributions", rep.get("baseline"))]
    for label, entry in rows:
        if not entry:
            continue
        for alt_key, alt_name in (("strict", "no"), ("alt_accepted", "yes")):
            for part in ("custom", "catalog"):
                s = entry[alt_key][part]
                ci = s["sided"].get("f1_ci")
                f1 = f"{s['sided']['f1']:.1f}" + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "")
                t.add_row(label, part, alt_name, f"{s['sided']['p']:.1f}", f"{s['sided']['r']:.1f}", f1,
                          f"{s['related']['f1']:.1f}")
    c.print(t)
    m = rep["model"]
    c.print(f"model {m['version']}: temperature {m['temperature']:.3f}, side threshold {m['side_threshold']:.2f}")
    if "gold" in rep:
        c.print(f"ECE (gold attributions, calibrated probabilities): {rep['gold']['ece']:.1f}%")
        c.print(f"confusion, gold attributions (rows gold, cols predicted; {', '.join(STANCE_LABELS)}): "
                f"{rep['gold']['confusion']}")
        ab = Table(title="Abstention: sided P / R / F1 (sides given) if a side needed this probability, gold attributions")
        for col in ("threshold", "custom", "catalog"):
            ab.add_column(col, justify="right")
        for r in rep["gold"]["abstention"]:
            ab.add_row(f"{r['threshold']:.1f}", *(f"{r[k]['p']:.1f} / {r[k]['r']:.1f} / {r[k]['f1']:.1f} ({r[k]['n_pred']})"
                                                  for k in ("custom", "catalog")))
        c.print(ab)
    if "e2e" in rep:
        c.print(f"confusion, end to end: {rep['e2e']['confusion']}")
        c.print(f"sides given on model claims that match no gold attribution: "
                f"{rep['spurious_sides_on_unmatched_claims']}")
    if "gold" in rep:
        pd = Table(title="Per dispute, gold attributions" + ("" if show_disputes else " (catalog; --per-dispute for all)"))
        for col in ("dispute", "pairs", "gold sided", "pred sided", "sided P", "sided R", "sided F1"):
            pd.add_column(col, justify="left" if col == "dispute" else "right")
        for r in rep["gold"]["per_dispute"]:
            if r["catalog"] or show_disputes:
                pd.add_row(r["dispute"] + ("" if r["catalog"] else " (custom)"), str(r["pairs"]), str(r["gold_sided"]),
                           str(r["pred_sided"]), f"{r['sided_p']:.1f}", f"{r['sided_r']:.1f}", f"{r['sided_f1']:.1f}")
        c.print(pd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Stance toward disputes on the disputes set: end to end, "
                                             "on gold attributions, and the TF-IDF baseline.")
    ap.add_argument("--split", default="dev", choices=("dev", "train"))
    ap.add_argument("--data", default=None, help="shared data folder (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--model", default=None, help="stance model directory (default: shipped)")
    ap.add_argument("--attribution-model", default=None, help="attribution model directory (default: shipped)")
    ap.add_argument("--limit", type=int, default=0, help="first N articles")
    ap.add_argument("--gold-only", action="store_true", help="skip the end-to-end run")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--per-dispute", action="store_true", help="print every dispute, custom ones too")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--json", default=None, help="write all figures to this file")
    args = ap.parse_args(argv)
    articles = load(args.split, args.data)
    if args.limit:
        articles = articles[:args.limit]
    t0 = time.time()
    result = run(articles, args.model, args.attribution_model, not args.gold_only)
    base = None if args.no_baseline or args.split == "train" else baseline_pairs(load("train", args.data), articles)
    rep = report(result, base, args.bootstrap)
    print_report(rep, args.per_dispute)
    print(f"{len(articles)} articles in {time.time() - t0:.0f}s", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
