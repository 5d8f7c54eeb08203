"""A set of ids that stays small: 16 bytes an id, so resume and duplicate checks over millions
of records fit in a few hundred megabytes where a Python set of strings would take gigabytes.

Ids are kept as 120-bit BLAKE2b digests (a false match among ten million ids has a probability
near 1e-22) in one sorted NumPy array, with the newest ids in a small Python set that is merged
in when it grows.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np

_MERGE_AT = 1 << 16


def _digest(key: str) -> bytes:
    # 15 digest bytes and a final 0x01: NumPy's fixed-width bytes drop trailing NULs, so a
    # digest must never end in one.
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=15).digest() + b"\x01"


class IdSet:
    """``add`` and ``in`` for string ids, in about 16 bytes an id."""

    def __init__(self, ids: Iterable[str] = ()):
        self._sorted = np.empty(0, dtype="S16")
        self._recent: set[bytes] = set()
        for key in ids:
            self.add(key)

    def add(self, key: str) -> None:
        """Add ``key`` (a no-op if present)."""
        d = _digest(key)
        if d in self._recent or self._in_sorted(d):
            return
        self._recent.add(d)
        # merge in proportion to the size, so the total merge cost stays linear
        if len(self._recent) >= max(_MERGE_AT, len(self._sorted) // 4):
            self._merge()

    def __contains__(self, key: str) -> bool:
        d = _digest(key)
        return d in self._recent or self._in_sorted(d)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def _in_sorted(self, d: bytes) -> bool:
        i = int(np.searchsorted(self._sorted, d))
        return i < len(self._sorted) and self._sorted[i] == d

    def _merge(self) -> None:
        new = np.sort(np.array(list(self._recent), dtype="S16"))
        # two sorted runs: the stable sort (a merge sort) joins them in linear time
        self._sorted = np.sort(np.concatenate([self._sorted, new]), kind="stable")
        self._recent.clear()
