import numpy as np

from claims.nlp.segment import segment
from claims.nlp.tagger import LABEL_INDEX, LABELS, decode, viterbi
from training.fit import word_labels


def _lp(rows):
    return np.log(np.asarray(rows, dtype=np.float32) + 1e-6)


def test_viterbi_never_starts_inside_or_switches_role():
    # the best per-word labels would be I-cue then I-content: invalid
    rows = np.full((3, len(LABELS)), 0.01)
    rows[0, LABEL_INDEX["I-cue"]] = 0.9
    rows[1, LABEL_INDEX["I-content"]] = 0.9
    rows[2, LABEL_INDEX["I-content"]] = 0.9
    labels = [LABELS[i] for i in viterbi(_lp(rows))]
    assert not labels[0].startswith("I-")
    for prev, cur in zip(labels, labels[1:]):
        if cur.startswith("I-"):
            assert prev[2:] == cur[2:]


def test_decode_returns_spans_with_offsets():
    text = "Moscow denies the allegations."
    seg = segment(text)
    labels = ["B-source", "B-cue", "B-content", "I-content", "O"]
    rows = np.full((len(seg), len(LABELS)), 0.001)
    for i, l in enumerate(labels):
        rows[i, LABEL_INDEX[l]] = 0.99
    spans = decode(seg, _lp(rows))
    assert [(s.role, text[s.start:s.end]) for s in spans] == [
        ("source", "Moscow"), ("cue", "denies"), ("content", "the allegations")]
    assert all(0.9 < s.prob <= 1.0 for s in spans)


def test_word_labels_round_trip_through_decode():
    text = "Kerry said the talks went well, and added that more would follow."
    seg = segment(text)
    gold = [("source", 0, 5), ("cue", 6, 10), ("content", 11, 30), ("cue", 36, 41), ("content", 42, 64)]
    wl = word_labels(seg, gold)
    rows = np.full((len(seg), len(LABELS)), 0.001)
    rows[np.arange(len(seg)), wl] = 0.99
    spans = decode(seg, _lp(rows))
    assert [(s.role, s.start, s.end) for s in spans] == gold


# -- decoding rules ------------------------------------------------------------------------------

import pytest

from claims.nlp.segment import headline_words
from claims.nlp.tagger import DecodeRules, boundary_masks, quotation_open_at_paragraph_end


def _rows_for(seg, labels, p=0.9):
    """Log-probabilities favouring ``labels`` (one per word) with probability ``p``."""
    rows = np.full((len(seg), len(LABELS)), (1 - p) / (len(LABELS) - 1))
    for i, l in enumerate(labels):
        rows[i, LABEL_INDEX[l]] = p
    return _lp(rows)


def _spans(seg, lp, **rules):
    return [(s.role, seg.text[s.start:s.end]) for s in decode(seg, lp, DecodeRules(**rules))]


def test_paragraph_rule_stops_content_at_a_paragraph_break():
    text = "He said the deal would stand.\nOn trade, talks resume."
    seg = segment(text)
    labels = ["B-source", "B-cue"] + ["B-content"] + ["I-content"] * (len(seg) - 3)
    lp = _rows_for(seg, labels)
    assert _spans(seg, lp) == [("source", "He"), ("cue", "said"),
                               ("content", "the deal would stand.\nOn trade, talks resume.")]
    got = _spans(seg, lp, paragraph=True)
    assert all("\n" not in t for _, t in got)
    assert ("content", "the deal would stand.") in got


def test_paragraph_rule_lets_a_continuing_quotation_run_on():
    text = "He said: “The deal will stand.\n“And trade talks resume.”"
    seg = segment(text)
    assert quotation_open_at_paragraph_end(seg) == {0: True, 1: False}
    first = 3  # the opening quote mark
    labels = ["B-source", "B-cue", "O", "B-content"] + ["I-content"] * (len(seg) - 4)
    lp = _rows_for(seg, labels)
    got = _spans(seg, lp, paragraph=True, quote_continues=True)
    assert got[-1] == ("content", text[seg.starts[first]:])
    assert all("\n" not in t for _, t in _spans(seg, lp, paragraph=True))  # strict: never
    # closing the quotation before the break takes the exception away
    text2 = "He said: “The deal will stand.”\n“And trade talks resume.”"
    seg2 = segment(text2)
    labels2 = ["B-source", "B-cue", "O", "B-content"] + ["I-content"] * (len(seg2) - 4)
    got2 = _spans(seg2, _rows_for(seg2, labels2), paragraph=True, quote_continues=True)
    assert all("\n" not in t for _, t in got2)


def test_join_cue_keeps_a_cue_in_one_piece():
    text = "Officials would neither confirm nor deny the offer."
    seg = segment(text)
    labels = ["B-source", "B-cue", "I-cue", "I-cue", "B-cue", "I-cue", "B-content", "I-content", "O"]
    lp = _rows_for(seg, labels)
    assert [t for r, t in _spans(seg, lp) if r == "cue"] == ["would neither confirm", "nor deny"]
    assert [t for r, t in _spans(seg, lp, join_cue=True) if r == "cue"] == ["would neither confirm nor deny"]


def test_relative_end_rule_never_ends_content_in_a_relative_pronoun():
    text = "She said it was backed by donors who gave early."
    seg = segment(text)
    labels = ["B-source", "B-cue"] + ["B-content"] + ["I-content"] * 5 + ["O", "O", "O"]
    assert seg.word(7) == "who"
    lp = _rows_for(seg, labels)
    assert _spans(seg, lp)[-1] == ("content", "it was backed by donors who")
    got = _spans(seg, lp, relative_end=True)[-1]
    assert got[0] == "content" and not got[1].endswith("who")
    # also at the very end of the text
    seg2 = segment("She said it was donors who")
    lp2 = _rows_for(seg2, ["B-source", "B-cue", "B-content", "I-content", "I-content", "I-content"])
    assert not _spans(seg2, lp2, relative_end=True)[-1][1].endswith("who")


def test_headline_lines_yield_no_cue():
    text = "Kerry, Lavrov Talks on Syria End Without Deal\nBy Jane Doe\nKerry said talks would go on."
    seg = segment(text)
    flags = headline_words(seg)
    words = [seg.word(i) for i in range(len(seg))]
    assert flags[words.index("Talks")] and flags[words.index("Jane")] and not flags[words.index("said")]
    labels = ["O"] * len(seg)
    labels[words.index("Talks")] = "B-cue"
    labels[words.index("on")] = "I-cue"
    labels[words.index("Kerry", 1)] = "B-source"
    labels[words.index("said")] = "B-cue"
    labels[words.index("said") + 1] = "B-content"
    for i in range(words.index("said") + 2, len(seg) - 1):
        labels[i] = "I-content"
    lp = _rows_for(seg, labels)
    assert ("cue", "Talks on") in _spans(seg, lp)
    assert [t for r, t in _spans(seg, lp, headline_cue=True) if r == "cue"] == ["said"]


def test_body_sentences_are_not_headlines():
    seg = segment("The senator said on Tuesday that the bill would pass easily.\nMr. Smith Said So.")
    flags = headline_words(seg)
    assert not flags[:12].any() and flags[-3:].all()


def test_viterbi_masks_at_the_first_and_past_the_last_word():
    lp = _lp(np.full((2, len(LABELS)), 0.01) + np.eye(len(LABELS))[[LABEL_INDEX["B-cue"], LABEL_INDEX["B-content"]]])
    assert list(viterbi(lp)) == [LABEL_INDEX["B-cue"], LABEL_INDEX["B-content"]]
    first = np.zeros((len(LABELS), len(LABELS)), dtype=bool)
    first[:, LABEL_INDEX["B-cue"]] = True
    last = np.zeros((len(LABELS), len(LABELS)), dtype=bool)
    last[LABEL_INDEX["B-content"], :] = True
    out = viterbi(lp, forbid={0: first, 2: last})
    assert out[0] != LABEL_INDEX["B-cue"] and out[1] != LABEL_INDEX["B-content"]


def test_rules_off_change_nothing_and_unknown_rules_are_refused():
    text = "He said the deal would stand.\nOn trade, talks resume."
    seg = segment(text)
    assert boundary_masks(seg, DecodeRules()) == {}
    assert DecodeRules.from_config({"paragraph": True}).to_config()["paragraph"] is True
    with pytest.raises(ValueError, match="unknown decoding rules"):
        DecodeRules.from_config({"paragraphs": True})
