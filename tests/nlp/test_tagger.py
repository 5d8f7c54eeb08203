import numpy as np

from claims.nlp.segment import segment
from claims.nlp.tagger import LABEL_INDEX, LABELS, decode, viterbi, word_labels


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
