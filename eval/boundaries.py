"""Where the tagger's span boundaries differ from PolNeAR's, counted by kind of difference.

    python -m eval.boundaries --split train --limit 400   # needs runs/emissions/train.npz (eval.emissions)
    python -m eval.boundaries --split train --examples 5

For every gold source / cue / content span that the decoded spans miss exactly, the decoded span
of that role overlapping it most is compared side by side: which words the start and the end are
off by (only punctuation, a quotation mark, one word, more), whether the decoded span crosses a
paragraph or sentence boundary the gold span does not, and what its last word is. Gold spans no
decoded span touches count as ``missed``. A table of the gold annotation conventions at span
edges (final punctuation, quotation marks, paragraphs crossed) sits beside the same figures for
the decoded spans, so the decoder can be checked against the convention.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import numpy as np

import corpora
from claims.nlp.segment import QUOTE_MARK, Segmented, segment

from scoring import emissions
from scoring.attribution import gold_ranges

ROLES = ("source", "cue", "content")
RELATIVE = {"who", "which", "that", "whom", "whose", "where", "when"}


def _is_punct(w: str) -> bool:
    return not any(c.isalnum() for c in w)


def side_kind(seg: Segmented, pred: int, gold: int, inward_words: list[int]) -> str:
    """Kind of a one-sided boundary difference: the words between the two boundaries."""
    if pred == gold:
        return "same"
    words = [seg.word(i) for i in inward_words]
    if all(seg.quote[i] == QUOTE_MARK for i in inward_words):
        return "quote mark"
    if all(_is_punct(w) for w in words):
        return "punctuation"
    content = [w for w in words if not _is_punct(w)]
    if len(content) == 1:
        return "one word"
    if len(content) <= 3:
        return "2-3 words"
    return "4+ words"


def compare(seg: Segmented, pred: tuple[int, int], gold: tuple[int, int]) -> dict:
    (pa, pb), (ga, gb) = pred, gold
    start_words = list(range(min(pa, ga), max(pa, ga)))
    end_words = list(range(min(pb, gb) + 1, max(pb, gb) + 1))
    d = {
        "start": side_kind(seg, pa, ga, start_words) + (" early" if pa < ga else " late" if pa > ga else ""),
        "end": side_kind(seg, pb, gb, end_words) + (" long" if pb > gb else " short" if pb < gb else ""),
        "pred_par": int(seg.paragraph[pb] != seg.paragraph[pa]),
        "gold_par": int(seg.paragraph[gb] != seg.paragraph[ga]),
        "pred_sent": int(seg.sentence[pb] != seg.sentence[pa]),
        "gold_sent": int(seg.sentence[gb] != seg.sentence[ga]),
        "pred_last": seg.word(pb).lower(),
    }
    return d


def best_overlap(rng: tuple[int, int], cands: set[tuple[int, int]]) -> tuple[int, int] | None:
    best, score = None, 0
    for c in cands:
        ov = min(c[1], rng[1]) - max(c[0], rng[0]) + 1
        if ov > score:
            best, score = c, ov
    return best


def edge_conventions(seg: Segmented, ranges: set[tuple[int, int]]) -> Counter:
    c: Counter = Counter()
    for a, b in ranges:
        c["n"] += 1
        last, first = seg.word(b), seg.word(a)
        c["ends in . ! ?"] += last in (".", "!", "?")
        c["ends in , ; :"] += last in (",", ";", ":")
        c["ends in quote mark"] += int(seg.quote[b] == QUOTE_MARK)
        c["starts with quote mark"] += int(seg.quote[a] == QUOTE_MARK)
        c["next word is quote mark"] += int(b + 1 < len(seg) and seg.quote[b + 1] == QUOTE_MARK)
        c["next word is . , ; :"] += int(b + 1 < len(seg) and seg.word(b + 1) in (".", ",", ";", ":"))
        c["crosses paragraph"] += int(seg.paragraph[a] != seg.paragraph[b])
        c["crosses sentence"] += int(seg.sentence[a] != seg.sentence[b])
        c["ends in relative pronoun"] += seg.word(b).lower() in RELATIVE
        c["in first paragraph"] += int(seg.paragraph[a] == 0)
        c["starts with 'that'"] += first.lower() == "that"
        c["ends in 'that'"] += last.lower() == "that"
        c["previous word is 'that'"] += int(a > 0 and seg.word(a - 1).lower() == "that")
    return c


def analyse(articles: list[dict], lps: list[np.ndarray], decoder=None, examples: int = 0) -> dict:
    """Counts of boundary differences per role; ``decoder(seg, lp)`` gives TaggedSpans
    (default ``claims.nlp.tagger.decode``)."""
    from claims.nlp.tagger import decode
    decoder = decoder or decode
    kinds = {r: Counter() for r in ROLES}
    flags = {r: Counter() for r in ROLES}
    conv_gold = {r: Counter() for r in ROLES}
    conv_pred = {r: Counter() for r in ROLES}
    totals = {r: Counter() for r in ROLES}
    shown: dict[tuple, list[str]] = {}
    for a, lp in zip(articles, lps):
        seg = segment(a["text"])
        gold = gold_ranges(seg, a["attributions"])
        pred: dict[str, set] = {r: set() for r in ROLES}
        for s in decoder(seg, lp):
            pred[s.role].add((s.first, s.last))
        for r in ROLES:
            conv_gold[r] += edge_conventions(seg, gold[r])
            conv_pred[r] += edge_conventions(seg, pred[r])
            t = totals[r]
            t["gold"] += len(gold[r])
            t["pred"] += len(pred[r])
            t["exact"] += len(gold[r] & pred[r])
            t["spurious (no gold overlap)"] += sum(best_overlap(p, gold[r]) is None for p in pred[r])
            for g in gold[r] - pred[r]:
                p = best_overlap(g, pred[r])
                if p is None:
                    kinds[r]["missed (no overlap)"] += 1
                    continue
                d = compare(seg, p, g)
                key = (d["start"] if d["start"] != "same" else "") + (" | " if d["start"] != "same" and d["end"] != "same" else "") \
                    + (d["end"] if d["end"] != "same" else "")
                key = f"start {d['start']}" if d["end"] == "same" else f"end {d['end']}" if d["start"] == "same" \
                    else f"start {d['start']} + end {d['end']}"
                kinds[r][key] += 1
                flags[r]["pred crosses paragraph, gold not"] += d["pred_par"] and not d["gold_par"]
                flags[r]["gold crosses paragraph, pred not"] += d["gold_par"] and not d["pred_par"]
                flags[r]["pred crosses sentence, gold not"] += d["pred_sent"] and not d["gold_sent"]
                flags[r]["gold crosses sentence, pred not"] += d["gold_sent"] and not d["pred_sent"]
                flags[r]["pred ends in relative pronoun"] += d["pred_last"] in RELATIVE
                flags[r]["pred is in first paragraph"] += int(seg.paragraph[p[0]] == 0)
                flags[r]["several pred spans overlap gold"] += sum(
                    1 for q in pred[r] if min(q[1], g[1]) >= max(q[0], g[0])) > 1
                if examples and len(shown.setdefault((r, key), [])) < examples:
                    txt = seg.text
                    shown[(r, key)].append(
                        f"gold [{txt[seg.starts[g[0]]:seg.ends[g[1]]][:200]}]  pred [{txt[seg.starts[p[0]]:seg.ends[p[1]]][:200]}]")
    return {"totals": totals, "kinds": kinds, "flags": flags, "conv_gold": conv_gold, "conv_pred": conv_pred,
            "examples": shown}


def print_report(res: dict) -> None:
    for r in ROLES:
        t = res["totals"][r]
        miss = t["gold"] - t["exact"]
        print(f"\n== {r}: {t['gold']} gold, {t['pred']} decoded, {t['exact']} exact, {miss} gold not exact, "
              f"{t['spurious (no gold overlap)']} decoded spans touching no gold")
        for k, v in res["kinds"][r].most_common():
            print(f"  {v:6d} {100 * v / max(miss, 1):5.1f}%  {k}")
        print("  -- among the inexact with an overlapping decoded span:")
        for k, v in res["flags"][r].most_common():
            print(f"  {v:6d}  {k}")
        g, p = res["conv_gold"][r], res["conv_pred"][r]
        print("  -- edge conventions (% of spans)     gold   decoded")
        for k in sorted(k for k in g if k != "n"):
            print(f"  {k:32s} {100 * g[k] / max(g['n'], 1):6.1f}  {100 * p[k] / max(p['n'], 1):6.1f}")
    if res["examples"]:
        print("\n== examples")
        for (r, k), xs in sorted(res["examples"].items()):
            for x in xs:
                print(f"  {r} / {k}: {x}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Boundary error analysis of the attribution tagger on PolNeAR.")
    ap.add_argument("--split", default="train", choices=["dev", "train"])
    ap.add_argument("--data", default=None, help="shared data folder (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--cache", default=str(emissions.DEFAULT_DIR), help="emissions cache folder (eval.emissions)")
    ap.add_argument("--examples", type=int, default=0, help="show up to N examples of each kind")
    ap.add_argument("--limit", type=int, default=0, help="only the first N articles (must be cached)")
    args = ap.parse_args(argv)
    articles = corpora.polnear(args.split, args.data, args.limit)
    lps = emissions.load(args.split, articles, args.cache)   # a missing cache: one line, exit 2 (corpora.run_command)
    print_report(analyse(articles, lps, examples=args.examples))
    return 0


if __name__ == "__main__":
    from corpora import run_command
    sys.exit(run_command(main))
