"""Speed and memory of the analyzer on PolNeAR dev texts (or any JSONL of {"id", "text"}).

    python -m eval.bench                      # extraction only, then with the seed disputes
    python -m eval.bench --limit 20 --threads 1
    python -m eval.bench --disputes 20        # stance cost with 20 generated disputes

Reports articles/s, tokens/s (subword tokens of the article text), peak RSS, and the ratio of the
analyzer's time to a bare forward pass of the encoder (all six layers, no heads) reading the same
text once (windows of the same length, no overlap), all measured in one run. Stance cost is reported per article for the
given number of disputes, as added time and as a multiple of one bare encoder pass.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_texts(path: str | None, limit: int) -> list[tuple[str, str]]:
    from claims import corpora
    if path:
        rows = list(corpora.read_jsonl(path))
    else:
        p = corpora.polnear_path("dev")
        if not p.exists():
            sys.exit(f"error: {p} not found; pass --input FILE.jsonl or set $CLAIMS_DATA")
        rows = corpora.polnear("dev")
    rows = rows[:limit] if limit else rows
    return [(str(r["id"]), r["text"]) for r in rows]


def synthetic_disputes(n: int):
    from claims.doc import Dispute
    from claims import disputes as disputes_mod
    seed = disputes_mod.default()
    topics = ["taxes on the wealthy", "immigration at the southern border", "the Iran nuclear deal",
              "trade with China", "climate regulation", "gun control", "health insurance mandates",
              "police funding", "the minimum wage", "voter identification laws"]
    out = list(seed)
    i = 0
    while len(out) < n:
        t = topics[i % len(topics)]
        out.append(Dispute(f"gen-{i}", t, f"The government should do more about {t}, version {i}."))
        i += 1
    return out[:n]


@torch.inference_mode()
def bare_forward_seconds(analyzer, texts: list[str], batch_size: int) -> float:
    """Time of the encoder alone (trunk + the tagger's top layers = six layers) reading the text once:
    windows of the same length, no overlap."""
    from claims.segment import collate, prepare, windows
    tok = analyzer.tokenizer
    prepared = [prepare(t, tok) for t in texts]
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    wins = [w for k, p in enumerate(prepared) for w in windows(p.sub, k, cls_id, sep_id, analyzer.max_len,
                                                                  analyzer.max_len - 2)]
    t0 = time.perf_counter()
    for b in range(0, len(wins), batch_size):
        batch = wins[b:b + batch_size]
        ids = torch.from_numpy(collate(batch, prepared)["ids"])
        analyzer.model.net.top(analyzer.trunk(ids), ids)
    return time.perf_counter() - t0


def run(args) -> dict:
    from claims.analyzer import Analyzer
    from claims.disputes import default as seed_disputes

    if args.threads:
        torch.set_num_threads(args.threads)
    items = load_texts(args.input, args.limit)
    texts = [t for _, t in items]
    analyzer = Analyzer(model=getattr(args, "model", None), disputes=[])
    n_tokens = sum(len(analyzer.tokenizer.encode(t, add_special_tokens=False).ids) for t in texts)
    # warm up (allocator, kernels)
    list(analyzer.analyze_many(items[:2], disputes=[]))

    bare = bare_forward_seconds(analyzer, texts, analyzer.batch_size)
    t0 = time.perf_counter()
    list(analyzer.analyze_many(items, disputes=[], batch_size=args.batch_size))
    extract = time.perf_counter() - t0
    out = {
        "articles": len(texts), "tokens": n_tokens, "threads": torch.get_num_threads(),
        "bare_forward_s": bare, "extract_s": extract,
        "extract_articles_per_s": len(texts) / extract, "extract_tokens_per_s": n_tokens / extract,
        "bare_tokens_per_s": n_tokens / bare, "ratio_extract_to_bare": extract / bare,
    }
    if analyzer.stance is not None:
        for n in sorted({3, args.disputes}):
            ds = seed_disputes() if n == 3 else synthetic_disputes(n)
            analyzer.stance._prop_cache.clear()
            t0 = time.perf_counter()
            list(analyzer.analyze_many(items, disputes=ds, batch_size=args.batch_size))
            full = time.perf_counter() - t0
            out[f"with_{n}_disputes_s"] = full
            out[f"stance_{n}_added_s_per_article"] = (full - extract) / len(texts)
            out[f"stance_{n}_added_in_bare_passes"] = (full - extract) / bare
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Analyzer speed and memory.")
    ap.add_argument("--input", help="JSONL of {id, text} (default: PolNeAR dev)")
    ap.add_argument("--model", default=None, help="attribution model directory (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=0, help="first N articles")
    ap.add_argument("--batch-size", type=int, default=8, help="articles per analyze_many batch")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--disputes", type=int, default=20, help="also time stance with this many disputes")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    out = run(args)
    from rich.console import Console
    from rich.table import Table
    t = Table(title=f"claims benchmark: {out['articles']} articles, {out['tokens']:,} tokens, "
                    f"{out['threads']} threads")
    t.add_column("figure")
    t.add_column("value", justify="right")
    for k, v in out.items():
        t.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    Console().print(t)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
