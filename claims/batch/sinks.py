"""Batch output: one result record per input record, safe against a kill at any moment.

JSONL (a file): whole records are appended and flushed one at a time, and fsynced at
checkpoints. A kill can leave at most a torn last line; opening the file again cuts it off.

Parquet (a directory of part files): records go into ``.part-NNNNN.parquet.tmp``; at each
checkpoint (every ``PART_SECONDS`` or ``PART_ROWS`` records, and at the end) the part is closed,
fsynced and renamed to ``part-NNNNN.parquet``. A rename is atomic, so a part is either whole or
absent; a kill loses only the records of the open part, which the next run computes again.
Leftover ``.tmp`` files are deleted on open.

Opening a sink for a resumed run returns the keys already written (``DoneIds``). An exclusive
lock on the output stops two jobs from writing to it at once.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from .. import jsonl
from ..doc import STANCE_LABELS
from .idset import IdSet
from ..errors import BatchError

FSYNC_SECONDS = 5.0
PART_SECONDS = 60.0
PART_ROWS = 20_000
ROW_GROUP = 512
_RECORD_PREFIX = b'{"schema_version": 1, "id": '


def json_default(value):
    """JSON for the values Parquet and CSV inputs can carry in extra fields (dates, decimals, bytes)."""
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if hasattr(value, "item"):          # NumPy scalars
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(record: dict) -> str:
    """A record as JSON text, the same on every engine."""
    return json.dumps(record, ensure_ascii=False, default=json_default)


def encode_line(record: dict) -> bytes:
    """One JSONL output line. Text with unpaired surrogates (legal in JSON input, not in UTF-8)
    is written with \\u escapes instead."""
    try:
        return (dumps(record) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, ensure_ascii=True, default=json_default) + "\n").encode("ascii")


@dataclass
class DoneIds:
    """Keys already in the output, how many records each has (almost always one), and how many
    of those records are errors."""
    keys: IdSet = field(default_factory=IdSet)
    repeats: dict = field(default_factory=dict)   # key -> count, only for keys written more than once
    records: int = 0
    failed: int = 0

    def add(self, key: str, failed: bool) -> None:
        """Count one output record with this key."""
        if key in self.keys:
            self.repeats[key] = self.repeats.get(key, 1) + 1
        else:
            self.keys.add(key)
        self.records += 1
        self.failed += failed

    def count(self, key: str) -> int:
        """How many output records have this key."""
        if key not in self.keys:
            return 0
        return self.repeats.get(key, 1)


def output_format(path: str) -> str:
    """``parquet`` for an output named ``*.parquet`` (a directory), else ``jsonl``."""
    return "parquet" if str(path).lower().endswith((".parquet", ".pq")) else "jsonl"


def open_sink(path: str, overwrite: bool = False, part_rows: int = PART_ROWS):
    """The sink for ``path`` (JSONL file or Parquet directory), locked, repaired after a kill,
    with ``.done`` holding what is already there (empty when ``overwrite``)."""
    if str(path) == "-":
        return StdoutSink()
    p = Path(path)
    if not p.parent.exists():
        raise BatchError(f"{p.parent}: no such directory")
    if output_format(path) == "parquet":
        return ParquetSink(p, overwrite, part_rows)
    return JsonlSink(p, overwrite)


def job_path(path: str | Path) -> Path:
    """Where the description of the job that writes ``path`` is kept: ``OUT.jsonl.job.json`` next
    to a JSONL output, ``_job.json`` inside a Parquet directory (readers skip ``_`` files)."""
    p = Path(path)
    return p / "_job.json" if output_format(str(path)) == "parquet" else p.with_name(p.name + ".job.json")


def read_job(path: str | Path) -> Optional[dict]:
    """The job description stored with an output, or None (none yet, or unreadable)."""
    try:
        job = json.loads(job_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return job if isinstance(job, dict) else None


def write_job(path: str | Path, job: dict) -> None:
    """Store the job description with an output, atomically."""
    target = job_path(path)
    tmp = target.with_name("." + target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(job, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock(f, path: Path) -> None:
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise BatchError(f"{path}: another `claims batch` is writing to it") from None


# ---------------------------------------------------------------------------------------------- JSONL

def _line_key(raw: bytes) -> Optional[tuple[str, bool]]:
    """(id, failed) of one output line, or None for a line that is not a result record."""
    if raw.startswith(_RECORD_PREFIX):
        # our own lines: decode just the id string, and find the top-level error (the first
        # `"error": ` in the line; inside strings its quotes would be escaped)
        try:
            rid, _ = json.JSONDecoder().raw_decode(raw.decode("utf-8"), len(_RECORD_PREFIX))
        except (UnicodeDecodeError, ValueError):
            return None
        i = raw.find(b'"error": ')
        if isinstance(rid, str) and i > 0:
            return rid, raw[i + 9:i + 13] != b"null"
    try:
        obj = json.loads(raw)
        return str(obj["id"]), obj.get("error") is not None
    except (ValueError, KeyError, TypeError):
        return None


def repair_torn_tail(path: Path) -> int:
    """Cut a partial last line (a kill mid-write) off ``path``; returns the bytes removed.
    Reads only the tail of the file."""
    with open(path, "rb+") as f:
        end = f.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            step = min(1 << 16, pos)
            f.seek(pos - step)
            chunk = f.read(step)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                good = pos - step + nl + 1
                break
            pos -= step
        else:
            good = 0
        if good < end:
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())
        return end - good


class JsonlSink:
    """Appends whole records to a JSONL file; flushes after each, fsyncs every few seconds."""

    format = "jsonl"

    def __init__(self, path: Path, overwrite: bool = False):
        self.path = path
        if path.is_dir():
            raise BatchError(f"{path}: is a directory (name a .parquet output for a Parquet directory)")
        existed = path.exists()
        self.f = open(path, "ab")
        _lock(self.f, path)
        if overwrite:
            self.f.truncate(0)
        if not existed:
            _fsync_dir(path.parent)
        self.torn = repair_torn_tail(path)
        self.done = self._read_done()
        self.last_sync = time.monotonic()

    def _read_done(self) -> DoneIds:
        done = DoneIds()
        with open(self.path, "rb") as f:
            for raw in f:
                key = _line_key(raw)
                if key is not None:   # a line that is not ours is left alone
                    done.add(*key)
        return done

    def write(self, record: dict) -> None:
        """Append one record as one line."""
        self.f.write(encode_line(record))
        self.f.flush()
        if time.monotonic() - self.last_sync > FSYNC_SECONDS:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Make what is written durable."""
        self.f.flush()
        os.fsync(self.f.fileno())
        self.last_sync = time.monotonic()

    def close(self) -> None:
        """Checkpoint and release the lock."""
        if not self.f.closed:
            self.checkpoint()
            self.f.close()


class StdoutSink:
    """``-o -``: JSONL on standard output, one flushed line per record. Nothing to resume from
    (a pipe holds no earlier records), so ``done`` is empty; progress and the summary go to stderr."""

    format = "jsonl"

    def __init__(self):
        import sys
        self.f = sys.stdout.buffer
        self.done = DoneIds()

    def write(self, record: dict) -> None:
        """Write one record as one line."""
        try:
            self.f.write(encode_line(record))
            self.f.flush()
        except BrokenPipeError:
            # the reader went away (`| head`): stop the job as a closed pipe stops any filter,
            # and point stdout at /dev/null so that the interpreter's last flush stays quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.f.fileno())
            raise BatchError("standard output was closed by the reader") from None

    def checkpoint(self) -> None:
        """Nothing to make durable on a pipe."""

    def close(self) -> None:
        """Flush standard output (it stays open)."""
        try:
            self.f.flush()
        except (BrokenPipeError, ValueError):
            pass


# -------------------------------------------------------------------------------------------- Parquet

def parquet_schema():
    """The result JSON (docs/DESIGN.md 3.2) as an Arrow schema. Stance is a map from dispute id to
    {label, scores}; carried input fields (title, url, ...) are one JSON object in ``extra``,
    since they differ from record to record; ``line`` is set on error records as in JSONL."""
    import pyarrow as pa
    span = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string())])
    scores = pa.struct([(label, pa.float64()) for label in STANCE_LABELS])
    stance = pa.map_(pa.string(), pa.struct([("label", pa.string()), ("scores", scores)]))
    speaker = pa.struct([("name", pa.string()), ("type", pa.string()), ("mention", span)])
    claim = pa.struct([("id", pa.string()), ("content", pa.list_(span)), ("cue", span), ("source", span),
                       ("speaker", speaker), ("form", pa.string()), ("confidence", pa.float64()),
                       ("stance", stance)])
    dispute = pa.struct([("id", pa.string()), ("title", pa.string()), ("proposition", pa.string())])
    return pa.schema([
        ("schema_version", pa.int32()), ("id", pa.string()),
        ("model", pa.struct([("name", pa.string()), ("version", pa.string())])),
        ("disputes", pa.list_(dispute)), ("claims", pa.list_(claim)),
        ("error", pa.struct([("type", pa.string()), ("message", pa.string())])),
        ("line", pa.int64()), ("extra", pa.string()),
    ])


_COLUMNS = ("schema_version", "id", "model", "disputes", "claims", "error")


def to_parquet_row(record: dict) -> dict:
    """A result record as a row of ``parquet_schema()``."""
    row = {k: record.get(k) for k in _COLUMNS}
    row["line"] = record.get("line")
    extra = {k: v for k, v in record.items() if k not in _COLUMNS and k != "line"}
    row["extra"] = encode_line(extra).decode("utf-8").rstrip("\n") if extra else None
    return row


def from_parquet_row(row: dict) -> dict:
    """A row of ``parquet_schema()`` back as the result record it was written from."""
    record = {k: row[k] for k in _COLUMNS}
    # error records carry an empty model dict, which a struct column reads back as nulls
    record["model"] = {k: v for k, v in (row["model"] or {}).items() if v is not None}
    for claim in record["claims"] or []:
        claim["stance"] = dict(claim["stance"] or [])   # a map column reads back as pairs
    if row.get("line") is not None:
        record["line"] = row["line"]
    if row.get("extra"):
        for k, v in json.loads(row["extra"]).items():
            record.setdefault(k, v)
    return record


class ParquetSink:
    """Writes a directory of Parquet parts, each whole or absent (see the module docstring)."""

    format = "parquet"

    def __init__(self, path: Path, overwrite: bool = False, part_rows: int = PART_ROWS):
        if part_rows < 1:
            raise BatchError("--part-rows must be at least 1")
        self.part_limit = part_rows
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise BatchError("Parquet output needs pyarrow: pip install 'claims[parquet]'") from None
        self.pq = pq
        self.schema = parquet_schema()
        self.path = path
        if path.exists() and not path.is_dir():
            raise BatchError(f"{path}: exists and is not a directory (Parquet output is a directory of parts)")
        path.mkdir(exist_ok=True)
        self.lock = open(path / ".lock", "a")
        _lock(self.lock, path)
        for stale in path.glob(".part-*.tmp"):
            stale.unlink()            # an open part of a killed run; its records are redone
        parts = sorted(path.glob("part-*.parquet"))
        if overwrite:
            for part in parts:
                part.unlink()
            parts = []
        self.done = DoneIds()
        for part in parts:
            table = pq.read_table(part, columns=["id", "error"])
            for rid, err in zip(table.column("id").to_pylist(), table.column("error").to_pylist()):
                self.done.add(rid, err is not None)
        self.next_part = 1 + max((int(p.stem.split("-")[1]) for p in parts), default=-1)
        self.writer = None
        self.rows: list[dict] = []
        self.in_part = 0
        self.part_started = time.monotonic()

    def _part_name(self) -> str:
        return f"part-{self.next_part:05d}.parquet"

    def write(self, record: dict) -> None:
        """Add one record to the open part; publish the part when it is full or old enough."""
        self.rows.append(to_parquet_row(record))
        if len(self.rows) >= ROW_GROUP:
            self._write_rows()
        if self.in_part + len(self.rows) >= self.part_limit or time.monotonic() - self.part_started > PART_SECONDS:
            self.checkpoint()

    def _write_rows(self) -> None:
        import pyarrow as pa
        if not self.rows:
            return
        if self.writer is None:
            self.tmp = self.path / f".{self._part_name()}.tmp"
            self.writer = self.pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
        self.in_part += len(self.rows)
        self.rows = []

    def checkpoint(self) -> None:
        """Close the open part and publish it under its final name."""
        self._write_rows()
        if self.writer is not None:
            self.writer.close()
            with open(self.tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(self.tmp, self.path / self._part_name())
            _fsync_dir(self.path)
            self.writer = None
            self.next_part += 1
        self.in_part = 0
        self.part_started = time.monotonic()

    def close(self) -> None:
        """Publish the open part and release the lock."""
        if not self.lock.closed:
            self.checkpoint()
            self.lock.close()


def read_output(path: str) -> Iterator[dict]:
    """The records of a batch output, JSONL or Parquet, as dicts (for checks and conversions)."""
    p = Path(path)
    if output_format(path) == "parquet":
        import pyarrow.parquet as pq
        for part in sorted(p.glob("part-*.parquet")):
            for batch in pq.ParquetFile(part).iter_batches(batch_size=512):
                for row in batch.to_pylist():
                    yield from_parquet_row(row)
        return
    yield from jsonl.read_jsonl(p)
