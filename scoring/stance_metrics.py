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
    elif "neutral" in set(gold):
        # the gold has no unrelated class, so its neutral means "no stance" (VAST's and SemEval's
        # NONE cover off-topic texts too): the same figure with a predicted unrelated read as neutral
        merged = ["neutral" if p == "unrelated" else p for p in pred]
        out["macro_f1_unrelated_as_neutral"] = float(np.mean([100 * f1(gold, merged, l) for l in present]))
    return out


# FNC-1 credit per (gold, predicted) cell, STANCE_LABELS order: 0.25 for related/unrelated right,
# 0.75 more for the right related label.
_UNREL = STANCE_LABELS.index("unrelated")
FNC_WEIGHTS = np.array([[(0.25 if (g == _UNREL) == (p == _UNREL) else 0.0)
                         + (0.75 if g == p and g != _UNREL else 0.0)
                         for p in range(len(STANCE_LABELS))] for g in range(len(STANCE_LABELS))])


def scores_from_confusion(cm: np.ndarray, present: list[str] | None = None) -> dict[str, np.ndarray]:
    """Macro-F1, accuracy and FNC score (percent) from confusion matrices ``(..., 4, 4)`` (rows
    gold); vectorised so bootstrap resamples are cheap. Macro-F1 averages the sided labels that
    occur in each matrix's gold (as ``stance_metrics``), limited to ``present`` when given."""
    cm = np.asarray(cm, dtype=float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    n_g, n_p = cm.sum(-1), cm.sum(-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1s = np.where(tp > 0, 2 * tp / np.where(n_g + n_p > 0, n_g + n_p, 1), 0.0)
    idx = [STANCE_LABELS.index(l) for l in (present if present is not None else SIDED)]
    total = cm.sum((-2, -1))
    best = (n_g * np.diag(FNC_WEIGHTS)).sum(-1)
    occurs = n_g[..., idx] > 0
    n_occ = occurs.sum(-1)
    macro = np.where(n_occ > 0, (f1s[..., idx] * occurs).sum(-1) / np.maximum(n_occ, 1), 0.0)
    return {
        "macro_f1": 100 * macro,
        "accuracy": 100 * np.where(total > 0, tp.sum(-1) / np.where(total > 0, total, 1), 0.0),
        "fnc_score": 100 * np.where(best > 0, (cm * FNC_WEIGHTS).sum((-2, -1)) / np.where(best > 0, best, 1), 0.0),
    }


def bootstrap_stance(gold: list[str], pred: list[str], groups: list[str] | None = None, n: int = 1000,
                     seed: int = 0, alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    """Percentile intervals of macro-F1, accuracy and FNC score, resampling groups (e.g. targets,
    so a topic counts once) or items. Each resample's macro-F1 averages the labels in its gold."""
    from .metrics import resample_weights
    if not gold:
        return {}
    idx = {l: i for i, l in enumerate(STANCE_LABELS)}
    keys = sorted(set(groups), key=str) if groups is not None else None
    pos = {g: i for i, g in enumerate(keys)} if keys is not None else None
    n_units = len(keys) if keys is not None else len(gold)
    units = np.zeros((n_units, len(STANCE_LABELS), len(STANCE_LABELS)))
    for k, (g, p) in enumerate(zip(gold, pred)):
        units[pos[groups[k]] if pos is not None else k, idx[g], idx[p]] += 1
    w = resample_weights(n_units, n, seed)
    cms = np.tensordot(w, units, axes=(1, 0))           # (n, 4, 4)
    vals = scores_from_confusion(cms)
    return {k: (float(np.percentile(v, 100 * alpha / 2)), float(np.percentile(v, 100 * (1 - alpha / 2))))
            for k, v in vals.items()}


def bootstrap_metric(gold: list[str], pred: list[str], key: str, groups: list[str] | None = None,
                     n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of one figure (``macro_f1``, ``accuracy``, ``fnc_score``),
    resampling groups (e.g. targets) or items."""
    return bootstrap_stance(gold, pred, groups, n, seed).get(key, (0.0, 0.0))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-label probability, equal-width bins."""
    conf = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> tuple[list[dict], float]:
    """Reliability diagram data of the top-label probability, equal-width bins: per bin its
    bounds, count, mean confidence and accuracy; and the expected calibration error (a fraction,
    the same figure as ``expected_calibration_error``)."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    conf = probs.max(1) if len(probs) else np.zeros(0)
    correct = probs.argmax(1) == labels if len(probs) else np.zeros(0, dtype=bool)
    edges = np.linspace(0, 1, bins + 1)
    out, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        row = {"lo": float(lo), "hi": float(hi), "n": int(m.sum()), "confidence": None, "accuracy": None}
        if m.any():
            row["confidence"], row["accuracy"] = float(conf[m].mean()), float(correct[m].mean())
            ece += m.mean() * abs(row["accuracy"] - row["confidence"])
        out.append(row)
    return out, float(ece)
