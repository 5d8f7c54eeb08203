"""Speed and memory of the analyzer on PolNeAR dev texts (or any JSONL of {"id", "text"}).

    python -m eval.bench                      # extraction only, then with the seed disputes
    python -m eval.bench --limit 20 --threads 1
    python -m eval.bench --disputes 20        # stance cost with 20 generated disputes
    python -m eval.bench --disputes 0 --limit 20   # extraction, and the encoder against the hand-written one
    python -m eval.bench --batch              # batch jobs: 1 and 2 workers, Ray; scaling efficiency
    python -m eval.bench --batch --memory-lines 1000,100000   # and peak memory against input length

Reports articles/s, tokens/s (subword tokens of the article text), peak RSS, and the ratio of the
analyzer's time to a bare forward pass of the encoder (all six layers, no heads) reading the same
text once (windows of the same length, no overlap), all measured in one run. Stance cost is reported per article for the
given number of disputes, as added time and as a multiple of one bare encoder pass.

The same run times the `transformers` encoder against the hand-written BERT of earlier versions
(``eval/encoder_reference.py``), same weights and batches, alternating (``--compare-encoders``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_texts(path: str | None, limit: int) -> list[tuple[str, str]]:
    import corpora
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


def bare_forward_seconds(analyzer, texts: list[str], batch_size: int) -> float:
    """Time of the encoder alone (trunk + the tagger's top layers = six layers) reading the text once:
    windows of the same length, no overlap."""
    import torch
    with torch.inference_mode():
        return _bare_forward_seconds(analyzer, texts, batch_size)


def _bare_batches(analyzer, texts: list[str], batch_size: int) -> list:
    """The id batches of a bare pass: windows of the analyzer's length, no overlap."""
    import torch
    from claims.nlp.segment import collate, prepare, windows
    tok = analyzer.tokenizer
    prepared = [prepare(t, tok) for t in texts]
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    wins = [w for k, p in enumerate(prepared) for w in windows(p.sub, k, cls_id, sep_id, analyzer.max_len,
                                                                  analyzer.max_len - 2)]
    return [torch.from_numpy(collate(wins[b:b + batch_size], prepared)["ids"]) for b in range(0, len(wins), batch_size)]


def _time_pass(trunk, top, batches) -> float:
    t0 = time.perf_counter()
    for ids in batches:
        top(trunk(ids), ids)
    return time.perf_counter() - t0


def _bare_forward_seconds(analyzer, texts: list[str], batch_size: int) -> float:
    return _time_pass(analyzer.trunk, analyzer.model.net.top, _bare_batches(analyzer, texts, batch_size))


def encoder_comparison(analyzer, texts: list[str], batch_size: int, rounds: int = 3) -> dict:
    """The `transformers` encoder (trunk + the tagger's top) against the hand-written BERT that
    earlier versions used, with the same weights, on the same batches, in this process: rounds
    alternate between the two and each keeps its fastest, so a busy machine weighs on both alike.
    Also the largest difference between their outputs (non-padding positions)."""
    import torch
    from safetensors.torch import load_file
    from eval import encoder_reference as R

    batches = _bare_batches(analyzer, texts, batch_size)
    ref_trunk = R.build_trunk(analyzer.model.shared_layers)
    state = {k.removeprefix("top."): v.float()
             for k, v in load_file(str(analyzer.model.path / "tagger.safetensors")).items() if k.startswith("top.")}
    ref_top = R.Top(ref_trunk.cfg, len(analyzer.model.net.top.layers))
    ref_top.load_state_dict(R.reference_names(state))
    ref_top.eval()
    new_s, old_s = [], []
    with torch.inference_mode():
        diff = max(float((analyzer.model.net.top(analyzer.trunk(ids), ids) - ref_top(ref_trunk(ids), ids))
                         [ids != 0].abs().max()) for ids in batches[:4])
        for _ in range(rounds):
            new_s.append(_time_pass(analyzer.trunk, analyzer.model.net.top, batches))
            old_s.append(_time_pass(ref_trunk, ref_top, batches))
    return {"encoder_transformers_s": min(new_s), "encoder_hand_written_s": min(old_s),
            "encoder_transformers_over_hand_written": min(new_s) / min(old_s),
            "encoder_max_abs_diff": diff, "encoder_rounds": rounds}


def run(args) -> dict:
    import torch  # only here: the batch benchmark's writer process must not load it
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
    if args.compare_encoders:
        out.update(encoder_comparison(analyzer, texts, analyzer.batch_size, args.compare_encoders))
    if analyzer.stance is not None and args.disputes:
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


# ---------------------------------------------------------------------------------------- batch jobs

BATCH_CONFIGS = [("local, 1 worker", ["--workers", "1"]),
                 ("local, 2 workers", ["--workers", "2"]),
                 ("ray, 2 actors", ["--engine", "ray", "--workers", "2"])]


def write_repeated_input(path: Path, rows: list[dict], n: int) -> None:
    """``n`` lines that repeat ``rows`` under new ids (``<id>~<copy>``), extra fields kept."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            r = rows[i % len(rows)]
            f.write(json.dumps({"id": f"{r['id']}~{i // len(rows)}", "text": r["text"], "title": r.get("title"),
                                "publisher": r.get("publisher"), "date": r.get("date")}) + "\n")


def batch_child(options: list[str]) -> int:
    """Run one batch job in this (fresh) process and print its summary, with the steady rate:
    records written per second between the 10th and the 90th percentile of write times, which
    leaves out model loading and the last, partly idle, window."""
    from claims.batch import sinks
    from claims.batch import BatchJob, run_batch
    from claims.cli import build_parser
    times: list[float] = []
    write = sinks.JsonlSink.write

    def timed_write(self, record):
        write(self, record)
        times.append(time.perf_counter())

    sinks.JsonlSink.write = timed_write
    summary = run_batch(BatchJob.from_args(build_parser().parse_args(["batch", *options])), []).to_dict()
    lo, hi = int(0.1 * len(times)), int(0.9 * len(times))
    summary["steady_articles_per_s"] = (hi - lo) / (times[hi] - times[lo]) if hi > lo else 0.0
    print(json.dumps(summary))
    return 0


def _child(module: str, argv: list[str]) -> dict:
    import subprocess
    r = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"error: {module} {' '.join(argv)} failed:\n{r.stderr[-2000:]}")
    return r


def run_batch_bench(args) -> dict:
    """Batch throughput and memory for 1 and 2 local workers and the Ray engine (each worker on
    one thread), on PolNeAR dev texts; outputs are compared across engines."""
    import tempfile
    import corpora
    from claims.nlp.encoder import load_tokenizer

    if args.input:
        rows = list(corpora.read_jsonl(args.input))
    else:
        if not corpora.polnear_path("dev").exists():
            sys.exit(f"error: {corpora.polnear_path('dev')} not found; pass --input FILE.jsonl or set $CLAIMS_DATA")
        rows = corpora.polnear("dev")
    rows = rows[:args.limit] if args.limit else rows
    n = len(rows) * args.repeat
    tok = load_tokenizer()
    tokens_per_copy = sum(len(tok.encode(r["text"], add_special_tokens=False).ids) for r in rows)
    n_tokens = tokens_per_copy * args.repeat
    import os
    out: dict = {"articles": n, "tokens": n_tokens, "batch_size": args.batch_size, "configs": {}}
    with tempfile.TemporaryDirectory(prefix="claims-bench-") as tmp:
        inp = Path(tmp) / "in.jsonl"
        write_repeated_input(inp, rows, n)
        outputs = {}
        for name, options in BATCH_CONFIGS:
            if "ray" in options and args.no_ray:
                continue
            result = Path(tmp) / f"{len(outputs)}.jsonl"
            r = _child("eval.bench", ["--batch-child", str(inp), "-o", str(result), "--quiet", "--overwrite",
                                      "--no-stance", "--threads", "1", "--batch-size", str(args.batch_size),
                                      *options])
            s = json.loads(r.stdout.strip().splitlines()[-1])
            rss = s["worker_rss_mb"]
            cpu = s["parent_cpu_s"] + sum(s["worker_cpu_s"].values())
            out["configs"][name] = {
                "workers": s["workers"], "elapsed_s": s["elapsed"], "articles_per_s_end_to_end": s["rate"],
                "articles_per_s": s["steady_articles_per_s"],
                "tokens_per_s": s["steady_articles_per_s"] * n_tokens / n,
                "peak_rss_mb_per_worker": max(rss.values()) if rss else None,
                "peak_rss_mb_by_worker": rss, "parent_peak_rss_mb": s["parent_rss_mb"],
                "cpu_s_per_article": cpu / n}
            outputs[name] = sorted(result.read_bytes().splitlines())
        one, two = (out["configs"].get(k, {}).get("articles_per_s") for k, _ in BATCH_CONFIGS[:2])
        if one and two:
            out["speedup_2_workers"] = two / one
            out["scaling_efficiency_2_workers"] = two / (2 * one)
            # what the job costs in CPU, whatever else the machine runs: with a core per worker,
            # the speedup could reach 2 x (CPU per article with 1) / (CPU per article with 2)
            cpu1, cpu2 = (out["configs"][k]["cpu_s_per_article"] for k, _ in BATCH_CONFIGS[:2])
            out["cpu_bound_speedup_2_workers"] = 2 * cpu1 / cpu2
        out["load_average"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        names = list(outputs)
        out["outputs_identical_up_to_order"] = all(outputs[k] == outputs[names[0]] for k in names)
        for lines in args.memory_lines:
            out.setdefault("memory", {})[lines] = _memory_at(Path(tmp), rows, lines)
    return out


def _memory_at(tmp: Path, rows: list[dict], lines: int) -> dict:
    """Peak RSS of the writer process and of two workers for an input of ``lines`` lines, with
    the stand-in analyzer (``eval.standin``: instant, no model): what is measured is the job's own
    memory as the input grows; a model adds a constant per worker (see the configs above)."""
    inp = tmp / f"mem-{lines}.jsonl"
    write_repeated_input(inp, rows, lines)
    summary = tmp / f"mem-{lines}.json"
    _child("eval.standin", ["--summary", str(summary), str(inp), "-o", str(tmp / f"mem-{lines}.out.jsonl"),
                             "--quiet", "--workers", "2"])
    s = json.loads(summary.read_text())
    inp.unlink()
    return {"written": s["written"], "elapsed_s": s["elapsed"], "parent_peak_rss_mb": s["parent_rss_mb"],
            "worker_peak_rss_mb": max(s["worker_rss_mb"].values())}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--batch-child"]:
        return batch_child(argv[1:])
    ap = argparse.ArgumentParser(description="Analyzer speed and memory.")
    ap.add_argument("--input", help="JSONL of {id, text} (default: PolNeAR dev)")
    ap.add_argument("--model", default=None, help="attribution model directory (default: the shipped one)")
    ap.add_argument("--limit", type=int, default=0, help="first N articles")
    ap.add_argument("--batch-size", type=int, default=8, help="articles per analyze_many batch")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--disputes", type=int, default=20, help="also time stance with this many disputes (0: skip stance)")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--compare-encoders", type=int, default=3, metavar="ROUNDS",
                    help="time the transformers encoder against the hand-written one it replaced, "
                         "alternating for ROUNDS rounds (0: skip)")
    ap.add_argument("--batch", action="store_true", help="benchmark batch jobs (1 and 2 workers, Ray) instead")
    ap.add_argument("--repeat", type=int, default=1, help="with --batch: copies of the texts in the input")
    ap.add_argument("--no-ray", action="store_true", help="with --batch: skip the Ray engine")
    ap.add_argument("--memory-lines", type=lambda v: [int(x) for x in v.split(",")], default=[],
                    help="with --batch: also measure peak memory at these input lengths, e.g. 1000,100000")
    args = ap.parse_args(argv)
    if args.batch:
        return print_batch(run_batch_bench(args), args.json)
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


def print_batch(out: dict, json_path: str | None) -> int:
    """Print the batch figures as a table and lines; write them as JSON to ``json_path``."""
    from rich.console import Console
    from rich.table import Table
    t = Table(title=f"claims batch benchmark: {out['articles']} articles, {out['tokens']:,} tokens, "
                    f"batch size {out['batch_size']}, one thread per worker")
    for col in ("engine", "articles/s", "tokens/s", "end to end", "CPU s/article", "peak RSS/worker", "writer RSS"):
        t.add_column(col, justify="right" if col != "engine" else "left")
    for name, c in out["configs"].items():
        t.add_row(name, f"{c['articles_per_s']:.2f}", f"{c['tokens_per_s']:,.0f}",
                  f"{c['articles_per_s_end_to_end']:.2f}/s in {c['elapsed_s']:.0f}s", f"{c['cpu_s_per_article']:.3f}",
                  f"{c['peak_rss_mb_per_worker']:.0f} MB", f"{c['parent_peak_rss_mb']:.0f} MB")
    Console().print(t)
    if "speedup_2_workers" in out:
        print(f"2 workers vs 1: {out['speedup_2_workers']:.2f}x, scaling efficiency "
              f"{100 * out['scaling_efficiency_2_workers']:.0f}%; from CPU time per article, with a free core "
              f"per worker: up to {out['cpu_bound_speedup_2_workers']:.2f}x")
    print(f"load average during the run: {out['load_average']}")
    print(f"outputs identical across engines (up to order): {out['outputs_identical_up_to_order']}")
    for lines, m in out.get("memory", {}).items():
        print(f"{lines:>7} input lines (stand-in analyzer, 2 workers): writer peak RSS "
              f"{m['parent_peak_rss_mb']:.0f} MB, worker peak RSS {m['worker_peak_rss_mb']:.0f} MB, "
              f"{m['elapsed_s']:.0f}s")
    if json_path:
        Path(json_path).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
