"""The plan of a batch job, shared by the orchestrator (``job``) and every engine: how the
analyzer is built (``AnalyzerSpec``), which records need the model (``admit``), how they are cut
into windows, how a window is scored, and the result and error records that come out."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

from ..doc import ArticleResult, Dispute
from ..errors import MAX_CHARS, BatchError, ModelError
from .idset import IdSet
from .readers import Record
from .sinks import PART_ROWS, DoneIds


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
    max_chars: int = MAX_CHARS
    disputes: tuple = ()
    min_confidence: float = 0.0

    @classmethod
    def from_job(cls, job: "BatchJob", disputes: list[Dispute]) -> "AnalyzerSpec":
        """The spec for a batch job and the loaded disputes."""
        # Resolve the model directories here, so that processes started elsewhere (Ray workers
        # on other machines) load the same ones rather than reading their own environment.
        model = job.model or os.environ.get("CLAIMS_ATTRIBUTION_MODEL")
        stance = job.stance_model or os.environ.get("CLAIMS_STANCE_MODEL")
        return cls(model, stance, job.no_stance, job.max_chars, tuple(disputes), job.min_confidence)

    def fingerprint(self) -> dict:
        """What of this spec decides the results (for the job description kept with the output)."""
        disputes = [(d.id, d.title, d.proposition) for d in self.disputes]
        return {"model": self.model, "stance_model": self.stance_model, "no_stance": self.no_stance,
                "min_confidence": self.min_confidence,
                "disputes": hashlib.sha256(json.dumps(disputes).encode()).hexdigest()}

    def build(self):
        """A new Analyzer; ``BatchError`` if the model cannot be loaded."""
        from ..analyzer import Analyzer
        try:
            return Analyzer(model=self.model, stance_model=False if self.no_stance else self.stance_model,
                            disputes=list(self.disputes), max_chars=self.max_chars,
                            min_confidence=self.min_confidence)
        except ModelError as e:   # EncoderError included
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


def check_options(opts: Options) -> Options:
    """The engine settings, checked (``BatchError`` names the flag that is out of range)."""
    if opts.batch_size < 1:
        raise BatchError("--batch-size must be at least 1")
    if opts.workers is not None and opts.workers < 1:
        raise BatchError("--workers must be at least 1")
    if opts.threads is not None and opts.threads < 1:
        raise BatchError("--threads must be at least 1")
    return opts


@dataclass
class BatchJob:
    """What ``claims batch`` is asked to do, as plain data: the input and output, how to read the
    input, the models and the engine. ``from_args`` builds it from the parsed command line."""
    input: str
    output: str
    format: Optional[str] = None            # None: from the name or the content
    id_field: str = "id"
    text_field: str = "text"
    max_chars: int = MAX_CHARS
    overwrite: bool = False
    part_rows: int = PART_ROWS
    quiet: bool = False
    engine: str = "local"
    model: Optional[str] = None
    stance_model: Optional[str] = None
    no_stance: bool = False
    min_confidence: float = 0.0
    options: Options = field(default_factory=Options)
    note: Optional[str] = None              # said on stderr once the input and output are open

    @classmethod
    def from_args(cls, args) -> "BatchJob":
        """The job of parsed ``claims batch`` arguments (an absent attribute takes its default)."""
        get = lambda name, default=None: getattr(args, name, default)  # noqa: E731
        opts = Options(batch_size=get("batch_size", 8), workers=get("workers"), threads=get("threads"),
                       ordered=bool(get("ordered", False)), ray_address=get("ray_address"),
                       include_text=bool(get("include_text", False)))
        return cls(args.input, args.output, get("format"), get("id_field", "id"), get("text_field", "text"),
                   get("max_chars", MAX_CHARS), bool(get("overwrite", False)), get("part_rows") or PART_ROWS,
                   bool(get("quiet", False)), get("engine") or "local", get("model"), get("stance_model"),
                   bool(get("no_stance", False)), float(get("min_confidence", 0.0) or 0.0), opts, get("note"))
