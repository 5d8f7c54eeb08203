"""JSON Lines, read one way everywhere: one core iterator and the readers built on it.

``json_lines`` numbers the lines of a binary stream from 1, skips blank ones (ASCII whitespace
only), and yields a ``JsonLine`` per other line: the parsed value, or what is wrong with it
(``kind``: ``not_utf8``, ``bad_json``, or ``too_long`` past ``max_line_bytes``) without raising.
What to do with a bad line is the caller's: a batch job writes an error record and goes on
(``claims.batch.readers``), the console and ``claims stance`` list it, and ``read_jsonl`` (the
corpora, training and eval) stops with ``JsonlError`` naming ``file:line``.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Optional


class JsonlError(ValueError):
    """A line of a JSON Lines file that is not what the reader needs; the message starts with
    ``file:line:``."""


@dataclass
class JsonLine:
    """One non-blank line: its 1-based number, how many bytes of the stream it ends at, and the
    parsed value or the error (``kind``, ``message``; the message names no place)."""
    number: int
    end: int
    value: Any = None
    kind: Optional[str] = None
    message: Optional[str] = None
    head: bytes = b""          # too_long: the first ``max_line_bytes`` bytes of the line

    @property
    def ok(self) -> bool:
        return self.kind is None


def parse(raw: bytes, loads: Callable[[str], Any] = json.loads) -> tuple[Any, Optional[str], Optional[str]]:
    """One line's bytes as (value, kind, message): UTF-8, then ``loads``. A ``ValueError`` from
    ``loads`` other than a decoding error is a ``bad_json`` with its own message."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")    # a column past the line's end would name nothing
    except UnicodeDecodeError:
        return None, "not_utf8", "not UTF-8"
    try:
        return loads(text), None, None
    except json.JSONDecodeError as e:
        return None, "bad_json", f"invalid JSON ({e.msg} at column {e.colno})"
    except ValueError as e:
        return None, "bad_json", str(e)


def json_lines(stream: BinaryIO, max_line_bytes: Optional[int] = None,
               loads: Callable[[str], Any] = json.loads) -> Iterator[JsonLine]:
    """A ``JsonLine`` per non-blank line of ``stream`` (binary, read line by line). With
    ``max_line_bytes``, a longer line is not held in memory: it comes back as ``too_long`` with
    its first bytes in ``head``, the rest of it skipped."""
    end, number = 0, 0
    limit = max_line_bytes if max_line_bytes else -1
    while True:
        raw = stream.readline(limit)
        if not raw:
            return
        number += 1
        end += len(raw)
        if max_line_bytes and len(raw) == max_line_bytes and not raw.endswith(b"\n"):
            head = raw
            while raw and not raw.endswith(b"\n"):       # drop the rest of the line unread
                raw = stream.readline(1 << 20)
                end += len(raw)
            yield JsonLine(number, end, kind="too_long", message=f"longer than {max_line_bytes:,} bytes", head=head)
            continue
        if not raw.strip():
            continue
        value, kind, message = parse(raw, loads)
        yield JsonLine(number, end, value, kind, message)


def open_jsonl(path: str | os.PathLike) -> BinaryIO:
    """The file for reading as bytes, gunzipped when its name ends in ``.gz``."""
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """The objects of a JSON Lines file (gzip by suffix, blank lines skipped), in order. A line
    that is not UTF-8, not JSON or not an object raises ``JsonlError`` (``file:line: what``)."""
    with open_jsonl(path) as f:
        try:
            for line in json_lines(f):
                if not line.ok:
                    raise JsonlError(f"{path}:{line.number}: {line.message}")
                if not isinstance(line.value, dict):
                    raise JsonlError(f"{path}:{line.number}: expected a JSON object, got {type(line.value).__name__}")
                yield line.value
        except (gzip.BadGzipFile, EOFError) as e:     # a corrupt or truncated gzip stream
            raise JsonlError(f"{path}: not a readable gzip file ({e})") from None
