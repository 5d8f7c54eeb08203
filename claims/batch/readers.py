"""Batch input: JSONL, CSV or Parquet records streamed one at a time, never the whole file.

Each input record becomes a ``Record``. A record that cannot be used (a malformed line, no id, a
text that is not a string, a line too long to hold in memory) comes back with ``error`` set
instead of raising, so the job writes an error record for it and goes on. Problems with the file
as a whole (missing, wrong columns, not Parquet) raise ``BatchError`` before the first record.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from .. import jsonl
from ..disputes import DisputeError, validate as validate_dispute
from ..errors import MAX_CHARS, BatchError

FORMATS = ("jsonl", "csv", "parquet")
DISPUTES_FIELD = "disputes"    # a record's own disputes (see ``record_disputes``)
# JSON escapes can take six bytes per character (\uXXXX); the rest is room for extra fields.
BYTES_PER_CHAR = 6
EXTRA_BYTES = 1 << 20


@dataclass
class Record:
    """One input record: its id and text, the fields carried to the output, or what is wrong."""
    line: int                  # 1-based: the line in a JSONL file, the row in CSV or Parquet
    id: Optional[str]
    text: object = None
    extra: dict = field(default_factory=dict)
    error: Optional[tuple[str, str]] = None   # (type, message) when the record itself is bad
    pos: int = 0               # how far into the input this record ends (bytes, or rows for Parquet)
    disputes: Optional[tuple] = None   # the record's own disputes, replacing the job's; None: the job's

    @property
    def key(self) -> str:
        """The id this record has in the output: its own, or ``line:N`` when it has none.
        (A real id spelled ``line:N`` could collide with a nameless record on line N; ids are
        not expected to look like that.)"""
        return self.id if self.id is not None else f"line:{self.line}"


NAMED_JSONL = (".jsonl", ".ndjson", ".jsonlines")
SNIFF_LINE_BYTES = 1 << 20     # how much of a first line format detection reads at most


def format_from_name(path: str) -> Optional[str]:
    """The format a file name states (``.parquet``/``.pq``, ``.csv``, ``.jsonl``), else None."""
    name = path.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(NAMED_JSONL):
        return "jsonl"
    return None


def sniff_format(head: bytes, where: str, id_field: str = "id", text_field: str = "text") -> str:
    """The format of an input whose name does not say (stdin, ``.txt``, ``.json``, no suffix),
    from its first bytes (at least its first non-blank line, when it has one). Raises
    ``BatchError`` with what to run instead for an input that holds no records."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if b"\x00" in head:
        raise BatchError(f"{where}: looks like a binary file, not JSONL, CSV or Parquet records")
    text = head.decode("utf-8-sig", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return "jsonl"          # empty: no records, nothing to do
    first = lines[0].strip()
    if first.startswith("{"):
        try:
            if isinstance(json.loads(first), dict):
                return "jsonl"
        except json.JSONDecodeError:
            pass
        truncated = len(lines) == 1 and not head.rstrip(b" \t").endswith((b"\n", b"\r"))
        if truncated or first != "{":
            return "jsonl"       # a long first record, or a bad first line (an error record)
        raise BatchError(f"{where}: one pretty-printed JSON document, not JSON Lines (one record per line); "
                         f"convert it with `jq -c . {where} > records.jsonl`")
    if first.startswith("["):
        raise BatchError(f"{where}: a JSON array, not JSON Lines (one record per line); convert it with "
                         f"`jq -c '.[]' {where} > records.jsonl`")
    try:
        header = next(csv.reader([first]))
    except csv.Error:
        header = []
    if id_field in header and text_field in header:
        return "csv"
    one = "claims analyze -" if where == "stdin" else f"claims analyze {where}"
    raise BatchError(f"{where}: no records (neither JSON Lines nor CSV with columns {id_field!r} and "
                     f"{text_field!r}); for one article run `{one}`, or name the format with --format")


def detect_format(path: str, fmt: Optional[str], head: Optional[bytes] = None, id_field: str = "id",
                  text_field: str = "text") -> str:
    """The input format: the one given, else what the file name says, else what ``head`` (the
    input's first bytes) shows; without a head, JSONL."""
    if fmt:
        if fmt not in FORMATS:
            raise BatchError(f"unknown input format {fmt!r} (choose from {', '.join(FORMATS)})")
        return fmt
    named = None if path == "-" else format_from_name(path)
    if named or head is None:
        return named or "jsonl"
    return sniff_format(head, "stdin" if path == "-" else path, id_field, text_field)


def make_record(line: int, obj: dict, id_field: str, text_field: str, pos: int = 0) -> Record:
    """One input object (a JSON line, a CSV or Parquet row) as a Record; fields other than the
    id and text are carried into the output."""
    rid = obj.get(id_field)
    extra = {k: v for k, v in obj.items() if k not in (id_field, text_field, DISPUTES_FIELD)}
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
    if DISPUTES_FIELD in obj and DISPUTES_FIELD not in (id_field, text_field):
        try:
            own = record_disputes(obj[DISPUTES_FIELD])
        except DisputeError as e:
            return Record(line, str(rid), None, extra, ("bad_disputes", f"line {line}: {e}"), pos)
        return Record(line, str(rid), text, extra, None, pos, own)
    return Record(line, str(rid), text, extra, None, pos)


def record_disputes(value) -> tuple:
    """A record's own ``"disputes"``: a list of ``{"id", "title", "proposition"}`` checked like a
    disputes file (a JSON string of that list, as a CSV cell holds it, is read too). An empty list
    means no disputes for that record."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise DisputeError("disputes: not a JSON list of disputes") from None
    if hasattr(value, "tolist"):      # a list column read from Parquet
        value = value.tolist()
    if not isinstance(value, list):
        raise DisputeError('disputes: must be a list of {"id", "title", "proposition"} objects')
    out, seen = [], set()
    for n, d in enumerate(value, 1):
        dispute = validate_dispute(d, f"disputes #{n}")
        if dispute.id in seen:
            raise DisputeError(f"disputes #{n}: duplicate id {dispute.id!r}")
        seen.add(dispute.id)
        out.append(dispute)
    return tuple(out)


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def line_record(line: jsonl.JsonLine, id_field: str, text_field: str) -> Record:
    """A parsed line (``claims.jsonl``) as a Record: its error as the record's, else the object's fields."""
    if not line.ok:
        return Record(line.number, None, error=(line.kind, f"line {line.number}: {line.message}"), pos=line.end)
    if not isinstance(line.value, dict):
        return Record(line.number, None, error=("bad_json", f"line {line.number}: expected a JSON object"),
                      pos=line.end)
    return make_record(line.number, line.value, id_field, text_field, line.end)


class _Prefixed(io.RawIOBase):
    """A stream that gives ``head`` first and then the rest of ``raw`` (stdin after sniffing)."""

    def __init__(self, head: bytes, raw):
        self.head = head
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        chunk = self.raw.read1(len(b)) if hasattr(self.raw, "read1") else self.raw.read(len(b))
        b[:len(chunk)] = chunk
        return len(chunk)


class Source:
    """An input file (or ``-`` for stdin) read as a stream of Records.

    ``check()`` validates the file up front (exists, is records, has the columns); iterating
    reads it once. ``size()`` is the total that ``Record.pos`` counts toward (bytes, or rows for
    Parquet), or None when unknown (stdin), for progress and ETA. The format is ``--format``, else
    what the file name says, else what the first line shows (``detect_format``); stdin's first
    bytes are kept and read again as part of the stream.
    """

    def __init__(self, path: str, fmt: Optional[str] = None, id_field: str = "id", text_field: str = "text",
                 max_chars: int = MAX_CHARS):
        self.path = path
        self.given_format = fmt
        self._format: Optional[str] = None
        self.id_field = id_field
        self.text_field = text_field
        # A longer line cannot hold an acceptable text; it is skipped without being read whole.
        self.max_line_bytes = BYTES_PER_CHAR * max_chars + EXTRA_BYTES
        self._stdin_head = b""          # what has been read from stdin before the records
        self._stdin_eof = False

    @property
    def format(self) -> str:
        """``jsonl``, ``csv`` or ``parquet`` (``BatchError`` for an input that is no records)."""
        if self._format is None:
            named = self.given_format or (None if self.path == "-" else format_from_name(self.path))
            if named:
                self._format = detect_format(self.path, named)
            else:
                self._exists()
                self._format = detect_format(self.path, None, self._first_line(), self.id_field, self.text_field)
        return self._format

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes of the input (fewer if it is shorter), without consuming them."""
        if self.path != "-":
            with open(self.path, "rb") as f:
                return f.read(n)
        stdin = sys.stdin.buffer
        while len(self._stdin_head) < n and not self._stdin_eof:
            want = n - len(self._stdin_head)
            chunk = stdin.read1(want) if hasattr(stdin, "read1") else stdin.read(want)
            self._stdin_eof = not chunk
            self._stdin_head += chunk
        return self._stdin_head[:n]

    def _first_line(self) -> bytes:
        """The input's first bytes up to the end of its first non-blank line (at most 1 MiB)."""
        n = 4096
        while True:
            head = self.head(n)
            body = head.lstrip()
            if len(head) < n or (body and b"\n" in body) or n >= SNIFF_LINE_BYTES:
                return head
            n *= 4

    def _exists(self) -> None:
        if self.path == "-":
            return
        p = Path(self.path)
        if not p.exists():
            raise BatchError(f"{self.path}: no such file")
        if p.is_dir():
            raise BatchError(f"{self.path}: is a directory; give one input file")

    def _open(self):
        """The input as a binary stream from its first byte."""
        if self.path != "-":
            return open(self.path, "rb")
        head, self._stdin_head = self._stdin_head, b""
        return io.BufferedReader(_Prefixed(head, sys.stdin.buffer))

    def check(self) -> None:
        """Raise ``BatchError`` now if the file cannot be read as this format."""
        self._exists()
        if self.path == "-":
            if self.format == "parquet":
                raise BatchError("Parquet cannot be read from stdin (it needs a seekable file); give its path")
            return
        p = Path(self.path)
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
        f = self._open()
        try:
            for line in jsonl.json_lines(f, self.max_line_bytes):
                if line.kind == "too_long":
                    yield self._oversized(line.number, line.head, line.end)
                else:
                    yield line_record(line, self.id_field, self.text_field)
        finally:
            if self.path != "-":
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
        raw = self._open()
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
            if self.path != "-":
                stream.close()
            else:
                stream.detach()     # leave stdin open

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
