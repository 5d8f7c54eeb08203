"""Attribution and stance metrics (scoring.metrics, scoring.stance_metrics) on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from claims.nlp.segment import segment
from scoring.metrics import (Counts, DocScores, bootstrap, bootstrap_counts, claim_counts_at_thresholds, claim_form,
                          claim_slice_counts, doc_count_array, exact_counts, match_claims, overlap_counts, prf_array,
                          score_document, summarize)
from scoring.stance_metrics import (bootstrap_stance, reliability, scores_from_confusion, stance_metrics)
from report_fixtures import TEXT_A, TEXT_B, at, claim


def gold_a():
    return [claim(TEXT_A, "Smith", "said", "taxes would fall"),
            claim(TEXT_A, "Smith", "added", "that prices would rise")]


def prf(c: Counts):
    return tuple(round(100 * x, 2) for x in c.prf())


# -- empty predictions ---------------------------------------------------------------------

def test_metrics_empty_predictions_find_nothing():
    d = score_document(segment(TEXT_A), [], gold_a())
    for role, n_gold in (("source", 1), ("cue", 2), ("content", 2)):
        assert d.exact[role] == Counts(0, 0, 0, n_gold)
        assert d.overlap[role] == Counts(0, 0, 0, n_gold)
    assert d.claim == Counts(0, 0, 0, 2)
    s = summarize([d])
    assert s["exact_cue_p"] == s["exact_cue_r"] == s["claim_f"] == 0.0


def test_metrics_undefined_precision_is_not_zero_in_the_report():
    # no predictions: precision is undefined (NaN in the report), recall and F1 are 0
    p, r, f = prf_array(np.array([0, 0, 0, 2]), undefined=np.nan)
    assert np.isnan(p) and r == 0.0 and f == 0.0
    # no gold either: all undefined
    assert np.isnan(prf_array(np.array([0, 0, 0, 0]), undefined=np.nan)).all()
    # the default keeps Counts.prf's zeros
    assert prf_array(np.array([0, 0, 0, 2])).tolist() == [0.0, 0.0, 0.0]


def test_metrics_empty_gold_with_predictions():
    d = score_document(segment(TEXT_A), gold_a(), [])
    assert d.claim == Counts(0, 2, 0, 0)
    assert d.exact["cue"] == Counts(0, 2, 0, 0)


# -- a source shared by two claims -----------------------------------------------------------

def test_metrics_shared_source_counts_once_per_role_and_twice_per_claim():
    seg = segment(TEXT_A)
    # the model finds only the first claim: its source is the shared source, so source is perfect
    d = score_document(seg, gold_a()[:1], gold_a())
    assert d.exact["source"] == Counts(1, 1, 1, 1)
    assert prf(d.exact["cue"]) == (100.0, 50.0, 66.67)
    assert prf(d.exact["content"]) == (100.0, 50.0, 66.67)
    assert prf(d.claim) == (100.0, 50.0, 66.67)
    # both claims, the same source span twice: still one source span, two claims
    d = score_document(seg, gold_a(), gold_a())
    assert d.exact["source"] == Counts(1, 1, 1, 1)
    assert d.claim == Counts(2, 2, 2, 2)


# -- discontinuous content -------------------------------------------------------------------

def gold_b():
    return [claim(TEXT_B, "Jones", "said", "The economy", "is doing fine")]


def test_metrics_discontinuous_content_one_fragment_found():
    seg = segment(TEXT_B)
    pred = [claim(TEXT_B, "Jones", "said", "The economy")]
    d = score_document(seg, pred, gold_b())
    # each fragment is one gold span
    assert d.exact["content"] == Counts(1, 1, 1, 2)
    assert prf(d.exact["content"]) == (100.0, 50.0, 66.67)
    # 11 of the 24 gold content characters: less than half, so the claim does not match
    assert d.claim == Counts(0, 1, 0, 1)


def test_metrics_discontinuous_content_both_fragments():
    d = score_document(segment(TEXT_B), gold_b(), gold_b())
    assert d.exact["content"] == Counts(2, 2, 2, 2)
    assert d.claim == Counts(1, 1, 1, 1)


def test_metrics_span_over_both_fragments_overlap_and_claim():
    # one predicted span from "The" to "fine" (40 characters) covers both fragments and the gap
    start, end = at(TEXT_B, "The economy")[0], at(TEXT_B, "is doing fine")[1]
    assert end - start == 40
    pred = [{"source": [at(TEXT_B, "Jones")], "cue": [at(TEXT_B, "said")], "content": [(start, end)]}]
    gold = gold_b()
    # overlap: no gold fragment holds half of the prediction (13 < 20); both fragments lie inside it
    assert overlap_counts(pred[0]["content"], gold[0]["content"]) == Counts(0, 1, 2, 2)
    # exact: the word range matches neither fragment
    assert exact_counts(segment(TEXT_B), pred[0]["content"], gold[0]["content"]) == Counts(0, 1, 0, 2)
    # claim: all 24 gold characters are covered and the cues overlap
    assert match_claims(pred, gold) == [(0, 0)]


def test_metrics_claim_needs_overlapping_cues():
    pred = [claim(TEXT_A, "Smith", "added", "taxes would fall")]
    assert match_claims(pred, gold_a()[:1]) == []
    assert match_claims(pred, gold_a()[:1] + gold_a()[1:]) == []


# -- form, slices, thresholds ----------------------------------------------------------------

@pytest.mark.parametrize("text, content, form", [
    ('"We will win," he said.', '"We will win,"', "direct"),
    ('"We will win," he said.', "We will win", "direct"),
    ("''We will win,'' he said.", "We will win", "direct"),
    ('He called it "a disaster" for the party.', 'it "a disaster" for the party', "mixed"),
    ("He said taxes would fall.", "taxes would fall", "indirect"),
])
def test_metrics_gold_form_from_quotation_marks(text, content, form):
    assert claim_form(segment(text), [at(text, content)]) == form


def test_metrics_slice_counts_attribute_matches_to_both_slices():
    gold = gold_a()
    pred = [gold[0], claim(TEXT_A, None, "and", "prices would rise")]   # second: wrong cue, no match
    out = claim_slice_counts(pred, gold, ["direct", "indirect"], ["mixed", "indirect"])
    assert out["direct"] == Counts(1, 1, 0, 0)
    assert out["indirect"] == Counts(0, 1, 0, 1)
    assert out["mixed"] == Counts(0, 0, 1, 1)


def test_metrics_threshold_counts():
    gold = gold_a()
    pred = [dict(gold[0], confidence=0.9), dict(gold[1], confidence=0.3),
            claim(TEXT_A, None, "and", "would", confidence=0.6)]
    assert claim_counts_at_thresholds(pred, gold, [0.0, 0.5, 0.95]) == [
        Counts(2, 3, 2, 2), Counts(1, 2, 1, 2), Counts(0, 0, 0, 2)]


def test_metrics_threshold_redoes_the_matching():
    gold = gold_a()[:1]
    wide = claim(TEXT_A, "Smith", "said", "taxes would fall", confidence=0.4)     # best overlap
    narrow = claim(TEXT_A, "Smith", "said", "taxes would", confidence=0.8)        # 11 of 16 chars
    # at 0 the wide one takes the gold claim and the narrow one is a false positive; at 0.5 the
    # narrow one is all that is left, and it matches
    assert claim_counts_at_thresholds([wide, narrow], gold, [0.0, 0.5]) == [Counts(1, 2, 1, 1), Counts(1, 1, 1, 1)]


# -- bootstrap -------------------------------------------------------------------------------

def _doc(tp, n_p, n_g) -> DocScores:
    c = Counts(tp, n_p, tp, n_g)
    return DocScores(exact={r: c for r in ("source", "cue", "content")},
                     overlap={r: c for r in ("source", "cue", "content")}, claim=c)


def test_metrics_bootstrap_matches_a_plain_resampling_loop():
    docs = [_doc(3, 4, 5), _doc(1, 3, 2), _doc(5, 5, 6), _doc(0, 2, 3), _doc(2, 2, 2)]
    got = bootstrap(docs, n=300, seed=7)
    rng = np.random.default_rng(7)
    idx = rng.integers(0, len(docs), (300, len(docs)))
    vals = [summarize([docs[i] for i in row])["claim_f"] for row in idx]
    assert got["claim_f"] == pytest.approx((np.percentile(vals, 2.5), np.percentile(vals, 97.5)))


def test_metrics_bootstrap_is_seeded_and_collapses_on_identical_documents():
    docs = [_doc(3, 4, 5), _doc(1, 3, 2), _doc(5, 5, 6), _doc(0, 2, 3)]
    assert bootstrap(docs, n=200, seed=1) == bootstrap(docs, n=200, seed=1)
    assert bootstrap(docs, n=200, seed=1) != bootstrap(docs, n=200, seed=2)
    same = bootstrap([_doc(3, 4, 5)] * 4, n=100)
    point = summarize([_doc(3, 4, 5)])["claim_p"]
    assert same["claim_p"] == pytest.approx((point, point))


def test_metrics_group_bootstrap_resamples_whole_groups():
    docs = [_doc(3, 4, 5), _doc(1, 3, 2), _doc(5, 5, 6)]
    _, arr = doc_count_array(docs)
    # one group per document is the plain bootstrap
    lo1, hi1 = bootstrap_counts(arr, 200, 3, groups=["a", "b", "c"])
    lo2, hi2 = bootstrap_counts(arr, 200, 3)
    assert np.allclose(lo1, lo2) and np.allclose(hi1, hi2)
    # one group for everything: every resample is the whole set, so the interval is the point
    lo, hi = bootstrap_counts(arr, 200, 3, groups=["g", "g", "g"])
    point = prf_array(arr.sum(0))
    assert np.allclose(lo, point) and np.allclose(hi, point)


# -- stance ----------------------------------------------------------------------------------

GOLD = ["favor", "favor", "against", "neutral", "unrelated"]
PRED = ["favor", "against", "against", "favor", "unrelated"]


def test_stance_metrics_hand_computed():
    m = stance_metrics(GOLD, PRED)
    # favor P 1/2 R 1/2; against P 1/2 R 1; neutral 0
    assert m["f1"]["favor"] == pytest.approx(50.0)
    assert m["f1"]["against"] == pytest.approx(200 / 3)
    assert m["macro_f1"] == pytest.approx((50 + 200 / 3 + 0) / 3)
    assert m["accuracy"] == pytest.approx(60.0)
    # FNC: 1 + .25 + 1 + .25 + .25 of a best 1 + 1 + 1 + 1 + .25
    assert m["fnc_score"] == pytest.approx(100 * 2.75 / 4.25)
    assert m["confusion"][0] == [1, 1, 0, 0]


def test_stance_scores_from_confusion_agree_with_stance_metrics():
    rng = np.random.default_rng(0)
    labels = ["favor", "against", "neutral", "unrelated"]
    gold = [labels[i] for i in rng.integers(0, 4, 200)]
    pred = [labels[i] for i in rng.integers(0, 4, 200)]
    m = stance_metrics(gold, pred)
    v = scores_from_confusion(np.array(m["confusion"]))
    for k in ("macro_f1", "accuracy", "fnc_score"):
        assert float(v[k]) == pytest.approx(m[k])


def test_stance_bootstrap_of_a_perfect_model_is_a_point():
    ci = bootstrap_stance(GOLD, GOLD, n=100)
    assert ci["macro_f1"] == (100.0, 100.0) and ci["accuracy"] == (100.0, 100.0)
    wrong = bootstrap_stance(GOLD, PRED, groups=["t1", "t1", "t2", "t2", "t3"], n=200, seed=5)
    assert wrong == bootstrap_stance(GOLD, PRED, groups=["t1", "t1", "t2", "t2", "t3"], n=200, seed=5)
    assert wrong["accuracy"][0] <= 60.0 <= wrong["accuracy"][1]


def test_stance_reliability_and_ece_hand_computed():
    probs = np.array([[0.9, 0.1, 0, 0], [0.6, 0.4, 0, 0]])
    bins, ece = reliability(probs, np.array([0, 1]))
    # 0.9 is right, 0.6 is wrong: (|1 - 0.9| + |0 - 0.6|) / 2
    assert ece == pytest.approx(0.35)
    filled = [b for b in bins if b["n"]]
    assert [(b["confidence"], b["accuracy"]) for b in filled] == [(0.6, 0.0), (0.9, 1.0)]


def test_stance_reliability_agrees_with_the_models_ece():
    from scoring.stance_metrics import expected_calibration_error
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), 300)
    labels = rng.integers(0, 4, 300)
    assert reliability(probs, labels)[1] == pytest.approx(expected_calibration_error(probs, labels))


def test_stance_bootstrap_matches_a_plain_resampling_loop():
    rng = np.random.default_rng(2)
    labels = ["favor", "against", "neutral"]
    gold = [labels[i] for i in rng.integers(0, 3, 40)]
    pred = [g if rng.random() < 0.6 else labels[rng.integers(0, 3)] for g in gold]
    got = bootstrap_stance(gold, pred, n=300, seed=4)
    idx = np.random.default_rng(4).integers(0, len(gold), (300, len(gold)))
    vals = [stance_metrics([gold[i] for i in row], [pred[i] for i in row])["macro_f1"] for row in idx]
    assert got["macro_f1"] == pytest.approx((np.percentile(vals, 2.5), np.percentile(vals, 97.5)))


def test_stance_unrelated_read_as_neutral_only_where_the_gold_has_no_unrelated():
    gold = ["favor", "against", "neutral", "neutral"]
    pred = ["favor", "against", "unrelated", "neutral"]
    m = stance_metrics(gold, pred)
    # plain: neutral P 1/1, R 1/2 -> F1 2/3; merged: all right
    assert m["macro_f1"] == pytest.approx(100 * (1 + 1 + 2 / 3) / 3)
    assert m["macro_f1_unrelated_as_neutral"] == pytest.approx(100.0)
    assert "macro_f1_unrelated_as_neutral" not in stance_metrics(gold + ["unrelated"], pred + ["unrelated"])
