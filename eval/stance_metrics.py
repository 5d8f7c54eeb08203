"""Stance metrics: macro-F1 over favor/against/neutral, accuracy, FNC-1's weighted score, confusion.

Macro-F1 averages the F1 of favor, against and neutral over the labels that occur in the gold
of that dataset (IBM and Perspectrum have no neutral); ``unrelated`` is left out of the average
and kept in the confusion matrix. ``f_avg`` is SemEval-2016's F-average of favor and against.
"""

from __future__ import annotations

import numpy as np

from claims.doc import STANCE_LABELS

SIDED = ("favor", "against", "neutral")


def f1(gold: list[str], pred: list[str], label: str) -> float:
    tp = sum(g == label and p == label for g, p in zip(gold, pred))
    n_p = sum(p == label for p in pred)
    n_g = sum(g == label for g in gold)
    if tp == 0:
        return 0.0
    prec, rec = tp / n_p, tp / n_g
    return 2 * prec * rec / (prec + rec)


def fnc_score(gold: list[str], pred: list[str]) -> float:
    """FNC-1 weighted score as a percentage of the best possible: 0.25 for telling related from
    unrelated, 0.75 more for the right related label."""
    def score(g: str, p: str) -> float:
        s = 0.0
        if (g == "unrelated") == (p == "unrelated"):
            s += 0.25
            if g != "unrelated" and g == p:
                s += 0.75
        return s
    best = sum(score(g, g) for g in gold)
    return 100 * sum(score(g, p) for g, p in zip(gold, pred)) / best if best else 0.0


def confusion(gold: list[str], pred: list[str]) -> list[list[int]]:
    """Rows gold, columns predicted, in STANCE_LABELS order."""
    idx = {l: i for i, l in enumerate(STANCE_LABELS)}
    m = np.zeros((len(STANCE_LABELS), len(STANCE_LABELS)), dtype=int)
    for g, p in zip(gold, pred):
        m[idx[g], idx[p]] += 1
    return m.tolist()


def stance_metrics(gold: list[str], pred: list[str], dataset: str = "") -> dict:
    present = [l for l in SIDED if l in set(gold)]
    per = {l: 100 * f1(gold, pred, l) for l in SIDED}
    out = {
        "n": len(gold),
        "macro_f1": float(np.mean([per[l] for l in present])) if present else 0.0,
        "accuracy": 100 * float(np.mean([g == p for g, p in zip(gold, pred)])) if gold else 0.0,
        "f_avg": (per["favor"] + per["against"]) / 2,
        "f1": per,
        "confusion": confusion(gold, pred),
    }
    if dataset == "fnc1" or "unrelated" in set(gold):
        out["fnc_score"] = fnc_score(gold, pred)
    return out


def bootstrap_metric(gold: list[str], pred: list[str], key: str, groups: list[str] | None = None,
                     n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of one figure, resampling groups (e.g. targets) or items."""
    rng = np.random.default_rng(seed)
    gold_a, pred_a = np.asarray(gold), np.asarray(pred)
    if groups is None:
        units = [np.array([i]) for i in range(len(gold))]
    else:
        by: dict[str, list[int]] = {}
        for i, g in enumerate(groups):
            by.setdefault(g, []).append(i)
        units = [np.asarray(v) for v in by.values()]
    vals = []
    for _ in range(n):
        pick = rng.integers(0, len(units), len(units))
        idx = np.concatenate([units[i] for i in pick])
        m = stance_metrics(gold_a[idx].tolist(), pred_a[idx].tolist())
        vals.append(m[key] if key in m else m.get("fnc_score", 0.0) if key == "fnc_score" else 0.0)
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))
