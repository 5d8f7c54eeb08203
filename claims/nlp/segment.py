"""Offset-preserving segmentation: words, sentences, paragraphs, and strided subword windows.

The article text is never changed. Words follow the PolNeAR statistics tokenisation
(``\\w+(?:['’]\\w+)*`` or one punctuation character), which is also the unit of evaluation.
Each word carries two small features that the uncased encoder cannot see for itself:
its casing class and whether it lies inside a quotation (curly, straight or ``''`` quotes).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

import numpy as np

WORD_RE = re.compile(r"\w+(?:[’']\w+)*|[^\w\s]")

# Casing classes (index into the tagger's casing embedding).
CASE_LOWER, CASE_TITLE, CASE_UPPER, CASE_MIXED, CASE_NONE = range(5)
N_CASE = 5
# Quotation classes.
QUOTE_OUT, QUOTE_IN, QUOTE_MARK = range(3)
N_QUOTE = 3

OPEN_QUOTES = {"“", "«", "„"}
CLOSE_QUOTES = {"”", "»"}
TOGGLE_QUOTES = {'"', "''", "``"}

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "sen", "rep", "gov", "gen", "lt", "col", "sgt", "capt", "rev", "st", "jr", "sr",
    "prof", "pres", "inc", "corp", "co", "ltd", "vs", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "u.s", "u.n", "u.k", "d.c", "e.g", "i.e", "a.m", "p.m", "ft", "mt",
}
_SENT_END_RE = re.compile(r"[.!?]+[\"'”’»)\]]*(?=\s)|[.!?]+[\"'”’»)\]]*$")


@dataclass
class Segmented:
    """Words of one article with their character offsets, sentence and paragraph ids, and features."""

    text: str
    starts: np.ndarray          # (n_words,) char start of each word
    ends: np.ndarray            # (n_words,) char end (exclusive)
    sentence: np.ndarray        # (n_words,) sentence index
    paragraph: np.ndarray       # (n_words,) paragraph index
    case: np.ndarray            # (n_words,) casing class
    quote: np.ndarray           # (n_words,) quotation class
    sentence_spans: list[tuple[int, int]] = field(default_factory=list)  # char spans of sentences

    def __len__(self) -> int:
        return len(self.starts)

    def word(self, i: int) -> str:
        return self.text[self.starts[i]:self.ends[i]]

    def char_span(self, first: int, last: int) -> tuple[int, int]:
        """Character span of words first..last inclusive."""
        return int(self.starts[first]), int(self.ends[last])

    def word_range(self, start: int, end: int) -> tuple[int, int] | None:
        """Inclusive word range covered by a character span; None if it covers no word.

        A word counts when the span holds at least half of it, or the word's first character:
        annotations that start or end inside a word still map to that word.
        """
        lo = bisect.bisect_right(self.ends, start)
        hi = bisect.bisect_left(self.starts, end) - 1
        if lo > hi:
            return None
        while lo <= hi and not self._covered(lo, start, end):
            lo += 1
        while hi >= lo and not self._covered(hi, start, end):
            hi -= 1
        return (lo, hi) if lo <= hi else None

    def _covered(self, i: int, start: int, end: int) -> bool:
        ws, we = int(self.starts[i]), int(self.ends[i])
        overlap = min(we, end) - max(ws, start)
        return overlap > 0 and (ws >= start or 2 * overlap >= we - ws)


def casing(word: str) -> int:
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return CASE_NONE
    if all(c.islower() for c in letters):
        return CASE_LOWER
    if all(c.isupper() for c in letters):
        return CASE_UPPER if len(letters) > 1 else CASE_TITLE
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return CASE_TITLE
    return CASE_MIXED


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of paragraphs: runs of text separated by blank lines or single newlines.

    Scraped pages put one paragraph (or one boilerplate line) per line, so every line break ends one.
    """
    spans = []
    for m in re.finditer(r"[^\n]+", text):
        if m.group().strip():
            spans.append((m.start(), m.end()))
    return spans


def sentence_spans(text: str, paragraphs: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """Rule-based sentence spans that never cross a paragraph and skip common abbreviations."""
    out = []
    for ps, pe in paragraphs if paragraphs is not None else paragraph_spans(text):
        start = ps
        while start < pe and text[start].isspace():
            start += 1
        for m in _SENT_END_RE.finditer(text, start, pe):
            end = m.end()
            if m.group()[0] == "." and _is_abbreviation(text, m.start()):
                continue
            nxt = end
            while nxt < pe and text[nxt].isspace():
                nxt += 1
            if nxt < pe and text[nxt].islower():
                continue  # "... said Mr. smith" or an ellipsis mid-sentence
            if end > start:
                out.append((start, end))
            start = nxt
        if start < pe and text[start:pe].strip():
            out.append((start, pe - _trailing_space(text, start, pe)))
    return out


def _trailing_space(text: str, start: int, end: int) -> int:
    n = 0
    while end - n > start and text[end - n - 1].isspace():
        n += 1
    return n


def _is_abbreviation(text: str, dot: int) -> bool:
    j = dot
    while j > 0 and (text[j - 1].isalpha() or text[j - 1] == "."):
        j -= 1
    token = text[j:dot].lower()
    if token in _ABBREVIATIONS:
        return True
    # single capital letter initials ("John F. Kennedy") and dotted acronyms ("U.S.")
    return len(token) == 1 or ("." in token and len(token) <= 5)


_MINOR_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "nor", "of", "on",
                "or", "over", "the", "to", "up", "with", "vs", "via", "after", "amid", "about"}


def headline_words(seg: Segmented) -> np.ndarray:
    """Words on headline or byline lines: a line of at most 20 words whose longer words are
    nearly all capitalised (title case: "Kerry, Lavrov Talks on Syria End Without Deal"), or a
    short line that begins with "By" and has no sentence-final punctuation inside."""
    out = np.zeros(len(seg), dtype=bool)
    if not len(seg):
        return out
    bounds = np.nonzero(np.diff(seg.paragraph))[0] + 1
    for a, b in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(seg)]])):
        words = [seg.word(i) for i in range(a, b)]
        alpha = [w for w in words if w[0].isalpha()]
        if not alpha or len(alpha) > 20:
            continue
        if alpha[0].lower() == "by" and len(alpha) <= 8 and not any(w in ".!?" for w in words[:-1]):
            out[a:b] = True
            continue
        major = [w for w in alpha if w.lower() not in _MINOR_WORDS]
        if len(major) >= 3 and sum(w[0].isupper() for w in major) >= 0.9 * len(major):
            out[a:b] = True
    return out


def segment(text: str) -> Segmented:
    """Split text into words with sentence/paragraph ids, casing and quotation features."""
    paragraphs = paragraph_spans(text)
    sentences = sentence_spans(text, paragraphs)
    matches = list(WORD_RE.finditer(text))
    n = len(matches)
    starts = np.fromiter((m.start() for m in matches), dtype=np.int64, count=n)
    ends = np.fromiter((m.end() for m in matches), dtype=np.int64, count=n)
    sent_starts = [s for s, _ in sentences]
    par_starts = [s for s, _ in paragraphs]
    sentence = np.array([max(bisect.bisect_right(sent_starts, s) - 1, 0) for s in starts], dtype=np.int64)
    paragraph = np.array([max(bisect.bisect_right(par_starts, s) - 1, 0) for s in starts], dtype=np.int64)
    case = np.array([casing(m.group()) for m in matches], dtype=np.int64)
    quote = _quote_states(text, matches, paragraph)
    return Segmented(text, starts, ends, sentence, paragraph, case, quote, sentences)


def _quote_states(text: str, matches: list, paragraph: np.ndarray) -> np.ndarray:
    """Mark each word as outside a quotation, inside one, or a quotation mark.

    Straight quotes and ``''`` toggle; curly and guillemet quotes open and close. State resets at
    each paragraph, since news style reopens a quotation that continues into the next paragraph.
    """
    out = np.zeros(len(matches), dtype=np.int64)
    inside = False
    prev_par = -1
    i = 0
    while i < len(matches):
        if paragraph[i] != prev_par:
            inside, prev_par = False, paragraph[i]
        w = matches[i].group()
        # '' and `` are two one-character words; treat the adjacent pair as one mark
        pair = w in ("'", "`") and i + 1 < len(matches) and matches[i + 1].group() == w \
            and matches[i + 1].start() == matches[i].end()
        mark = w + w if pair else w
        if mark in OPEN_QUOTES or mark in CLOSE_QUOTES or mark in TOGGLE_QUOTES:
            if mark in OPEN_QUOTES:
                inside = True
            elif mark in CLOSE_QUOTES:
                inside = False
            else:
                inside = not inside
            out[i] = QUOTE_MARK
            if pair:
                out[i + 1] = QUOTE_MARK
                i += 1
        else:
            out[i] = QUOTE_IN if inside else QUOTE_OUT
        i += 1
    return out


@dataclass
class Window:
    """A slice of an article's subwords fed to the encoder in one sequence."""

    article: int                 # index of the article in the batch
    input_ids: np.ndarray        # (L,) with [CLS] ... [SEP]
    word_index: np.ndarray       # (L,) word index of each position, -1 for specials/non-first subwords
    sub_word: np.ndarray         # (L,) word index of each subword (also non-first), -1 for specials
    weight: np.ndarray           # (L,) how central each position is; the most central prediction wins
    sub_start: int = 0           # index of the first subword of the window in the article


@dataclass
class Subwords:
    ids: np.ndarray              # (n_sub,)
    word: np.ndarray             # (n_sub,) word index of each subword (-1 if outside any word)
    first: np.ndarray            # (n_sub,) True where the subword is the first of its word


def align_subwords(seg: Segmented, ids: list[int], offsets: list[tuple[int, int]]) -> Subwords:
    """Assign each subword to the word containing its first character."""
    ids_a = np.asarray(ids, dtype=np.int64)
    word = np.full(len(ids), -1, dtype=np.int64)
    if len(seg):
        sub_starts = np.asarray([o[0] for o in offsets], dtype=np.int64)
        idx = np.searchsorted(seg.starts, sub_starts, side="right") - 1
        ok = (idx >= 0) & (sub_starts < seg.ends[np.clip(idx, 0, None)])
        word[ok] = idx[ok]
    first = np.zeros(len(ids), dtype=bool)
    seen = set()
    for i, w in enumerate(word):
        if w >= 0 and w not in seen:
            first[i] = True
            seen.add(w)
    return Subwords(ids_a, word, first)


def windows(sub: Subwords, article: int, cls_id: int, sep_id: int,
            max_len: int = 256, stride: int = 128) -> list[Window]:
    """Cut an article's subwords into overlapping windows of at most max_len (with specials).

    Consecutive windows start ``stride`` subwords apart; a position's weight is its distance
    to the nearer window edge, so the caller keeps each word's prediction from the window
    where it has the most context on both sides.
    """
    body = max_len - 2
    n = len(sub.ids)
    starts = list(range(0, max(n - body, 0) + 1, stride)) or [0]
    if starts[-1] + body < n:
        starts.append(n - body)
    out = []
    for s in starts:
        e = min(s + body, n)
        ids = np.concatenate([[cls_id], sub.ids[s:e], [sep_id]])
        words = np.concatenate([[-1], np.where(sub.first[s:e], sub.word[s:e], -1), [-1]])
        sub_word = np.concatenate([[-1], sub.word[s:e], [-1]])
        pos = np.arange(e - s)
        # an article edge is not a window edge: words there have all the context there is
        left = pos + (0 if s > 0 else body)
        right = (e - s - 1 - pos) + (0 if e < n else body)
        weight = np.concatenate([[-1], np.minimum(left, right), [-1]]).astype(np.float32)
        out.append(Window(article, ids, words, sub_word, weight, s))
    return out


@dataclass
class Prepared:
    """An article ready for the encoder: its words and their subwords."""

    seg: Segmented
    sub: Subwords


def prepare(text: str, tokenizer) -> Prepared:
    seg = segment(text)
    enc = tokenizer.encode(text, add_special_tokens=False)
    return Prepared(seg, align_subwords(seg, enc.ids, enc.offsets))


def collate(batch: list[Window], articles: list[Prepared]) -> dict[str, np.ndarray]:
    """Pad windows into arrays: ids, casing and quotation features per position."""
    L = max(len(w.input_ids) for w in batch)
    ids = np.zeros((len(batch), L), dtype=np.int64)
    case = np.full((len(batch), L), CASE_NONE, dtype=np.int64)
    quote = np.full((len(batch), L), QUOTE_OUT, dtype=np.int64)
    for r, w in enumerate(batch):
        n = len(w.input_ids)
        ids[r, :n] = w.input_ids
        seg = articles[w.article].seg
        has = w.sub_word >= 0
        case[r, :n][has] = seg.case[w.sub_word[has]]
        quote[r, :n][has] = seg.quote[w.sub_word[has]]
    return {"ids": ids, "case": case, "quote": quote}


def gather_words(batch: list[Window], outputs: np.ndarray, n_words: list[int],
                 fill: np.ndarray, into: list[np.ndarray] | None = None,
                 best: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Scatter per-position outputs (B, L, k) to per-word rows, keeping each word's most central window.

    Words with no subword (characters the tokenizer drops) keep ``fill``. Pass the returned
    ``into``/``best`` back in to accumulate over several batches.
    """
    k = outputs.shape[-1]
    if into is None:
        into = [np.tile(fill, (n, 1)).astype(np.float32) for n in n_words]
        best = [np.full(n, -np.inf, dtype=np.float32) for n in n_words]
    for r, w in enumerate(batch):
        pos = np.nonzero(w.word_index >= 0)[0]
        words = w.word_index[pos]
        better = w.weight[pos] > best[w.article][words]
        into[w.article][words[better]] = outputs[r, pos[better], :k]
        best[w.article][words[better]] = w.weight[pos[better]]
    return into, best
