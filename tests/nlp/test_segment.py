import numpy as np
import pytest

from claims.nlp.encoder import load_tokenizer
from claims.nlp.segment import (CASE_LOWER, CASE_NONE, CASE_TITLE, CASE_UPPER, QUOTE_IN, QUOTE_MARK, QUOTE_OUT,
                            prepare, segment, sentence_spans, windows)


def test_segment_words_keep_offsets():
    text = "Moscow\xa0denies it. “Yes,” he said — U.S. officials’ view."
    seg = segment(text)
    for i in range(len(seg)):
        assert text[seg.starts[i]:seg.ends[i]] == seg.word(i)
    assert seg.word(0) == "Moscow"
    assert [seg.word(i) for i in range(len(seg))][-4:] == ["officials", "’", "view", "."]


@pytest.mark.parametrize("text,expected", [
    ("He said “we will win” today.", ["we", "will", "win"]),
    ('He said "we will win" today.', ["we", "will", "win"]),
    ("He said ''we will win'' today.", ["we", "will", "win"]),
    ("No quotes here at all.", []),
])
def test_segment_quote_state_marks_quoted_words(text, expected):
    seg = segment(text)
    inside = [seg.word(i) for i in range(len(seg)) if seg.quote[i] == QUOTE_IN]
    assert inside == expected
    assert all(seg.quote[i] in (QUOTE_OUT, QUOTE_MARK) for i in range(len(seg)) if seg.word(i) in ("He", "today"))


def test_segment_quote_state_resets_at_paragraph():
    seg = segment('He said "this goes on\n\nNext paragraph is narration.')
    assert seg.quote[[seg.word(i) for i in range(len(seg))].index("Next")] == QUOTE_OUT


def test_segment_casing_classes():
    seg = segment("NATO and Russia, iPhone 42")
    assert list(seg.case) == [CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_NONE, 3, CASE_NONE]


def test_sentence_spans_skip_abbreviations_and_keep_offsets():
    text = "Mr. Smith met U.S. officials. They agreed.\nA new line starts."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Mr. Smith met U.S. officials.", "They agreed.", "A new line starts."]


def test_word_range_maps_partial_and_whole_words():
    text = "the president said that"
    seg = segment(text)
    assert seg.word_range(4, 13) == (1, 1)
    assert seg.word_range(5, 13) == (1, 1)     # starts inside a word: still that word
    assert seg.word_range(0, 18) == (0, 2)
    assert seg.word_range(13, 14) is None      # only whitespace


def test_windows_cover_every_subword_with_overlap():
    tok = load_tokenizer()
    text = " ".join(f"word{i} said something." for i in range(300))
    p = prepare(text, tok)
    wins = windows(p.sub, 0, 101, 102, max_len=64, stride=40)
    assert all(len(w.input_ids) <= 64 for w in wins)
    covered = np.zeros(len(p.sub.ids), dtype=bool)
    for w in wins:
        n = len(w.input_ids) - 2
        covered[w.sub_start:w.sub_start + n] = True
        assert (w.input_ids[1:-1] == p.sub.ids[w.sub_start:w.sub_start + n]).all()
    assert covered.all()


def test_prepare_aligns_subwords_to_words():
    tok = load_tokenizer()
    text = "Kerry’s counterpart, Sergey Lavrov, said ''no''."
    p = prepare(text, tok)
    firsts = p.sub.word[p.sub.first]
    assert sorted(firsts.tolist()) == list(range(len(p.seg)))
