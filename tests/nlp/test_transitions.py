import numpy as np
import torch

from claims.nlp.tagger import LABEL_INDEX, LABELS, viterbi
from training.transitions import crf_nll, fit, pieces


def _data(n_seq=30, n=12, seed=0):
    """Gold: a cue word is always followed by a one-word content; the emission slightly prefers
    O there, so only a transition score can recover it."""
    rng = np.random.default_rng(seed)
    lps, ys = [], []
    for _ in range(n_seq):
        y = np.zeros(n, dtype=np.int64)
        q = int(rng.integers(0, n - 2))
        y[q] = LABEL_INDEX["B-cue"]
        y[q + 1] = LABEL_INDEX["B-content"]
        p = np.full((n, len(LABELS)), 0.02)
        p[np.arange(n), y] = 0.8
        p[q + 1, LABEL_INDEX["O"]] = 0.85  # the emission alone prefers O after the cue
        lps.append(np.log(p / p.sum(1, keepdims=True)).astype(np.float32))
        ys.append(y)
    return lps, ys


def test_crf_nll_matches_brute_force_on_a_tiny_chain():
    lps, ys = _data(n_seq=1, n=4)
    lp, y, m, f, _ = pieces(lps, ys, 4)
    trans = torch.zeros(len(LABELS), len(LABELS))
    nll = float(crf_nll(trans, lp, y, m, f)) * 4
    from claims.nlp.tagger import _ALLOWED, _START_OK
    import itertools
    scores = []
    for seq in itertools.product(range(len(LABELS)), repeat=4):
        if not _START_OK[seq[0]] or not all(_ALLOWED[a, b] for a, b in zip(seq, seq[1:])):
            continue
        scores.append(sum(lps[0][i, s] for i, s in enumerate(seq)))
    logz = np.logaddexp.reduce(scores)
    gold = sum(lps[0][i, s] for i, s in enumerate(ys[0]))
    assert abs(nll - (logz - gold)) < 1e-3


def test_fitted_transitions_recover_content_after_a_cue():
    lps, ys = _data()
    lp = lps[0]
    y = ys[0]
    q = int(np.nonzero(y == LABEL_INDEX["B-cue"])[0][0])
    assert viterbi(lp)[q + 1] == LABEL_INDEX["O"]  # plain decoding misses it
    trans = fit(lps, ys, piece=8, l2=0.001, steps=40, log=lambda *_: None)
    assert trans[LABEL_INDEX["B-cue"], LABEL_INDEX["B-content"]] > trans[LABEL_INDEX["B-cue"], LABEL_INDEX["O"]]
    test_lps, test_ys = _data(n_seq=5, seed=1)
    assert all((viterbi(a, trans) == b).all() for a, b in zip(test_lps, test_ys))


def test_context_transitions_learn_that_content_stops_at_a_sentence_start():
    """Gold content runs to the end of its sentence and never into the next one; the emissions
    cannot tell (I-content everywhere after the cue), the sentence-start scores can."""
    from claims.nlp.segment import segment
    from claims.nlp.tagger import CONTEXTS, decode, transition_context
    from training.fit import word_labels

    text = "Kerry said the talks went well. The rest followed later."
    seg = segment(text)
    ctx = transition_context(seg)
    assert list(ctx[:2]) == [2, 0] and ctx[[seg.word(i) for i in range(len(seg))].index("The")] == 1
    gold = word_labels(seg, [("source", 0, 5), ("cue", 6, 10), ("content", 11, 30)])
    p = np.full((len(seg), len(LABELS)), 0.02)
    p[np.arange(len(seg)), gold] = 0.8
    after = np.arange(len(seg)) > int(np.nonzero(gold == LABEL_INDEX["B-content"])[0][0])
    p[after & (gold == LABEL_INDEX["O"]), LABEL_INDEX["I-content"]] = 0.81  # emissions run on
    lp = np.log(p / p.sum(1, keepdims=True)).astype(np.float32)
    assert decode(seg, lp)[-1].end == len(text)  # plain decoding runs into the next sentence
    trans = fit([lp] * 20, [gold] * 20, piece=32, l2=0.001, steps=40, log=lambda *_: None,
                contexts=[ctx] * 20, n_contexts=len(CONTEXTS))
    assert trans.shape == (len(CONTEXTS), len(LABELS), len(LABELS))
    spans = decode(seg, lp, trans=trans)
    assert [(s.role, text[s.start:s.end]) for s in spans][-1] == ("content", "the talks went well")
