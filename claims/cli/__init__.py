"""Command line: ``claims analyze``, ``claims batch``, ``claims stance`` (and the console commands).

Exit codes: 0 success; 1 a batch job finished but some records of its output are errors (this
run's or an earlier one's); 2 the command could not run
(bad arguments, unreadable input, bad disputes file, missing model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..console.cli import add_console_commands
from ..errors import (EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, MAX_CHARS, BatchError, InputError,  # noqa: F401
                      ModelError, UserError)  # EXIT_* and UserError: imported from here by callers and tests


def read_text_arg(path: str, max_chars: int) -> tuple[str, str]:
    """(id, text) from a file path or '-' (stdin), decoded strictly as UTF-8."""
    if path == "-":
        data = sys.stdin.buffer.read()
        name = "stdin"
    else:
        p = Path(path)
        if not p.exists():
            raise UserError(f"{path}: no such file")
        if p.is_dir():
            raise UserError(f"{path}: is a directory; give one article file (or use `claims batch`)")
        size = p.stat().st_size
        if size > 4 * max_chars + 16:
            raise UserError(f"{path}: {size:,} bytes is too large for one article (limit {max_chars:,} characters; "
                            "split it, or raise the limit with --max-chars)")
        try:
            data = p.read_bytes()
        except OSError as e:
            raise UserError(f"{path}: cannot read: {e.strerror}") from None
        name = p.stem
    if b"\x00" in data:
        raise UserError(f"{path}: looks like a binary file (NUL bytes), not article text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (invalid byte at offset {e.start}); convert it with "
                        f"`iconv -f <encoding> -t utf-8`") from None
    return name, text


DISPUTES_ENV = "CLAIMS_DISPUTES"
NO_DISPUTES_NOTE = (f"claims: no disputes file (--disputes FILE, or ${DISPUTES_ENV}): claims without stance; "
                    "seeds/disputes.toml is an example")


def load_disputes(path: str | None, quiet: bool = False) -> list:
    """The disputes of a command: ``--disputes``, else the file named by ``$CLAIMS_DISPUTES``,
    else none, said once on stderr (unless ``quiet``): stances toward disputes the user never
    chose would be noise, so there is no built-in default."""
    from .. import disputes
    where = ""
    if not path and os.environ.get(DISPUTES_ENV):
        path, where = os.environ[DISPUTES_ENV], f"${DISPUTES_ENV}: "
    if not path:
        if not quiet:
            print(NO_DISPUTES_NOTE, file=sys.stderr)
        return []
    try:
        return disputes.load(path)
    except disputes.DisputeError as e:
        raise UserError(f"{where}{e}") from None


def make_analyzer(args, disputes):
    from ..analyzer import Analyzer
    # with no disputes to score, the stance model would be loaded for nothing
    no_stance = args.no_stance or not disputes
    try:
        return Analyzer(model=args.model, stance_model=False if no_stance else args.stance_model,
                        disputes=disputes, max_chars=args.max_chars, min_confidence=args.min_confidence)
    except ModelError as e:   # EncoderError included
        raise UserError(str(e)) from None


def cmd_analyze(args) -> int:
    name, text = read_text_arg(args.file, args.max_chars)
    try:
        from ..analyzer import check_text
        check_text(text, args.max_chars)
    except InputError as e:
        raise UserError(f"{args.file}: {e}") from None
    disputes = load_disputes(args.disputes, quiet=args.no_stance)
    analyzer = make_analyzer(args, disputes)
    result = analyzer.analyze(text, id=args.id or name)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(include_text=args.include_text), ensure_ascii=False, indent=2) + "\n")
    else:
        from .render import print_result
        print_result(result)
    return EXIT_OK


def cmd_batch(args) -> int:
    from ..batch.job import run_batch
    from ..batch.plan import BatchJob
    disputes = load_disputes(args.disputes, quiet=True)
    job = BatchJob.from_args(args)
    if not disputes and not args.no_stance:
        job.note = NO_DISPUTES_NOTE     # said once the job has started, not before an error line
    try:
        summary = run_batch(job, disputes)
    except BatchError as e:
        raise UserError(str(e)) from None
    return EXIT_OK if summary.all_failed == 0 else EXIT_SOME_FAILED


def cmd_stance(args) -> int:
    from .stance import run_stance
    return run_stance(args)


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--disputes", metavar="FILE", help="disputes TOML (default: the file named by $CLAIMS_DISPUTES, else none: "
                   "claims without stance)")
    p.add_argument("--model", metavar="DIR", help="attribution model directory (default: shipped)")
    p.add_argument("--stance-model", metavar="DIR", help="stance model directory (default: shipped)")
    p.add_argument("--no-stance", action="store_true", help="extract claims only")
    p.add_argument("--max-chars", type=int, default=MAX_CHARS, help="longest accepted article (characters)")
    p.add_argument("--min-confidence", type=confidence_arg, default=0.0, metavar="P",
                   help="leave out claims whose confidence is below P, between 0 and 1 (default: 0, keep all)")


def confidence_arg(value: str) -> float:
    """A probability from the command line, or argparse's one-line usage error."""
    try:
        p = float(value)
    except ValueError:
        p = float("nan")
    if not 0.0 <= p <= 1.0:    # also refuses nan
        raise argparse.ArgumentTypeError(f"{value!r} is not a probability between 0 and 1")
    return p


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    ap = argparse.ArgumentParser(prog="claims", description="Who claims what in the news, and where each "
                                 "speaker stands on the disputes you track.")
    ap.add_argument("--version", action="version", version=f"claims {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="analyse one article (a table, or the result JSON)")
    p.add_argument("file", metavar="FILE", help="a UTF-8 text file, or - for stdin")
    p.add_argument("--json", action="store_true", help="print the result JSON (docs/DESIGN.md 3.2)")
    p.add_argument("--include-text", action="store_true", help="with --json, include the article text")
    p.add_argument("--id", help="article id in the output (default: the file name)")
    add_model_args(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("batch", help="analyse many articles: JSONL, CSV or Parquet in, one result per record out",
                       description="Analyse many articles: one result record per input record. Rerunning the "
                                   "same command resumes where a killed run stopped.")
    p.add_argument("input", metavar="INPUT", help="JSONL ({'id','text',...} per line), CSV or Parquet; - for stdin")
    p.add_argument("-o", "--output", required=True,
                   help="a .jsonl file, a .parquet directory of part files, or - for stdout (JSONL)")
    p.add_argument("--id-field", default="id", help="the id field or column (default: id)")
    p.add_argument("--text-field", default="text", help="the text field or column (default: text)")
    p.add_argument("--format", choices=["jsonl", "csv", "parquet"], help="input format (default: from the name)")
    p.add_argument("--overwrite", action="store_true", help="start fresh instead of resuming")
    p.add_argument("--include-text", action="store_true",
                   help="put each article's text in its result record (what `claims import` needs to store it)")
    p.add_argument("--batch-size", type=int, default=8, help="articles per model batch")
    p.add_argument("--workers", type=int, default=None,
                   help="processes (or Ray actors), each with its own model (default: 1; with Ray, one per "
                        "--threads CPUs of the cluster)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per worker (default: 1 with several workers or Ray, else torch's default)")
    p.add_argument("--ordered", action="store_true", help="with several workers, write in input order")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local processes, or Ray Data (pip install 'claims[ray]')")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster address, e.g. auto or HEAD:6379 (default: $RAY_ADDRESS, else a local instance)")
    p.add_argument("--part-rows", type=int, default=20_000,
                   help="Parquet output: records per part file; a kill loses at most the open part")
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines, no summary line")
    add_model_args(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("stance", help="stance of single (target, text) pairs: JSONL in, JSONL out")
    p.add_argument("input", metavar="PAIRS", help="JSONL with {'id','target','text'} per line; - for stdin")
    p.add_argument("-o", "--output", required=True, help="output JSONL ({'id','label','scores'} per line); - for stdout")
    p.add_argument("--stance-model", metavar="DIR", help="stance model directory (default: shipped)")
    p.add_argument("--model", metavar="DIR", help="attribution model that marks sources and cues (default: shipped)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--quiet", action="store_true", help="no progress bar or log lines, no summary line")
    p.set_defaults(func=cmd_stance)

    add_console_commands(sub)   # the console's modules load when one of its commands runs
    return ap


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:
        print(f"claims: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("claims: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
