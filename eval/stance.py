"""Stance quality on every dev split, beside a TF-IDF + logistic regression baseline.

    python -m eval.stance
    python -m eval.stance --model runs/stance --json stance-dev.json

For each dataset: macro-F1 over favor/against/neutral (labels present in its gold), accuracy,
FNC-1's weighted score where there are unrelated pairs, the confusion matrix, and 95% bootstrap
intervals (resampling targets, so a topic counts once). The baseline is fitted on the same train
splits the model saw: TF-IDF of the target, TF-IDF of the text and their cosine similarity.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import corpora
from claims.doc import STANCE_LABELS

from scoring.stance_metrics import bootstrap_metric, stance_metrics

DEV_SETS = ("fnc1", "emergent", "semeval2016_task6", "ibm_claim_stance", "perspectrum", "arc", "vast")
TRAIN_SETS = ("fnc1", "emergent", "semeval2016_task6", "ibm_claim_stance", "perspectrum", "arc")


class TfidfBaseline:
    """TF-IDF of target and text plus their cosine similarity, multinomial logistic regression."""

    def __init__(self, max_features: int = 50_000, C: float = 4.0, seed: int = 0):
        self.max_features, self.C, self.seed = max_features, C, seed

    def _features(self, targets, texts):
        from scipy.sparse import csr_matrix, hstack
        a = self.vec_.transform(targets)
        b = self.vec_.transform(texts)
        cos = np.asarray(a.multiply(b).sum(1)).ravel()  # rows are L2-normalised
        return hstack([a, b, csr_matrix(cos[:, None])]).tocsr()

    def fit(self, targets: list[str], texts: list[str], labels: list[str]) -> "TfidfBaseline":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        self.vec_ = TfidfVectorizer(max_features=self.max_features, ngram_range=(1, 2), sublinear_tf=True,
                                    min_df=2, stop_words="english")
        self.vec_.fit(list(targets) + list(texts))
        self.clf_ = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced", random_state=self.seed)
        self.clf_.fit(self._features(targets, texts), labels)
        return self

    def predict(self, targets: list[str], texts: list[str]) -> list[str]:
        return list(self.clf_.predict(self._features(targets, texts)))


def load(split: str, sets, data=None, unrelated_cap: int = 5000, seed: int = 13) -> dict[str, list[dict]]:
    """Rows of a split per dataset, from the shared data folder (``$CLAIMS_DATA/stance``)."""
    return load_dir(corpora.data_dir(data) / "stance", split, sets, unrelated_cap, seed)


def load_dir(folder: str | Path, split: str, sets=None, unrelated_cap: int = 5000, seed: int = 13
             ) -> dict[str, list[dict]]:
    """Rows of a split per dataset from ``folder/<dataset>/<split>.jsonl[.gz]``; ``sets=None``
    takes every dataset folder that has the split. Train splits keep at most ``unrelated_cap``
    unrelated pairs per dataset (the same subsampling as training.stance)."""
    import random
    folder = Path(folder)
    if sets is None:
        sets = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    out = {}
    for name in sets:
        path = next((folder / name / f for f in (f"{split}.jsonl", f"{split}.jsonl.gz")
                     if (folder / name / f).exists()), None)
        if path is None:
            continue
        rows = list(corpora.read_jsonl(path))
        if split == "train":
            rng = random.Random(seed)
            unrel = [r for r in rows if r["label"] == "unrelated"]
            rest = [r for r in rows if r["label"] != "unrelated"]
            rng.shuffle(unrel)
            rows = rest + unrel[:unrelated_cap]
        out[name] = rows
    return out


def model_predictions(dev: dict[str, list[dict]], model_dir: str | None, attribution_dir: str | None,
                      progress=None) -> tuple[dict[str, np.ndarray], dict]:
    """Model probabilities (n, 4) per dataset and the model's config. ``progress(name, done,
    total)`` is called as pairs are scored; by default a line per dataset goes to stderr."""
    import torch
    from claims.nlp.encoder import build_trunk, load_tokenizer
    from claims.nlp.extract import AttributionModel
    from claims.nlp.stance import StanceModel, stance_config, text_roles

    attribution = AttributionModel.load(attribution_dir)
    tok = load_tokenizer()
    stance_dir, stance_conf = stance_config(model_dir)
    # the stance model's trunk; the attribution model reads its prefix when it shares fewer layers
    trunk = build_trunk(max(attribution.shared_layers, int(stance_conf["shared_layers"])))
    model = StanceModel.load(stance_dir, trunk.cfg, tok, trunk)
    max_len = int(model.config.get("max_text_len", 160))
    out = {}
    with torch.inference_mode():
        for name, rows in dev.items():
            t0 = time.time()
            texts = [r["text"] for r in rows]
            uniq = sorted(dict.fromkeys(texts), key=len)   # shortest first, so that each batch pads little
            role_of = dict(zip(uniq, text_roles(uniq, attribution, trunk, tok, max_len)))
            out[name] = model.score_texts([r["target"] for r in rows], texts, [role_of[t] for t in texts], trunk,
                                          progress=(lambda done, total, name=name: progress(name, done, total))
                                          if progress else None)
            if not progress:
                print(f"  {name}: {len(rows)} pairs ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return out, model.config


def evaluate(args) -> dict:
    dev = load("dev", DEV_SETS, args.data)
    if args.limit:
        dev = {k: v[:args.limit] for k, v in dev.items()}
    if not dev:
        sys.exit(f"error: no stance dev data under {corpora.data_dir(args.data) / 'stance'}")
    report: dict = {"datasets": {}}
    probs, config = model_predictions(dev, args.model, args.attribution_model)
    report["model"] = {"version": config.get("version"), "temperature": config.get("temperature")}
    if not args.no_baseline:
        train = load("train", TRAIN_SETS, args.data)
        rows = [r for v in train.values() for r in v]
        t0 = time.time()
        base = TfidfBaseline().fit([r["target"] for r in rows], [r["text"] for r in rows], [r["label"] for r in rows])
        print(f"  baseline fitted on {len(rows)} pairs ({time.time() - t0:.0f}s)", file=sys.stderr)
    for name, rows in dev.items():
        gold = [r["label"] for r in rows]
        pred = [STANCE_LABELS[i] for i in probs[name].argmax(1)]
        m = stance_metrics(gold, pred, name)
        groups = [r["target"] for r in rows]
        m["macro_f1_ci"] = bootstrap_metric(gold, pred, "macro_f1", groups, n=args.bootstrap)
        entry = {"model": m}
        if not args.no_baseline:
            bpred = base.predict([r["target"] for r in rows], [r["text"] for r in rows])
            entry["baseline"] = stance_metrics(gold, bpred, name)
        report["datasets"][name] = entry
    from scoring.stance_metrics import expected_calibration_error
    all_p = np.concatenate([probs[k] for k in dev])
    all_y = np.concatenate([[STANCE_LABELS.index(r["label"]) for r in dev[k]] for k in dev])
    report["ece"] = expected_calibration_error(all_p, all_y)
    report["_probs"] = {k: v.tolist() for k, v in probs.items()}
    return report


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    t = Table(title="Stance, dev splits (macro-F1 over favor/against/neutral, %; 95% interval over targets)")
    for col in ("dataset", "n", "model macro-F1", "acc", "FNC score", "baseline macro-F1", "acc ", "FNC score "):
        t.add_column(col, justify="right" if col != "dataset" else "left")
    for name, e in report["datasets"].items():
        m, b = e["model"], e.get("baseline")
        lo, hi = m["macro_f1_ci"]
        t.add_row(name, str(m["n"]), f"{m['macro_f1']:.1f} [{lo:.1f}, {hi:.1f}]", f"{m['accuracy']:.1f}",
                  f"{m['fnc_score']:.1f}" if "fnc_score" in m else "",
                  f"{b['macro_f1']:.1f}" if b else "", f"{b['accuracy']:.1f}" if b else "",
                  f"{b['fnc_score']:.1f}" if b and "fnc_score" in b else "")
    c = Console()
    c.print(t)
    c.print(f"expected calibration error over all dev pairs: {100 * report['ece']:.1f}%")
    key = "macro_f1_unrelated_as_neutral"
    merged = [f"{name} {e['model'][key]:.1f}" + (f" (baseline {e['baseline'][key]:.1f})" if e.get("baseline") else "")
              for name, e in report["datasets"].items() if key in e["model"]]
    if merged:
        c.print("macro-F1 with a predicted unrelated read as neutral (gold without an unrelated class): "
                + ", ".join(merged))
    for name, e in report["datasets"].items():
        rows = e["model"]["confusion"]
        c.print(f"[bold]{name}[/bold] confusion (rows gold, cols predicted; {', '.join(STANCE_LABELS)}): {rows}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Stance metrics on the dev splits, model and TF-IDF baseline.")
    ap.add_argument("--data", default=None, help="shared data folder (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--model", default=None, help="stance model directory (default: shipped)")
    ap.add_argument("--attribution-model", default=None, help="attribution model marking roles (default: shipped)")
    ap.add_argument("--limit", type=int, default=0, help="first N pairs per dataset")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--json", default=None, help="write all figures to this file")
    args = ap.parse_args(argv)
    report = evaluate(args)
    print_report(report)
    if args.json:
        out = {k: v for k, v in report.items() if not k.startswith("_")}
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
