"""Batch input: JSONL, CSV or Parquet records streamed one at a time, never the whole file.

Each input record becomes a ``Record``. A record that cannot be used (a malformed line, no id, a
text that is not a string, a line too long to hold in memory) comes back with ``error`` set
instead of raising, so the job writes an error record for it and goes on. Problems with the file
as a whole (missing, wrong columns, not Parquet) raise ``BatchError`` before the first record.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

FORMATS = ("jsonl", "csv", "parquet")
# JSON escapes can take six bytes per character (\uXXXX); the rest is room for extra fields.
BYTES_PER_CHAR = 6
EXTRA_BYTES = 1 << 20


class BatchError(Exception):
    """The job cannot start (unreadable input, bad output path, unknown format)."""


@dataclass
class Record:
    """One input record: its id and text, the fields carried to the output, or what is wrong."""
    line: int                  # 1-based: the line in a JSONL file, the row in CSV or Parquet
    id: Optional[str]
    text: object = None
    extra: dict = field(default_factory=dict)
    error: Optional[tuple[str, str]] = None   # (type, message) when the record itself is bad
    pos: int = 0               # how far into the input this record ends (bytes, or rows for Parquet)

    @property
    def key(self) -> str:
        """The id this record has in the output: its own, or ``line:N`` when it has none.
        (A real id spelled ``line:N`` could collide with a nameless record on line N; ids are
        not expected to look like that.)"""
        return self.id if self.id is not None else f"line:{self.line}"


def detect_format(path: str, fmt: Optional[str]) -> str:
    """The input format: the one given, else from the file name (JSONL unless .csv/.parquet)."""
    if fmt:
        if fmt not in FORMATS:
            raise BatchError(f"unknown input format {fmt!r} (choose from {', '.join(FORMATS)})")
        return fmt
    name = path.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    return "jsonl"


def make_record(line: int, obj: dict, id_field: str, text_field: str, pos: int = 0) -> Record:
    """One input object (a JSON line, a CSV or Parquet row) as a Record; fields other than the
    id and text are carried into the output."""
    rid = obj.get(id_field)
    extra = {k: v for k, v in obj.items() if k not in (id_field, text_field)}
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        return Record(line, None, None, extra, ("missing_id", f"line {line}: no {id_field!r} field"), pos)
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        return Record(line, None, None, extra,
                      ("bad_id", f"line {line}: {id_field!r} must be a string or integer"), pos)
    if isinstance(rid, str) and _has_surrogates(rid):
        return Record(line, None, None, extra, ("bad_id", f"line {line}: {id_field!r} is not valid Unicode "
                                                          "(unpaired surrogates)"), pos)
    if text_field not in obj:
        return Record(line, str(rid), None, extra, ("missing_text", f"line {line}: no {text_field!r} field"), pos)
    text = obj[text_field]
    if not isinstance(text, str):
        return Record(line, str(rid), None, extra,
                      ("not_text", f"line {line}: {text_field!r} must be a string, got {type(text).__name__}"), pos)
    if _has_surrogates(text):
        return Record(line, str(rid), None, extra, ("bad_unicode", f"line {line}: {text_field!r} is not valid "
                                                                   "Unicode (unpaired surrogates)"), pos)
    return Record(line, str(rid), text, extra, None, pos)


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_json_line(raw: bytes, line: int, id_field: str, text_field: str, pos: int = 0) -> Record:
    """One JSONL line (bytes, newline included or not) as a Record."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return Record(line, None, error=("not_utf8", f"line {line}: not UTF-8"), pos=pos)
    except json.JSONDecodeError as e:
        return Record(line, None, error=("bad_json", f"line {line}: invalid JSON ({e.msg} at column {e.colno})"),
                      pos=pos)
    if not isinstance(obj, dict):
        return Record(line, None, error=("bad_json", f"line {line}: expected a JSON object"), pos=pos)
    return make_record(line, obj, id_field, text_field, pos)


class Source:
    """An input file (or ``-`` for stdin) read as a stream of Records.

    ``check()`` validates the file up front (exists, has the columns); iterating reads it once.
    ``size()`` is the total that ``Record.pos`` counts toward (bytes, or rows for Parquet), or
    None when unknown (stdin), for progress and ETA.
    """

    def __init__(self, path: str, fmt: Optional[str] = None, id_field: str = "id", text_field: str = "text",
                 max_chars: int = 200_000):
        self.path = path
        self.format = detect_format(path, fmt)
        self.id_field = id_field
        self.text_field = text_field
        # A longer line cannot hold an acceptable text; it is skipped without being read whole.
        self.max_line_bytes = BYTES_PER_CHAR * max_chars + EXTRA_BYTES

    def check(self) -> None:
        """Raise ``BatchError`` now if the file cannot be read as this format."""
        if self.path == "-":
            if self.format == "parquet":
                raise BatchError("Parquet cannot be read from stdin (it needs a seekable file); give its path")
            return
        p = Path(self.path)
        if not p.exists():
            raise BatchError(f"{self.path}: no such file")
        if p.is_dir():
            raise BatchError(f"{self.path}: is a directory; give one input file")
        if self.format == "csv":
            with open(p, encoding="utf-8", errors="replace", newline="") as f:
                self._check_columns(next(csv.reader(f), None), "CSV")
        elif self.format == "parquet":
            self._check_columns(self._parquet_file(p).schema_arrow.names, "Parquet")

    def size(self) -> Optional[int]:
        """What ``Record.pos`` counts toward: bytes, rows for Parquet, None for stdin."""
        if self.path == "-":
            return None
        if self.format == "parquet":
            return self._parquet_file(Path(self.path)).metadata.num_rows
        return Path(self.path).stat().st_size

    def __iter__(self) -> Iterator[Record]:
        self.check()
        if self.format == "jsonl":
            return self._jsonl()
        if self.format == "csv":
            return self._csv()
        return self._parquet()

    def _check_columns(self, names, kind: str) -> None:
        if not names or self.id_field not in names or self.text_field not in names:
            raise BatchError(f"{self.path}: {kind} needs columns {self.id_field!r} and {self.text_field!r}; "
                             f"found {list(names or [])} (rename with --id-field/--text-field)")

    def _jsonl(self) -> Iterator[Record]:
        f = sys.stdin.buffer if self.path == "-" else open(self.path, "rb")
        pos = 0
        try:
            for n in itertools.count(1):
                raw = f.readline(self.max_line_bytes)
                if not raw:
                    return
                pos += len(raw)
                if not raw.endswith(b"\n") and len(raw) == self.max_line_bytes:
                    head = raw
                    while raw and not raw.endswith(b"\n"):   # drop the rest of the line unread
                        raw = f.readline(1 << 20)
                        pos += len(raw)
                    yield self._oversized(n, head, pos)
                    continue
                if raw.strip():
                    yield parse_json_line(raw, n, self.id_field, self.text_field, pos)
        finally:
            if f is not sys.stdin.buffer:
                f.close()

    def _oversized(self, line: int, head: bytes, pos: int) -> Record:
        # The line cannot be parsed without reading it whole; name it by its id if the id
        # comes first, as it does in files written by most tools.
        m = re.search(rb'"' + re.escape(self.id_field.encode()) + rb'"\s*:\s*("(?:[^"\\]|\\.){1,512}"|-?\d{1,20})',
                      head[:65536])
        rid = None
        if m:
            try:
                rid = str(json.loads(m.group(1)))
            except ValueError:
                rid = None
        message = (f"line {line}: longer than {self.max_line_bytes:,} bytes, more than any accepted text "
                   f"(raise the limit with --max-chars)")
        return Record(line, rid, error=("too_long", message), pos=pos)

    def _csv(self) -> Iterator[Record]:
        csv.field_size_limit(self.max_line_bytes)
        raw = sys.stdin.buffer if self.path == "-" else open(self.path, "rb")
        stream = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        n = 0
        try:
            reader = csv.DictReader(stream)
            self._check_columns(reader.fieldnames, "CSV")
            while True:
                n += 1
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    yield Record(n, None, error=("bad_csv", f"row {n}: {e}"), pos=_tell(raw))
                    continue
                # a row with more cells than the header puts the rest under None
                row.pop(None, None)
                yield make_record(n, row, self.id_field, self.text_field, _tell(raw))
        except UnicodeDecodeError as e:
            raise BatchError(f"{self.path}: not UTF-8 text after row {n - 1} ({e.reason})") from None
        finally:
            if raw is not sys.stdin.buffer:
                stream.close()

    def _parquet_file(self, path):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise BatchError("Parquet input needs pyarrow: pip install 'claims[parquet]'") from None
        try:
            return pq.ParquetFile(path)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several types for bad files
            raise BatchError(f"{self.path}: not a readable Parquet file ({e})") from None

    def _parquet(self) -> Iterator[Record]:
        pf = self._parquet_file(self.path)
        self._check_columns(pf.schema_arrow.names, "Parquet")
        n = 0
        for batch in pf.iter_batches(batch_size=256):
            for row in batch.to_pylist():
                n += 1
                yield make_record(n, row, self.id_field, self.text_field, n)


def _tell(raw) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0
