"""Form of a claim: direct (verbatim quotation), indirect (reported speech, belief) or mixed."""

from __future__ import annotations

from .segment import QUOTE_OUT, Segmented


def classify(seg: Segmented, fragments: list[tuple[int, int]]) -> str:
    """``fragments``: inclusive word ranges of the content. All words quoted -> direct,
    some -> mixed, none -> indirect (quotation state from ``segment``)."""
    quoted = total = 0
    for first, last in fragments:
        for i in range(first, last + 1):
            if seg.word(i).isalnum() or any(ch.isalnum() for ch in seg.word(i)):
                total += 1
                quoted += seg.quote[i] != QUOTE_OUT
    if total == 0 or quoted == 0:
        return "indirect"
    return "direct" if quoted == total else "mixed"
