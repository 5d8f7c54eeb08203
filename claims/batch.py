"""Batch scoring: many articles in, one result record per input record out.

Inputs: JSONL (``{"id", "text", ...}`` per line; extra fields are carried into the output), CSV
or Parquet with id and text columns, or ``-`` for stdin. Output: JSONL, appended whole records at
a time. Rerunning the same command resumes: ids already in the output are skipped, and a torn
last line left by a kill is cut off first. Every failure is an error record for that item
(``"error": {"type", "message"}``); the job goes on.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from .doc import ArticleResult

FSYNC_EVERY_S = 5.0


class BatchError(Exception):
    """The job cannot start (unreadable input, bad output path, unknown format)."""


@dataclass
class Record:
    line: int                  # 1-based position in the input
    id: Optional[str]
    text: object = None
    extra: dict = field(default_factory=dict)
    error: Optional[tuple[str, str]] = None   # (type, message) when the record itself is bad


@dataclass
class Summary:
    total: int = 0             # records read
    written: int = 0           # records written this run
    skipped: int = 0           # already in the output
    failed: int = 0            # error records written this run
    elapsed: float = 0.0

    def line(self) -> str:
        rate = self.written / self.elapsed if self.elapsed > 0 else 0.0
        return (f"{self.total} records: {self.written} written ({self.failed} failed), "
                f"{self.skipped} already done; {rate:.2f} articles/s; {self.elapsed:.1f}s")


def detect_format(path: str, fmt: Optional[str]) -> str:
    if fmt:
        return fmt
    name = path.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    return "jsonl"


def read_records(path: str, fmt: str, id_field: str = "id", text_field: str = "text") -> Iterator[Record]:
    """Stream input records; a malformed one comes back with ``error`` set instead of raising."""
    if path != "-" and not Path(path).exists():
        raise BatchError(f"{path}: no such file")
    if fmt == "jsonl":
        yield from _read_jsonl(path, id_field, text_field)
    elif fmt == "csv":
        yield from _read_csv(path, id_field, text_field)
    elif fmt == "parquet":
        yield from _read_parquet(path, id_field, text_field)
    else:
        raise BatchError(f"unknown input format {fmt!r}")


def _binary_lines(path: str):
    if path == "-":
        return sys.stdin.buffer
    return open(path, "rb")


def _make(line: int, obj: dict, id_field: str, text_field: str) -> Record:
    rid = obj.get(id_field)
    extra = {k: v for k, v in obj.items() if k not in (id_field, text_field)}
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        return Record(line, None, None, extra, ("missing_id", f"line {line}: no {id_field!r} field"))
    if not isinstance(rid, (str, int)):
        return Record(line, None, None, extra, ("bad_id", f"line {line}: {id_field!r} must be a string or integer"))
    text = obj.get(text_field)
    if text_field not in obj:
        return Record(line, str(rid), None, extra, ("missing_text", f"no {text_field!r} field"))
    if not isinstance(text, str):
        return Record(line, str(rid), None, extra, ("not_text", f"{text_field!r} must be a string, got "
                                                                f"{type(text).__name__}"))
    return Record(line, str(rid), text, extra)


def _read_jsonl(path: str, id_field: str, text_field: str) -> Iterator[Record]:
    f = _binary_lines(path)
    try:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield Record(n, None, error=("not_utf8", f"line {n}: not UTF-8"))
                continue
            except json.JSONDecodeError as e:
                yield Record(n, None, error=("bad_json", f"line {n}: invalid JSON ({e.msg} at column {e.colno})"))
                continue
            if not isinstance(obj, dict):
                yield Record(n, None, error=("bad_json", f"line {n}: expected a JSON object"))
                continue
            yield _make(n, obj, id_field, text_field)
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _read_csv(path: str, id_field: str, text_field: str) -> Iterator[Record]:
    csv.field_size_limit(1 << 30)
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="") if path == "-" \
        else open(path, encoding="utf-8", newline="")
    try:
        reader = csv.DictReader(stream)
        if reader.fieldnames is None or id_field not in reader.fieldnames or text_field not in reader.fieldnames:
            raise BatchError(f"{path}: CSV needs columns {id_field!r} and {text_field!r}; "
                             f"found {reader.fieldnames} (rename with --id-field/--text-field)")
        for n, row in enumerate(reader, 1):
            yield _make(n, row, id_field, text_field)
    except UnicodeDecodeError as e:
        raise BatchError(f"{path}: not UTF-8 text ({e.reason})") from None
    finally:
        if path != "-":
            stream.close()


def _read_parquet(path: str, id_field: str, text_field: str) -> Iterator[Record]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BatchError("Parquet input needs pyarrow: pip install 'claims[parquet]'") from None
    try:
        pf = pq.ParquetFile(sys.stdin.buffer if path == "-" else path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise BatchError(f"{path}: not a readable Parquet file ({e})") from None
    names = pf.schema_arrow.names
    if id_field not in names or text_field not in names:
        raise BatchError(f"{path}: Parquet needs columns {id_field!r} and {text_field!r}; found {names}")
    n = 0
    for batch in pf.iter_batches(batch_size=256):
        for row in batch.to_pylist():
            n += 1
            yield _make(n, row, id_field, text_field)


def completed_ids(output: Path) -> set[str]:
    """Ids already written; cuts a torn last line (a kill mid-write) off the file first."""
    if not output.exists():
        return set()
    with open(output, "rb+") as f:
        data = f.read()
        good = data.rfind(b"\n") + 1
        if good < len(data):
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())
    done = set()
    with open(output, "rb") as f:
        for raw in f:
            try:
                done.add(str(json.loads(raw)["id"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line that is not ours; leave it
    return done


class JsonlWriter:
    """Appends whole records; flushes after each write and fsyncs at checkpoints."""

    def __init__(self, path: Path):
        self.path = path
        self.f = open(path, "ab")
        self.last_sync = time.monotonic()

    def write(self, record: dict) -> None:
        self.f.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        self.f.flush()
        if time.monotonic() - self.last_sync > FSYNC_EVERY_S:
            os.fsync(self.f.fileno())
            self.last_sync = time.monotonic()

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


def error_record(rec: Record, etype: str, message: str) -> dict:
    r = ArticleResult.failed(rec.id if rec.id is not None else f"line:{rec.line}", etype, message, rec.extra)
    d = r.to_dict()
    d["line"] = rec.line
    return d


def run_batch(args, disputes) -> Summary:
    """Run ``claims batch``; returns the summary (printed unless --quiet)."""
    output = Path(args.output)
    if output.suffix == ".parquet":
        raise BatchError("Parquet output is written by converting the JSONL: use -o out.jsonl")
    if output.parent and not output.parent.exists():
        raise BatchError(f"{output.parent}: no such directory")
    if getattr(args, "workers", 1) != 1 or getattr(args, "engine", "local") != "local":
        raise BatchError("--workers and --engine ray are not available in this version")
    fmt = detect_format(args.input, getattr(args, "format", None))
    if args.overwrite and output.exists():
        output.unlink()
    done = completed_ids(output)
    from .cli import make_analyzer
    analyzer = make_analyzer(args, disputes)
    summary = Summary()
    writer = JsonlWriter(output)
    seen: set[str] = set()
    t0 = time.time()
    progress = _Progress(quiet=args.quiet)
    try:
        pending: list[Record] = []

        def flush_pending():
            items = [(r.id, r.text) for r in pending]
            for rec, res in zip(pending, analyzer.analyze_many(items, batch_size=args.batch_size)):
                d = res.to_dict()
                for k, v in rec.extra.items():
                    d.setdefault(k, v)
                writer.write(d)
                summary.written += 1
                summary.failed += res.error is not None
            progress.update(summary, time.time() - t0)
            pending.clear()

        for rec in read_records(args.input, fmt, args.id_field, args.text_field):
            summary.total += 1
            if rec.id is not None and rec.id in done:
                summary.skipped += 1
                continue
            if rec.error is None and rec.id in seen:
                rec.error = ("duplicate_id", f"line {rec.line}: id {rec.id!r} already used earlier in the input")
            if rec.error is not None:
                writer.write(error_record(rec, *rec.error))
                summary.written += 1
                summary.failed += 1
                if rec.id is not None:
                    seen.add(rec.id)
                continue
            seen.add(rec.id)
            pending.append(rec)
            if len(pending) >= args.batch_size:
                flush_pending()
        if pending:
            flush_pending()
    finally:
        writer.close()
        summary.elapsed = time.time() - t0
        progress.close()
    if not args.quiet:
        print(summary.line(), file=sys.stderr)
    return summary


class _Progress:
    """A rich status line on a terminal; a plain log line every 10 s otherwise."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.live = None
        if not quiet and self.tty:
            from rich.console import Console
            from rich.status import Status
            self.live = Status("starting…", console=Console(stderr=True))
            self.live.start()

    def update(self, s: Summary, elapsed: float) -> None:
        if self.quiet:
            return
        rate = s.written / elapsed if elapsed > 0 else 0.0
        msg = f"{s.written} written ({s.failed} failed), {s.skipped} skipped, {rate:.2f} articles/s"
        if self.live is not None:
            self.live.update(msg)
        elif time.time() - self.last > 10:
            print(msg, file=sys.stderr, flush=True)
            self.last = time.time()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
