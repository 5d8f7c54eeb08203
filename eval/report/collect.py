"""Every figure of the report, computed from gold data and predictions given as plain data.

Nothing here loads a model or reads a file: ``eval.report.run`` does that and passes predictions
in, and the tests pass hand-made ones. Each function returns one section of ``metrics.json``.

A *figure* is ``{"value": v, "ci": [lo, hi]}`` (``ci`` is None when there is no interval), in
percent unless its name says otherwise. Intervals are 95% bootstrap percentiles: over articles for
attribution and speakers, over targets for a stance dataset, over items within one target or
dispute. Every bootstrap draws from ``numpy.random.default_rng(seed)``, so a report is the same
for the same seed.
"""

from __future__ import annotations

import itertools
import warnings
from collections import Counter
from typing import Callable, Optional

import numpy as np

import corpora
from claims.doc import FORMS, STANCE_LABELS
from claims.nlp.segment import Segmented, segment

from scoring.metrics import (Counts, DocScores, bootstrap_counts, claim_counts_at_thresholds, claim_form,
                       claim_slice_counts, counts_to_array, doc_count_array, prf_array, resample_weights,
                       score_document)
from scoring.stance_metrics import SIDED, bootstrap_stance, reliability, stance_metrics

THRESHOLDS = [round(0.05 * i, 2) for i in range(20)]   # 0.00 .. 0.95
SPEAKER_KINDS = ("name", "pronoun", "description", "metonymy")
# Published PolNeAR exact-match F1 (source, cue, content), docs/DESIGN.md section 5. They are on the test
# compartment, so they place our dev figures; they are not the same measurement.
PUBLISHED = [
    {"system": "CoreNLP quote annotator", "source": 13.9, "cue": None, "content": 17.5},
    {"system": "BiLSTM-CRF", "source": 69.6, "cue": 66.7, "content": 59.0},
    {"system": "BERT-base+CRF", "source": 82.2, "cue": 74.9, "content": 71.0},
    {"system": "BERT-base+CofeNet (COLING 2022)", "source": 83.2, "cue": 75.3, "content": 72.9},
]

Progress = Optional[Callable[[str], None]]


def _defined(x) -> bool:
    return x is not None and not np.isnan(float(x))


def figure(value: float | None, ci: tuple[float, float] | None = None) -> dict:
    """A figure as stored in metrics.json (rounded so that the file reads well and diffs cleanly);
    an undefined value (None or NaN, e.g. precision without predictions) is stored as None."""
    if not _defined(value):
        return {"value": None, "ci": None}
    if ci is None or not (_defined(ci[0]) and _defined(ci[1])):
        return {"value": round(float(value), 3), "ci": None}
    return {"value": round(float(value), 3), "ci": [round(float(ci[0]), 3), round(float(ci[1]), 3)]}


def _prf_figures(counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict:
    """``{"p", "r", "f1"}`` figures from summed counts (4,) and interval rows (3,); precision
    without predictions and recall without gold are undefined (None), not 0."""
    v = prf_array(counts, undefined=np.nan)
    return {name: figure(v[m], (lo[m], hi[m])) for m, name in enumerate(("p", "r", "f1"))}


def cue_key(text: str, spans: list[tuple[int, int]]) -> str:
    """A cue as a breakdown key: its words, lowercased and whitespace-normalised."""
    return " ".join(" ".join(text[s:e] for s, e in spans).lower().split()) or "(no cue)"


# -- attribution -------------------------------------------------------------------------------

def _system_scores(segs: list[Segmented], preds: list[list[dict]], golds: list[list[dict]]) -> list[DocScores]:
    return [score_document(seg, p, g) for seg, p, g in zip(segs, preds, golds)]


def _main_figures(docs: list[DocScores], n_boot: int, seed: int, groups: list | None = None) -> dict:
    keys, arr = doc_count_array(docs)
    lo, hi = bootstrap_counts(arr, n_boot, seed, groups=groups)
    total = arr.sum(0)
    out: dict = {"exact": {}, "overlap": {}}
    for k, key in enumerate(keys):
        f = _prf_figures(total[k], lo[k], hi[k])
        if key == "claim":
            out["claim"] = f
        else:
            kind, role = key.split("_", 1)
            out[kind][role] = f
    return out


def _slice_figures(per_doc: list[dict[str, Counts]], keys: list[str], n_boot: int, seed: int) -> dict:
    arr = np.array([counts_to_array([d.get(k, Counts()) for k in keys]) for d in per_doc]).reshape(
        len(per_doc), len(keys), 4)
    lo, hi = bootstrap_counts(arr, n_boot, seed)
    total = arr.sum(0)
    return {k: {"n_gold": int(total[i, 3]), "n_pred": int(total[i, 1]), **_prf_figures(total[i], lo[i], hi[i])}
            for i, k in enumerate(keys)}


def attribution_section(articles: list[dict], predictions: list[list[dict]] | None, *,
                        agreement: list[dict] | None = None, model_missing: str = "",
                        n_boot: int = 1000, seed: int = 0, top_cues: int = 12,
                        thresholds: list[float] = THRESHOLDS, progress: Progress = None) -> dict:
    """Attribution figures (docs/DESIGN.md section 5) for the model, the rule baseline and the human
    ceiling, with breakdowns by form, publisher and cue, and the confidence-threshold curve.

    ``articles``: PolNeAR articles (gold). ``predictions``: per article, claim dicts with
    ``source``/``cue``/``content`` lists of (start, end), optional ``form`` and ``confidence``;
    None when there is no model (``model_missing`` says why). ``agreement``: agreement.jsonl
    articles for the human ceiling, or None.
    """
    from .. import baseline

    tell = progress or (lambda _: None)
    segs = [segment(a["text"]) for a in articles]
    golds = [corpora.gold_claims(a["attributions"]) for a in articles]
    systems: dict[str, list[list[dict]]] = {}
    if predictions is not None:
        systems["model"] = predictions
    tell("rule baseline")
    systems["baseline"] = [baseline.predict(seg) for seg in segs]

    gold_forms = [[claim_form(seg, g["content"]) for g in gs] for seg, gs in zip(segs, golds)]
    gold_cues = [[cue_key(a["text"], g["cue"]) for g in gs] for a, gs in zip(articles, golds)]
    cue_counts = Counter(itertools.chain.from_iterable(gold_cues))
    cues = [c for c, _ in sorted(cue_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_cues]]

    out: dict = {
        "n_articles": len(articles),
        "n_gold_claims": sum(len(g) for g in golds),
        "gold_by_form": {f: sum(x == f for fs in gold_forms for x in fs) for f in FORMS},
        "systems": {},
        "by_form": {},
        "by_publisher": {},
        "by_cue": {},
        "published": PUBLISHED,
    }
    publishers = sorted({a.get("publisher", "unknown") for a in articles})
    labels = {"model": "claims (this model)", "baseline": "rule baseline (quotes + verbs)",
              "human": "human (annotator pairs)"}
    if predictions is None:
        out["systems"]["model"] = {"name": labels["model"], "available": False,
                                   "missing": model_missing or "no attribution model"}
    for name, preds in systems.items():
        tell(f"scoring {name}")
        docs = _system_scores(segs, preds, golds)
        entry = {"name": labels[name], "available": True, "n_articles": len(docs),
                 "n_claims": sum(len(p) for p in preds), **_main_figures(docs, n_boot, seed)}
        out["systems"][name] = entry
        pred_forms = [[p.get("form") or claim_form(seg, p["content"]) for p in ps] for seg, ps in zip(segs, preds)]
        pred_cues = [[cue_key(a["text"], p.get("cue") or []) for p in ps] for a, ps in zip(articles, preds)]
        form_docs = [claim_slice_counts(p, g, pf, gf) for p, g, pf, gf in zip(preds, golds, pred_forms, gold_forms)]
        out["by_form"][name] = _slice_figures(form_docs, list(FORMS), n_boot, seed)
        # every cue outside the top ones is "other", on both sides, so the rows add up
        top = set(cues)
        cue_docs = [claim_slice_counts(p, g, [c if c in top else "(other)" for c in pc],
                                       [c if c in top else "(other)" for c in gc])
                    for p, g, pc, gc in zip(preds, golds, pred_cues, gold_cues)]
        out["by_cue"][name] = _slice_figures(cue_docs, cues + ["(other)"], n_boot, seed)
        out["by_publisher"][name] = {}
        for pub in publishers:
            idx = [i for i, a in enumerate(articles) if a.get("publisher", "unknown") == pub]
            f = _main_figures([docs[i] for i in idx], n_boot, seed)
            out["by_publisher"][name][pub] = {"n_articles": len(idx), **f}
        if name == "model":
            out["threshold_curve"] = threshold_curve(preds, golds, thresholds, n_boot, seed)
    if "threshold_curve" not in out:
        out["threshold_curve"] = {"available": False, "missing": out["systems"]["model"]["missing"]}

    if agreement:
        tell("human ceiling (annotator pairs)")
        out["systems"]["human"] = human_ceiling(agreement, n_boot, seed) | {"name": labels["human"]}
    else:
        out["systems"]["human"] = {"name": labels["human"], "available": False,
                                   "missing": "no agreement file (polnear/agreement.jsonl)"}
    return out


def threshold_curve(preds: list[list[dict]], golds: list[list[dict]], thresholds: list[float],
                    n_boot: int = 1000, seed: int = 0) -> dict:
    """Claim-level precision, recall and F1 keeping predictions with confidence >= t, per t."""
    arr = np.array([counts_to_array(claim_counts_at_thresholds(p, g, thresholds)) for p, g in zip(preds, golds)]
                   ).reshape(len(preds), len(thresholds), 4)
    lo, hi = bootstrap_counts(arr, n_boot, seed)
    total = arr.sum(0)
    vals = prf_array(total, undefined=np.nan)

    def r3(x):
        return round(float(x), 3) if _defined(x) else None
    points = [{"threshold": t, "n_pred": int(total[i, 1]),
               "p": r3(vals[i, 0]), "r": r3(vals[i, 1]), "f1": r3(vals[i, 2]),
               "p_ci": [r3(lo[i, 0]), r3(hi[i, 0])], "r_ci": [r3(lo[i, 1]), r3(hi[i, 1])],
               "f1_ci": [r3(lo[i, 2]), r3(hi[i, 2])]}
              for i, t in enumerate(thresholds)]
    best = max(range(len(points)), key=lambda i: (points[i]["f1"] or 0.0, -i))
    return {"available": True, "points": points,
            "best_threshold": points[best]["threshold"],
            "best_f1": figure(vals[best, 2], (lo[best, 2], hi[best, 2]))}


def human_ceiling(agreement: list[dict], n_boot: int = 1000, seed: int = 0) -> dict:
    """Every ordered pair of annotators of an article, one as prediction and the other as gold;
    intervals resample articles (all pairs of an article together)."""
    docs, groups = [], []
    for a in agreement:
        seg = segment(a["text"])
        anns = a["annotations"]
        for x, y in itertools.permutations(range(len(anns)), 2):
            docs.append(score_document(seg, corpora.gold_claims(anns[x]["attributions"]),
                                       corpora.gold_claims(anns[y]["attributions"])))
            groups.append(a["id"])
    return {"available": True, "n_articles": len(agreement), "n_pairs": len(docs),
            "note": "agreement.jsonl: articles annotated by 5-6 people (mostly from train), every ordered "
                    "pair of annotators; not the dev articles",
            **_main_figures(docs, n_boot, seed, groups=groups)}


# -- speakers ----------------------------------------------------------------------------------

def bootstrap_accuracy(ok: np.ndarray, n: np.ndarray, n_boot: int = 1000, seed: int = 0,
                       alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals (percent) of accuracies from per-unit counts ``ok`` and ``n``, both
    ``(n_units, k)``, resampling units."""
    w = resample_weights(len(ok), n_boot, seed)
    num, den = w @ np.asarray(ok, float), w @ np.asarray(n, float)
    acc = 100 * np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    # a kind absent from a resample has no accuracy there; leave it out of that kind's interval
    # (a kind absent everywhere gets NaN, and its figure is reported as missing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(acc, 100 * alpha / 2, axis=0), np.nanpercentile(acc, 100 * (1 - alpha / 2), axis=0)


def speaker_section(outcomes: list[dict], *, n_articles: int = 0, matched_missing: str = "",
                    n_boot: int = 1000, seed: int = 0) -> dict:
    """Speaker accuracy from ``eval.attribution.speaker_outcomes`` records, overall and by kind
    of source, for the resolver on gold sources and on the model's matched claims."""
    out: dict = {"available": bool(outcomes), "n_articles": n_articles}
    if not outcomes:
        out["missing"] = "no hand-checked speakers for these articles (eval/data/speakers_dev.jsonl covers PolNeAR dev)"
        return out
    for setting in ("gold_sources", "matched"):
        rec = [r for r in outcomes if r["setting"] == setting]
        if not rec:
            out[setting] = {"available": False, "missing": matched_missing or "no predictions"}
            continue
        arts = sorted({r["article"] for r in rec})
        pos = {a: i for i, a in enumerate(arts)}
        cols = ("all",) + SPEAKER_KINDS
        ok = np.zeros((len(arts), len(cols)))
        n = np.zeros((len(arts), len(cols)))
        for r in rec:
            for c in ("all", r["kind"]):
                if c in cols:
                    ok[pos[r["article"]], cols.index(c)] += r["ok"]
                    n[pos[r["article"]], cols.index(c)] += 1
        lo, hi = bootstrap_accuracy(ok, n, n_boot, seed)
        tot_ok, tot_n = ok.sum(0), n.sum(0)
        entry: dict = {"available": True, "n": int(tot_n[0]), "n_articles": len(arts), "by_kind": {}}
        for i, c in enumerate(cols):
            f = figure(100 * tot_ok[i] / tot_n[i], (lo[i], hi[i])) if tot_n[i] else {"value": None, "ci": None}
            f["n"] = int(tot_n[i])
            if c == "all":
                entry["accuracy"] = f
            else:
                entry["by_kind"][c] = f
        out[setting] = entry
    return out


SET_KINDS = ("name", "pronoun", "relative pronoun", "description", "metonymy", "document", "empty source")
SET_SETTINGS = (("gold_sources", "gold sources"), ("end_to_end", "end to end"))


def speaker_sets_section(records: list[dict], *, missing: dict[str, str] | None = None,
                         n_boot: int = 1000, seed: int = 0) -> dict:
    """Speaker accuracy, strict and lenient, on each speaker set (the disputes dev set and the
    hand-checked sets) from ``eval.speakers.outcomes`` records: per set and setting (the resolver
    on gold sources; the model's matched claims end to end), overall (attributions with a gold
    speaker) and by kind of source mention. Intervals over articles."""
    out: dict = {}
    for name in dict.fromkeys([r["set"] for r in records] + list(missing or {})):
        rs = [r for r in records if r["set"] == name]
        if not rs:
            out[name] = {"available": False, "missing": (missing or {}).get(name, "no records")}
            continue
        entry: dict = {"available": True}
        for key, setting in SET_SETTINGS:
            rec = [r for r in rs if r["setting"] == setting]
            if not rec:
                entry[key] = {"available": False, "missing": (missing or {}).get(f"{name}/{key}", "no predictions")}
                continue
            arts = sorted({r["article"] for r in rec})
            pos = {a: i for i, a in enumerate(arts)}
            cols = ("all",) + SET_KINDS
            e: dict = {"available": True, "n_articles": len(arts), "by_kind": {}}
            for measure in ("strict", "lenient"):
                ok = np.zeros((len(arts), len(cols)))
                n = np.zeros((len(arts), len(cols)))
                for r in rec:
                    for c in (["all"] if r["kind"] != "empty source" else []) + [r["kind"]]:
                        ok[pos[r["article"]], cols.index(c)] += r[measure]
                        n[pos[r["article"]], cols.index(c)] += 1
                lo, hi = bootstrap_accuracy(ok, n, n_boot, seed)
                tot_ok, tot_n = ok.sum(0), n.sum(0)
                for i, c in enumerate(cols):
                    f = figure(100 * tot_ok[i] / tot_n[i], (lo[i], hi[i])) if tot_n[i] else {"value": None, "ci": None}
                    f["n"] = int(tot_n[i])
                    if c == "all":
                        e[measure] = f
                        e["n"] = int(tot_n[i])
                    elif tot_n[i]:
                        e["by_kind"].setdefault(c, {})[measure] = f
            entry[key] = e
        out[name] = entry
    return out


# -- stance ------------------------------------------------------------------------------------

def _stance_figures(gold: list[str], pred: list[str], groups: list[str] | None, name: str,
                    n_boot: int, seed: int) -> dict:
    m = stance_metrics(gold, pred, name)
    ci = bootstrap_stance(gold, pred, groups, n_boot, seed)
    out = {"n": m["n"], "macro_f1": figure(m["macro_f1"], ci.get("macro_f1")),
           "accuracy": figure(m["accuracy"], ci.get("accuracy")),
           "f1": {l: round(m["f1"][l], 3) for l in SIDED}, "confusion": m["confusion"]}
    if "fnc_score" in m:
        out["fnc_score"] = figure(m["fnc_score"], ci.get("fnc_score"))
    return out


def ece_figure(probs: np.ndarray, labels: np.ndarray, bins: int = 15, n_boot: int = 1000, seed: int = 0) -> dict:
    """ECE (percent) with an item-bootstrap interval, and the reliability bins of the whole sample."""
    rows, ece = reliability(probs, labels, bins)
    if len(probs) == 0:
        return {"ece": {"value": None, "ci": None}, "bins": rows, "n": 0}
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(float)
    b = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)   # bin (lo, hi] as in ``reliability``
    one = np.zeros((len(conf), bins))
    one[np.arange(len(conf)), b] = 1
    w = resample_weights(len(conf), n_boot, seed)
    cnt, sc, sa = w @ one, w @ (one * conf[:, None]), w @ (one * correct[:, None])
    eces = np.abs(sa - sc).sum(1) / cnt.sum(1)
    return {"ece": figure(100 * ece, (100 * np.percentile(eces, 2.5), 100 * np.percentile(eces, 97.5))),
            "bins": rows, "n": int(len(conf))}


def stance_section(dev: dict[str, list[dict]], probs: dict[str, np.ndarray] | None,
                   baseline_preds: dict[str, list[str]] | None, *, model_missing: str = "",
                   baseline_missing: str = "", model_info: dict | None = None, top_targets: int = 5,
                   n_boot: int = 1000, seed: int = 0) -> dict:
    """Stance per dataset (intervals over targets) and per target (top targets by count,
    intervals over pairs), confusion matrices, calibration, beside the TF-IDF baseline.

    ``dev``: dataset name -> rows ``{"target", "text", "label"}``; ``probs``: dataset -> model
    probabilities (n, 4) in ``STANCE_LABELS`` order, or None without a model;
    ``baseline_preds``: dataset -> predicted labels, or None.
    """
    out: dict = {"available": bool(dev), "datasets": {},
                 "model": {"available": probs is not None, **(model_info or {})},
                 "baseline": {"available": baseline_preds is not None}}
    if probs is None:
        out["model"]["missing"] = model_missing or "no stance model"
    if baseline_preds is None:
        out["baseline"]["missing"] = baseline_missing or "no training data for the baseline"
    if not dev:
        out["missing"] = "no stance dev data"
        return out
    for name in sorted(dev):
        rows = dev[name]
        gold = [r["label"] for r in rows]
        targets = [r["target"] for r in rows]
        entry: dict = {"n": len(rows), "n_targets": len(set(targets)),
                       "labels": {l: gold.count(l) for l in STANCE_LABELS}}
        systems = {}
        if probs is not None:
            p = np.asarray(probs[name])
            systems["model"] = [STANCE_LABELS[i] for i in p.argmax(1)]
        if baseline_preds is not None:
            systems["baseline"] = list(baseline_preds[name])
        for sysname, pred in systems.items():
            entry[sysname] = _stance_figures(gold, pred, targets, name, n_boot, seed)
        if probs is not None:
            y = np.array([STANCE_LABELS.index(g) for g in gold])
            entry["model"]["ece"] = ece_figure(np.asarray(probs[name]), y, n_boot=n_boot, seed=seed)["ece"]
        by_target = Counter(targets)
        top = sorted(by_target.items(), key=lambda kv: (-kv[1], kv[0]))[:top_targets]
        entry["targets"] = {}
        for t, _ in top:
            idx = [i for i, x in enumerate(targets) if x == t]
            te: dict = {"n": len(idx)}
            for sysname, pred in systems.items():
                f = _stance_figures([gold[i] for i in idx], [pred[i] for i in idx], None, name, n_boot, seed)
                te[sysname] = {k: f[k] for k in ("macro_f1", "accuracy")}
            entry["targets"][t] = te
        out["datasets"][name] = entry
    if probs is not None:
        allp = np.concatenate([np.asarray(probs[k]) for k in sorted(dev)])
        ally = np.concatenate([[STANCE_LABELS.index(r["label"]) for r in dev[k]] for k in sorted(dev)])
        out["calibration"] = {"available": True, **ece_figure(allp, ally, n_boot=n_boot, seed=seed)}
    else:
        out["calibration"] = {"available": False, "missing": out["model"]["missing"]}
    return out


def dispute_section(records: list[dict] | None, disputes: dict[str, str] | None = None, *, missing: str = "",
                    source: str = "", n_boot: int = 1000, seed: int = 0) -> dict:
    """Stance on user-defined disputes from seed gold files (``seeds/*.gold.json``): one record per
    (gold claim, dispute) with ``accept`` (the labels a reader accepts) and ``pred``.

    Accuracy counts a prediction in ``accept`` as right. For macro-F1 each item's gold label is the
    prediction when it is accepted, else the first accepted label, so several acceptable answers
    never count against the model.
    """
    if not records:
        return {"available": False, "missing": missing or "no seed gold with stance_accept"}
    out: dict = {"available": True, "source": source, "n": len(records), "disputes": {}}
    groups = {"(all disputes)": records}
    for d in sorted({r["dispute"] for r in records}):
        groups[d] = [r for r in records if r["dispute"] == d]
    for d, rec in groups.items():
        gold = [r["pred"] if r["pred"] in r["accept"] else r["accept"][0] for r in rec]
        pred = [r["pred"] for r in rec]
        m = stance_metrics(gold, pred)
        ci = bootstrap_stance(gold, pred, None, n_boot, seed)
        out["disputes"][d] = {"title": (disputes or {}).get(d, ""), "n": len(rec),
                              "accuracy": figure(m["accuracy"], ci.get("accuracy")),
                              "macro_f1": figure(m["macro_f1"], ci.get("macro_f1")),
                              "confusion": m["confusion"]}
    return out


# -- runtime -----------------------------------------------------------------------------------

def runtime_section(timing: dict | None, bench: dict | None = None, missing: str = "") -> dict:
    """Throughput and memory. ``timing``: ``{"articles", "tokens", "seconds", "peak_rss_mb",
    "threads", "load_average"}`` from the report's own extraction pass; ``bench``: the JSON of
    ``python -m eval.bench`` if one was run or given."""
    if not timing and not bench:
        return {"available": False, "missing": missing or "no model was run"}
    out: dict = {"available": True}
    if timing:
        s = max(timing["seconds"], 1e-9)
        out.update({"articles": timing["articles"], "tokens": timing["tokens"], "seconds": round(timing["seconds"], 2),
                    "threads": timing.get("threads"), "load_average": timing.get("load_average"),
                    "articles_per_s": figure(timing["articles"] / s), "tokens_per_s": figure(timing["tokens"] / s),
                    "peak_rss_mb": figure(timing["peak_rss_mb"])})
    if bench:
        out["bench"] = {k: (figure(v) if isinstance(v, float) else v) for k, v in sorted(bench.items())}
    return out
