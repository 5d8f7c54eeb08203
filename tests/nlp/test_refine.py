import numpy as np
import pytest

from claims.nlp.segment import segment
from claims.nlp.tagger import (LABEL_INDEX, LABELS, N_BOUNDARY_FEATURES, REFINE_WINDOW, BoundaryRefiner,
                           boundary_candidates, decode)
from training.refine import examples, fit_side

TEXTS = ["Kerry said the talks went well. Then he left.",
         "Officials said the deal would stand. Others disagreed.",
         "She said that taxes must rise. Nobody listened.",
         "Aides said the vote was close. The count went on."]


def _case(text):
    """Emissions that run the content over the full stop; gold content ends before it."""
    seg = segment(text)
    words = [seg.word(i) for i in range(len(seg))]
    dot = words.index(".")
    labels = ["B-source", "B-cue", "B-content"] + ["I-content"] * (dot - 2) + ["O"] * (len(seg) - dot - 1)
    p = np.full((len(seg), len(LABELS)), 0.02)
    for i, l in enumerate(labels):
        p[i, LABEL_INDEX[l]] = 0.8
    lp = np.log(p / p.sum(1, keepdims=True))
    gold = {(2, dot - 1)}
    return seg, lp, gold, dot


def test_refiner_learns_to_leave_the_full_stop_out():
    exs = []
    for t in TEXTS[:3]:
        seg, lp, gold, _ = _case(t)
        exs += examples(seg, lp, decode(seg, lp), gold, "end")
    assert exs and all(X.shape[1] == N_BOUNDARY_FEATURES for X, _ in exs)
    w_end = fit_side(exs, l2=0.001)
    ref = BoundaryRefiner(np.zeros(N_BOUNDARY_FEATURES), w_end)
    seg, lp, gold, dot = _case(TEXTS[3])  # not seen in fitting
    spans = decode(seg, lp)
    content = [s for s in spans if s.role == "content"][0]
    assert content.last == dot  # decoded with the full stop
    refined = [s for s in ref.refine(seg, lp, spans) if s.role == "content"][0]
    assert (refined.first, refined.last) == next(iter(gold))
    assert seg.text[refined.start:refined.end] == "the vote was close"
    # zero weights: ties go to the first candidate, which is never past the decoded span's other side
    same = BoundaryRefiner(np.zeros(N_BOUNDARY_FEATURES), np.zeros(N_BOUNDARY_FEATURES)).refine(seg, lp, spans)
    assert all(s.first <= s.last for s in same)


def test_candidates_stay_between_neighbours_and_in_the_paragraph():
    seg = segment("He said the plan works.\nNext line here.")
    from claims.nlp.tagger import TaggedSpan
    s = TaggedSpan("content", 2, 4, *seg.char_span(2, 4), 0.9)
    ends = boundary_candidates(seg, s, "end", 2, len(seg) - 1)
    assert max(ends) == 5 and min(ends) == 2  # the line break stops it; never before the start
    starts = boundary_candidates(seg, s, "start", 2, len(seg) - 1)
    assert min(starts) == 2 and max(starts) == 4  # the cue at word 1 is a neighbour


def test_refiner_round_trips_and_refuses_a_wrong_shape():
    r = BoundaryRefiner(np.arange(N_BOUNDARY_FEATURES) / 10, -np.arange(N_BOUNDARY_FEATURES) / 10)
    back = BoundaryRefiner.from_dict(r.to_dict())
    assert np.allclose(back.start, r.start) and np.allclose(back.end, r.end)
    with pytest.raises(ValueError, match="does not fit"):
        BoundaryRefiner.from_dict({"window": REFINE_WINDOW + 1, "start": list(r.start), "end": list(r.end)})
