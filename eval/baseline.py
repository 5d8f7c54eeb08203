"""Rule-based attribution baseline: quotation marks plus reporting verbs.

What CoreNLP's quote annotator and textacy's ``direct_quotations`` do: every quotation of at least
three words is a content; the nearest reporting verb in the same sentence is its cue; the name or
pronoun next to the cue is its source. It finds no reported speech without quotation marks.
"""

from __future__ import annotations

from claims.nlp.segment import QUOTE_IN, QUOTE_MARK, Segmented

REPORTING_VERBS = {
    "say", "says", "said", "saying", "tell", "tells", "told", "add", "adds", "added", "adding", "write",
    "writes", "wrote", "ask", "asks", "asked", "note", "notes", "noted", "argue", "argues", "argued",
    "claim", "claims", "claimed", "explain", "explains", "explained", "insist", "insists", "insisted",
    "state", "states", "stated", "declare", "declared", "tweet", "tweeted", "tweets", "warn", "warned",
    "warns", "continue", "continued", "recall", "recalled", "acknowledge", "acknowledged", "admit",
    "admitted", "announce", "announced", "suggest", "suggested", "report", "reported", "reports", "quip",
    "quipped", "joke", "joked", "reply", "replied", "respond", "responded", "complain", "complained",
    "describe", "described", "deny", "denied", "denies", "accuse", "accused", "predict", "predicted",
    "according", "told", "says", "emphasize", "emphasized", "stress", "stressed", "declared",
}
PRONOUNS = {"he", "she", "they", "it", "we", "i"}


def _quotations(seg: Segmented) -> list[tuple[int, int]]:
    """Word ranges of quotations, marks included."""
    out, i, n = [], 0, len(seg)
    while i < n:
        if seg.quote[i] == QUOTE_MARK and i + 1 < n and seg.quote[i + 1] in (QUOTE_IN, QUOTE_MARK):
            j = i + 1
            while j < n and seg.quote[j] == QUOTE_MARK and seg.paragraph[j] == seg.paragraph[i]:
                j += 1  # '' is two marks
            while j < n and seg.quote[j] == QUOTE_IN and seg.paragraph[j] == seg.paragraph[i]:
                j += 1
            end = j
            while end < n and seg.quote[end] == QUOTE_MARK and seg.paragraph[end] == seg.paragraph[i] \
                    and end - j < 2:
                end += 1
            inner = [k for k in range(i, end) if seg.quote[k] == QUOTE_IN and seg.word(k)[0].isalnum()]
            if len(inner) >= 3:
                out.append((i, max(end - 1, i)))
            i = max(end, i + 1)
        else:
            i += 1
    return out


def _source_near(seg: Segmented, cue: int) -> tuple[int, int] | None:
    """A capitalised name or pronoun right before the cue, else right after it ("said Smith")."""
    sent = seg.sentence[cue]
    k = cue - 1
    if k >= 0 and seg.sentence[k] == sent:
        if seg.word(k).lower() in PRONOUNS:
            return (k, k)
        if seg.word(k)[:1].isupper() and seg.word(k).isalpha():
            j = k
            while j - 1 >= 0 and seg.sentence[j - 1] == sent and seg.word(j - 1)[:1].isupper() and seg.word(j - 1).isalpha():
                j -= 1
            return (j, k)
    k = cue + 1
    if k < len(seg) and seg.sentence[k] == sent:
        if seg.word(k).lower() in PRONOUNS:
            return (k, k)
        if seg.word(k)[:1].isupper() and seg.word(k).isalpha():
            j = k
            while j + 1 < len(seg) and seg.sentence[j + 1] == sent and seg.word(j + 1)[:1].isupper() and seg.word(j + 1).isalpha():
                j += 1
            return (k, j)
    return None


def predict(seg: Segmented) -> list[dict]:
    """Claims as dicts of character spans: ``source``, ``cue``, ``content`` (lists)."""
    claims = []
    for first, last in _quotations(seg):
        sent_lo, sent_hi = seg.sentence[first], seg.sentence[last]
        best, best_d = None, 1e9
        for k in range(max(0, first - 40), min(len(seg), last + 40)):
            if first <= k <= last or not (sent_lo <= seg.sentence[k] <= sent_hi):
                continue
            if seg.word(k).lower() in REPORTING_VERBS:
                d = first - k if k < first else k - last
                if d < best_d:
                    best, best_d = k, d
        if best is None:
            continue
        cue_last = best + 1 if seg.word(best).lower() == "according" and best + 1 < len(seg) else best
        src = _source_near(seg, best)
        claims.append({
            "content": [seg.char_span(first, last)],
            "cue": [seg.char_span(best, cue_last)],
            "source": [seg.char_span(*src)] if src else [],
        })
    return claims

