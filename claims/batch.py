"""Batch scoring: many articles in, one result record per input record out (``claims batch``).

    claims batch articles.jsonl -o results.jsonl                 # resumes if results.jsonl exists
    claims batch articles.csv -o results.parquet --workers 2     # two processes, Parquet parts
    claims batch articles.jsonl -o results.jsonl --engine ray    # Ray Data, local or a cluster

The job is the same on every engine:

    Source (records.py) ──► admit: skip what is done, flag duplicates and bad records
        ──► windows of up to --batch-size articles ──► score (this process, worker processes,
        or a Ray actor pool) ──► result records ──► one writer (sinks.py), resumable

Only the scoring step differs between engines; admission, the result and error records and the
writer are the functions below, used by all of them. Every failure is an error record for that
item (``"error": {"type", "message"}``) and the job goes on; the exit code says whether any
record of the output is an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

from .doc import ArticleResult, Dispute
from .idset import IdSet
from .records import BatchError, Record, Source  # noqa: F401 - BatchError and Record are part of this API
from .sinks import PART_ROWS, DoneIds, open_sink, read_job, write_job

WINDOW_UNITS = 256   # a window closes at this many records even if few of them need the model


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB. On Linux it is VmHWM: ``ru_maxrss`` would also
    count the image of the process that started this one (it survives exec), which for a worker
    started by a large process is that process's size, not the worker's."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024   # bytes on macOS, KB elsewhere


@dataclass(frozen=True)
class AnalyzerSpec:
    """How to build the Analyzer, as plain data: worker processes and Ray actors each build
    their own from it. Anything with a ``build()`` returning an object with ``analyze_many``
    can stand in for it."""
    model: Optional[str] = None
    stance_model: Optional[str] = None
    no_stance: bool = False
    max_chars: int = 200_000
    disputes: tuple = ()
    min_confidence: float = 0.0

    @classmethod
    def from_args(cls, args, disputes: list[Dispute]) -> "AnalyzerSpec":
        """The spec for parsed ``claims batch`` arguments and the loaded disputes."""
        # Resolve the model directories here, so that processes started elsewhere (Ray workers
        # on other machines) load the same ones rather than reading their own environment.
        model = args.model or os.environ.get("CLAIMS_ATTRIBUTION_MODEL")
        stance = args.stance_model or os.environ.get("CLAIMS_STANCE_MODEL")
        return cls(model, stance, bool(args.no_stance), args.max_chars, tuple(disputes),
                   float(getattr(args, "min_confidence", 0.0) or 0.0))

    def fingerprint(self) -> dict:
        """What of this spec decides the results (for the job description kept with the output)."""
        disputes = [(d.id, d.title, d.proposition) for d in self.disputes]
        return {"model": self.model, "stance_model": self.stance_model, "no_stance": self.no_stance,
                "min_confidence": self.min_confidence,
                "disputes": hashlib.sha256(json.dumps(disputes).encode()).hexdigest()}

    def build(self):
        """A new Analyzer; ``BatchError`` if the model cannot be loaded."""
        from .analyzer import Analyzer
        from .encoder import EncoderError
        from .extract import ModelError
        try:
            return Analyzer(model=self.model, stance_model=False if self.no_stance else self.stance_model,
                            disputes=list(self.disputes), max_chars=self.max_chars,
                            min_confidence=self.min_confidence)
        except (ModelError, EncoderError) as e:
            raise BatchError(str(e)) from None


# ------------------------------------------------------------------------------------ records out

def result_record(rec: Record, result: dict, include_text: bool = False) -> dict:
    """The output record of a scored article: the result dict (with the article's ``text`` if
    asked, as ``claims analyze --json --include-text`` gives it) plus the input's extra fields
    (the result's own keys win)."""
    out = dict(result)
    if include_text and out.get("error") is None and isinstance(rec.text, str):
        out["text"] = rec.text
    for k, v in rec.extra.items():
        out.setdefault(k, v)
    return out


def error_record(rec: Record, error_type: str, message: str) -> dict:
    """The output record of an item that could not be scored; ``line`` says where it was."""
    d = ArticleResult.failed(rec.key, error_type, message, rec.extra).to_dict()
    d["line"] = rec.line
    return d


# ---------------------------------------------------------------------------------------- admission

@dataclass
class Unit:
    """One input record's fate: ``skip`` (already in the output), ``ready`` (its error record is
    ``record``), or ``work`` (it needs the model)."""
    kind: str
    rec: Record
    record: Optional[dict] = None


def admit(records: Iterable[Record], done: DoneIds) -> Iterator[Unit]:
    """Decide each record in input order. The n-th occurrence of a key is skipped when the
    output already holds n records with it, so a rerun after a kill writes exactly what the
    first run had left to write, duplicates and bad lines included."""
    seen = IdSet()
    repeats: dict[str, int] = {}     # occurrences of keys seen more than once (rare)
    for rec in records:
        key = rec.key
        if key in seen:
            n = repeats[key] = repeats.get(key, 1) + 1
        else:
            seen.add(key)
            n = 1
        if n <= done.count(key):
            yield Unit("skip", rec)
            continue
        if n > 1 and rec.error is None:
            rec.error = ("duplicate_id", f"line {rec.line}: id {key!r} already used earlier in the input")
        if rec.error is not None:
            yield Unit("ready", rec, error_record(rec, *rec.error))
        else:
            yield Unit("work", rec)


def windows(units: Iterable[Unit], batch_size: int) -> Iterator[list[Unit]]:
    """Consecutive units, cut so that each window holds at most ``batch_size`` articles for the
    model (and at most ``WINDOW_UNITS`` units, so long runs of skipped records stream too)."""
    window: list[Unit] = []
    works = 0
    for unit in units:
        window.append(unit)
        works += unit.kind == "work"
        if works >= batch_size or len(window) >= WINDOW_UNITS:
            yield window
            window, works = [], 0
    if window:
        yield window


def score_window(analyzer, items: list[tuple], batch_size: int) -> list[dict]:
    """Result dicts for (id, text, disputes) items, one per item, in order; disputes None means
    the analyzer's own. Consecutive items with the same disputes share model batches.
    ``analyze_many`` turns bad items into error results itself; if it raises anyway, the items are
    tried one at a time so that only the one that fails gets a ``model_error`` record."""
    out: list[dict] = []
    start = 0
    while start < len(items):
        disputes = _disputes_of(items[start])
        end = start + 1
        while end < len(items) and _disputes_of(items[end]) == disputes:
            end += 1
        out.extend(_score_group(analyzer, [(i[0], i[1]) for i in items[start:end]], disputes, batch_size))
        start = end
    return out


def _disputes_of(item: tuple):
    return list(item[2]) if len(item) > 2 and item[2] is not None else None


def _score_group(analyzer, items: list[tuple[str, str]], disputes, batch_size: int) -> list[dict]:
    try:
        results = [r.to_dict() for r in analyzer.analyze_many(items, disputes=disputes, batch_size=batch_size)]
        if len(results) == len(items):
            return results
    except Exception:  # noqa: BLE001 - recorded below, never fatal to the job
        pass
    out = []
    for rid, text in items:
        try:
            out.append(next(iter(analyzer.analyze_many([(rid, text)], disputes=disputes, batch_size=1))).to_dict())
        except Exception as e:  # noqa: BLE001
            out.append(ArticleResult.failed(rid, "model_error", f"{type(e).__name__}: {e}").to_dict())
    return out


def window_outputs(window: list[Unit], results: list[dict],
                   include_text: bool = False) -> list[tuple[int, Optional[dict]]]:
    """(input position, output record or None for skipped) for each unit of a scored window;
    ``results`` holds one result dict per ``work`` unit, in order."""
    it = iter(results)
    out = []
    for unit in window:
        if unit.kind == "skip":
            out.append((unit.rec.pos, None))
        elif unit.kind == "ready":
            out.append((unit.rec.pos, unit.record))
        else:
            out.append((unit.rec.pos, result_record(unit.rec, next(it), include_text)))
    return out


def work_items(window: list[Unit]) -> list[tuple]:
    """The (id, text, disputes) items of a window that need the model; disputes is the record's
    own (a tuple of ``Dispute``) or None for the job's."""
    return [(u.rec.id, u.rec.text, u.rec.disputes) for u in window if u.kind == "work"]


# ---------------------------------------------------------------------------------------- the job

@dataclass
class Options:
    """The settings of a job that every engine reads."""
    batch_size: int = 8
    workers: Optional[int] = None     # None: 1 locally, all CPUs on Ray
    threads: Optional[int] = None     # torch threads per worker; None: 1 with several workers
    ordered: bool = False
    ray_address: Optional[str] = None
    include_text: bool = False        # put each article's text in its result record


@dataclass
class Summary:
    """What a job did, for the closing line, the exit code and the benchmark."""
    total: int = 0             # records read
    written: int = 0           # records written this run
    skipped: int = 0           # already in the output
    failed: int = 0            # error records written this run
    failed_before: int = 0     # error records already in the output
    elapsed: float = 0.0
    first_write: Optional[float] = None    # seconds from the start to the first record written
    engine: str = "local"
    workers: int = 1
    worker_rss_mb: dict = field(default_factory=dict)   # worker id -> peak RSS (MB)
    worker_cpu_s: dict = field(default_factory=dict)    # worker id -> CPU seconds used (other processes)
    parent_rss_mb: float = 0.0
    parent_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.written / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def all_failed(self) -> int:
        return self.failed + self.failed_before

    def line(self) -> str:
        """The closing line: counts, failures, articles/s, elapsed time."""
        before = f" ({self.failed_before} of them failed)" if self.failed_before else ""
        return (f"{self.total} records: {self.written} written ({self.failed} failed), "
                f"{self.skipped} already done{before}; {self.rate:.2f} articles/s; {self.elapsed:.1f}s")

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items()}
        d["rate"] = self.rate
        return d


def options_from_args(args) -> Options:
    """The engine settings from parsed ``claims batch`` arguments, checked."""
    opts = Options(batch_size=args.batch_size, workers=getattr(args, "workers", None),
                   threads=getattr(args, "threads", None), ordered=getattr(args, "ordered", False),
                   ray_address=getattr(args, "ray_address", None),
                   include_text=bool(getattr(args, "include_text", False)))
    if opts.batch_size < 1:
        raise BatchError("--batch-size must be at least 1")
    if opts.workers is not None and opts.workers < 1:
        raise BatchError("--workers must be at least 1")
    if opts.threads is not None and opts.threads < 1:
        raise BatchError("--threads must be at least 1")
    return opts


# ------------------------------------------------------------------------------ the job's identity

INPUT_HEAD_BYTES = 1 << 16
# option -> how a user names it, for the message that refuses to resume a different job
OPTION_NAMES = {"format": "--format", "id_field": "--id-field", "text_field": "--text-field",
                "max_chars": "--max-chars", "include_text": "--include-text", "model": "--model",
                "stance_model": "--stance-model", "no_stance": "--no-stance", "min_confidence": "--min-confidence",
                "disputes": "the disputes"}


def job_description(args, source: Source, spec) -> dict:
    """What makes two runs the same job: the options that decide the records, and a hash of the
    input's first 64 KiB (an input that grew at the end is the same job, so resuming an input
    that more lines were appended to works)."""
    options = {"format": source.format, "id_field": args.id_field, "text_field": args.text_field,
               "max_chars": args.max_chars, "include_text": bool(getattr(args, "include_text", False))}
    if hasattr(spec, "fingerprint"):
        options.update(spec.fingerprint())
    head = source.head(INPUT_HEAD_BYTES)
    return {"version": 1, "options": options,
            "input": {"name": args.input, "head_bytes": len(head), "sha256": hashlib.sha256(head).hexdigest()}}


def check_same_job(output: str, old: dict, new: dict, source: Source) -> None:
    """Raise ``BatchError`` if ``old`` (kept with the output) describes another job than ``new``."""
    differ = [OPTION_NAMES.get(k, k) for k in sorted(set(old.get("options", {})) | set(new["options"]))
              if old.get("options", {}).get(k) != new["options"].get(k)]
    head = old.get("input", {})
    n = head.get("head_bytes")
    if not isinstance(n, int) or hashlib.sha256(source.head(n)).hexdigest() != head.get("sha256"):
        differ.insert(0, f"the input (was {head.get('name')!r})")
    if differ:
        raise BatchError(f"{output}: holds the output of another job ({', '.join(differ)} differ); rerun "
                         f"with --overwrite to start it again, or write to another -o")


def run_batch(args, disputes: list[Dispute], spec=None) -> Summary:
    """Run ``claims batch`` with the parsed arguments; returns the summary (printed unless
    --quiet). ``spec`` builds the analyzer (default: ``AnalyzerSpec`` from the arguments);
    ``args.note``, if set, is printed on stderr once the input and output are open."""
    from .progress import Progress

    opts = options_from_args(args)
    engine = getattr(args, "engine", "local") or "local"
    source = Source(args.input, getattr(args, "format", None), args.id_field, args.text_field, args.max_chars)
    source.check()
    if engine == "ray" and args.input == "-":
        raise BatchError("--engine ray reads the input from a file; save stdin to a file first")
    spec = spec if spec is not None else AnalyzerSpec.from_args(args, disputes)
    sink = open_sink(args.output, overwrite=args.overwrite, part_rows=getattr(args, "part_rows", None) or PART_ROWS)
    if args.output != "-":
        # resume only the job that wrote the output: another input whose ids match would
        # otherwise be skipped as done
        try:
            job = job_description(args, source, spec)
            old = read_job(args.output)
            if old is not None and sink.done.records and not args.overwrite:
                check_same_job(args.output, old, job, source)
            if old != job:
                write_job(args.output, job)
        except BaseException:
            sink.close()
            raise
    summary = Summary(engine=engine, failed_before=sink.done.failed)
    if getattr(args, "note", None) and not args.quiet:
        print(args.note, file=sys.stderr)
    t0 = time.monotonic()
    progress = None
    finished = False
    outputs = iter(())
    try:
        # records on a terminal's stdout would tear a bar drawn on the same terminal
        progress = Progress(quiet=args.quiet, total=source.size(),
                            bar=not (args.output == "-" and sys.stdout.isatty()))
        if engine == "ray":
            from .ray_engine import score_on_ray
            outputs = score_on_ray(source, sink.done, spec, opts, summary)
        elif (opts.workers or 1) > 1:
            from .workers import score_in_processes
            outputs = score_in_processes(windows(admit(source, sink.done), opts.batch_size), spec, opts, summary)
        else:
            outputs = score_here(windows(admit(source, sink.done), opts.batch_size), spec, opts, summary)
        for pos, record in outputs:
            summary.total += 1
            if record is None:
                summary.skipped += 1
            else:
                sink.write(record)
                summary.written += 1
                summary.failed += record.get("error") is not None
                if summary.first_write is None:
                    summary.first_write = time.monotonic() - t0
            progress.update(summary, pos, time.monotonic() - t0)
        finished = True
    finally:
        if hasattr(outputs, "close"):
            outputs.close()     # stop the workers now, not when the generator is collected
        sink.close()
        summary.elapsed = time.monotonic() - t0
        summary.parent_rss_mb = peak_rss_mb()
        summary.parent_cpu_s = time.process_time()
        if progress is not None:
            progress.close(finished)
    if not args.quiet:
        print(summary.line(), file=sys.stderr)
    return summary


def score_here(wins: Iterable[list[Unit]], spec, opts: Options, summary: Summary) -> Iterator[tuple]:
    """The single-process engine: this process holds the model and scores each window in turn."""
    analyzer = None
    for window in wins:
        items = work_items(window)
        if items and analyzer is None:   # load the model only when something needs it
            if opts.threads:
                import torch
                torch.set_num_threads(opts.threads)
            analyzer = spec.build()
        results = score_window(analyzer, items, opts.batch_size) if items else []
        summary.worker_rss_mb["main"] = peak_rss_mb()
        yield from window_outputs(window, results, opts.include_text)
