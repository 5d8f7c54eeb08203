"""Metrics of stance toward disputes, on (attribution, dispute) pairs.

What a fact-checker reads off the speakers x disputes view is the **sides**: a favor or against
the model gives. So the headline is sided precision / recall / F1: a predicted side is right when
it equals the gold label; recall is over the gold's sided pairs. ``alt`` accepted: where the gold
carries an alternative reading and the prediction equals it, the prediction counts as right.
Related-vs-unrelated F1 treats favor, against and neutral as "related".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from claims.doc import STANCE_LABELS

SIDED = ("favor", "against")


@dataclass
class Pair:
    """One (attribution, dispute) pair: gold label, alternative label, and prediction."""
    article: str
    dispute: str
    catalog: bool
    gold: str
    pred: str
    alt: str | None = None
    probs: np.ndarray | None = None


def effective_gold(p: Pair, accept_alt: bool) -> str:
    return p.pred if accept_alt and p.alt is not None and p.pred == p.alt else p.gold


def sided_prf(pairs: list[Pair], accept_alt: bool = False) -> dict:
    """Sided precision, recall, F1 (%), and the counts behind them."""
    tp = n_pred = n_gold = 0
    for p in pairs:
        g = effective_gold(p, accept_alt)
        n_pred += p.pred in SIDED
        n_gold += g in SIDED
        tp += p.pred in SIDED and p.pred == g
    return _prf(tp, n_pred, n_gold)


def related_prf(pairs: list[Pair], accept_alt: bool = False) -> dict:
    """Related (favor, against or neutral) vs unrelated: P/R/F1 (%) of "related"."""
    tp = n_pred = n_gold = 0
    for p in pairs:
        g = effective_gold(p, accept_alt)
        pr, gr = p.pred != "unrelated", g != "unrelated"
        n_pred += pr
        n_gold += gr
        tp += pr and gr
    return _prf(tp, n_pred, n_gold)


def _prf(tp: int, n_pred: int, n_gold: int) -> dict:
    prec = 100.0 * tp / n_pred if n_pred else 0.0
    rec = 100.0 * tp / n_gold if n_gold else 0.0
    f = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"p": prec, "r": rec, "f1": f, "tp": tp, "n_pred": n_pred, "n_gold": n_gold}


def confusion(pairs: list[Pair], accept_alt: bool = False) -> list[list[int]]:
    """Rows gold, columns predicted, in STANCE_LABELS order."""
    idx = {l: i for i, l in enumerate(STANCE_LABELS)}
    cm = np.zeros((len(STANCE_LABELS), len(STANCE_LABELS)), dtype=int)
    for p in pairs:
        cm[idx[effective_gold(p, accept_alt)], idx[p.pred]] += 1
    return cm.tolist()


def summary(pairs: list[Pair], accept_alt: bool = False) -> dict:
    """Sided and related figures for all pairs, custom disputes and catalog disputes."""
    out = {}
    for name, part in (("all", pairs), ("custom", [p for p in pairs if not p.catalog]),
                       ("catalog", [p for p in pairs if p.catalog])):
        out[name] = {"pairs": len(part), "sided": sided_prf(part, accept_alt),
                     "related": related_prf(part, accept_alt)}
    return out


def fit_side_threshold(probs: np.ndarray, gold: list[str], min_precision: float = 70.0, min_recall: float = 10.0,
                       grid: np.ndarray | None = None) -> tuple[float, dict]:
    """The side threshold (``claims.nlp.stance.decide``) for a decision that is right when it takes a
    side. Among thresholds keeping at least ``min_recall`` sided recall (so that silence does not
    pass for precision): the best F1 among those reaching ``min_precision``; where none does, the best
    F0.5 (precision weighted twice recall). Returns (threshold, figures at it)."""
    from claims.nlp.stance import decide

    grid = np.round(np.arange(0.0, 0.96, 0.01), 2) if grid is None else grid
    rows = []
    for t in grid:
        pred = [STANCE_LABELS[i] for i in decide(probs, float(t))]
        m = sided_prf([Pair("", "", False, g, p) for g, p in zip(gold, pred)])
        p_, r_ = m["p"], m["r"]
        m["f05"] = 1.25 * p_ * r_ / (0.25 * p_ + r_) if p_ + r_ else 0.0
        rows.append((float(t), m))
    usable = [(t, m) for t, m in rows if m["r"] >= min_recall] or rows[:1]
    precise = [(t, m) for t, m in usable if m["p"] >= min_precision]
    if precise:
        return max(precise, key=lambda x: (x[1]["f1"], -x[0]))
    return max(usable, key=lambda x: (x[1]["f05"], -x[0]))


def ece(probs: np.ndarray, gold: list[str], bins: int = 15) -> float:
    """Expected calibration error (%) of the top label's probability."""
    from .stance_metrics import expected_calibration_error

    y = np.array([STANCE_LABELS.index(g) for g in gold])
    return 100.0 * expected_calibration_error(np.asarray(probs), y, bins)
