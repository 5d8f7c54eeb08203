"""``python -m eval report``: an evaluation report as HTML, Markdown and JSON.

    python -m eval report --out reports/dev/
    python -m eval report --attribution GOLD.jsonl --stance DIR --out reports/NAME/ --compare reports/OLD/metrics.json
    python -m eval report --limit 10 --stance-limit 200 --bootstrap 200 --out reports/quick/

Defaults: PolNeAR dev and the stance dev splits of ``$CLAIMS_DATA`` (``../shared/data``); the
attribution model of ``$CLAIMS_ATTRIBUTION_MODEL`` (else the shipped one), the stance model of
``$CLAIMS_STANCE_MODEL`` (else the shipped one). A section whose model or data is absent says so.
Exit codes: 0 written; 2 the report could not be built (bad input, unreadable file).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import corpora


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    ap = argparse.ArgumentParser(prog="python -m eval report",
                                 description="Evaluation report (report.html, report.md, metrics.json).")
    ap.add_argument("--out", required=True, help="output folder, e.g. reports/NAME/")
    ap.add_argument("--attribution", default=None, metavar="GOLD.jsonl",
                    help="PolNeAR-format gold (default: polnear/dev.jsonl of the shared data)")
    ap.add_argument("--agreement", default=None, metavar="FILE.jsonl",
                    help="multi-annotator articles for the human ceiling (default: polnear/agreement.jsonl; "
                         "'none' to leave it out)")
    ap.add_argument("--stance", default=None, metavar="DIR",
                    help="folder of <dataset>/{dev,train}.jsonl[.gz] stance files (default: the shared stance data)")
    ap.add_argument("--disputes", default=None, metavar="DEV.jsonl",
                    help="the disputes set's articles (default: disputes/dev.jsonl of the shared data; 'none' to leave it out)")
    ap.add_argument("--data", default=None, help="shared data folder for the defaults (default $CLAIMS_DATA or ../shared/data)")
    ap.add_argument("--model", default=None, help="attribution model directory")
    ap.add_argument("--stance-model", default=None, help="stance model directory")
    ap.add_argument("--no-model", action="store_true", help="run no model: baselines, ceiling and data only")
    ap.add_argument("--predictions", default=None, metavar="RESULTS.jsonl",
                    help="score these results (claims batch output) instead of running the attribution model")
    ap.add_argument("--seed-gold", nargs="*", default=None, metavar="GOLD.json",
                    help="seed gold files with disputes and stance_accept (default: seeds/*.gold.json)")
    ap.add_argument("--limit", type=int, default=0, help="first N attribution articles")
    ap.add_argument("--stance-limit", type=int, default=0, help="a seeded sample of N pairs per stance dataset")
    ap.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF stance baseline (its fit takes a minute)")
    ap.add_argument("--seed", type=int, default=0, help="seed of every bootstrap and sample")
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--top-cues", type=int, default=12)
    ap.add_argument("--top-targets", type=int, default=5)
    ap.add_argument("--gallery", type=int, default=10, help="items per kind in the error gallery")
    ap.add_argument("--compare", default=None, metavar="OLD/metrics.json", help="show every figure's change against this report")
    ap.add_argument("--bench", action="store_true", help="also run python -m eval.bench (slower)")
    ap.add_argument("--bench-json", default=None, help="include a saved `python -m eval.bench --json` output")
    ap.add_argument("--name", default="", help="report name (default: the output folder's name)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def options(args: argparse.Namespace, argv: list[str]):
    """``run.Options`` from parsed arguments, with the defaults of the shared data folder."""
    from .run import Options, ROOT

    data = args.data
    kw = dict(
        out=Path(args.out),
        attribution=Path(args.attribution) if args.attribution else corpora.polnear_path("dev", data),
        agreement=None if (args.agreement or "").lower() == "none" else
        Path(args.agreement) if args.agreement else corpora.polnear_path("agreement", data),
        stance=Path(args.stance) if args.stance else corpora.data_dir(data) / "stance",
        disputes=Path(args.disputes) if args.disputes and args.disputes.lower() != "none"
        else Path("none") if args.disputes else corpora.data_dir(data) / "disputes" / "dev.jsonl",
        model=args.model, stance_model=args.stance_model, no_model=args.no_model,
        predictions=Path(args.predictions) if args.predictions else None,
        seed_gold=[Path(p) for p in args.seed_gold] if args.seed_gold is not None
        else sorted((ROOT / "seeds").glob("*.gold.json")),
        limit=args.limit, stance_limit=args.stance_limit, no_baseline=args.no_baseline, seed=args.seed,
        bootstrap=args.bootstrap, top_cues=args.top_cues, top_targets=args.top_targets, gallery_size=args.gallery,
        compare=Path(args.compare) if args.compare else None, bench=args.bench,
        bench_json=Path(args.bench_json) if args.bench_json else None, name=args.name,
        command="python -m eval report " + " ".join(shlex.quote(a) for a in argv),
    )
    return Options(**kw)


def main(argv: list[str] | None = None) -> int:
    """Build and write the report, print the summary; the exit code."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .run import ReportError, build, write
    from .summary import print_summary

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    opts = options(args, argv)
    for p, what in ((opts.compare, "--compare"), (opts.predictions, "--predictions"), (opts.bench_json, "--bench-json")):
        if p is not None and not p.exists():
            print(f"error: {what} {p}: no such file", file=sys.stderr)
            return 2
    console = Console(stderr=True)
    try:
        if args.quiet:
            report = build(opts)
        else:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True) as progress:
                report = build(opts, progress)
        paths = write(report, opts.out)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_summary(report, paths, Console())
    return 0
