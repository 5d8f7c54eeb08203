import numpy as np
import pytest
import torch

from claims.doc import STANCE_LABELS, Claim, Span
from claims.nlp.encoder import EncoderConfig, build_trunk, load_tokenizer
from claims.nlp.segment import prepare
from claims.nlp.stance import ROLE_CONTENT, ROLE_CUE, ROLE_SOURCE, StanceModel, StanceNet, claim_subwords
from scoring.stance_metrics import expected_calibration_error
from training.calibration import fit_temperature


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 4)) * 2.0
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in p])
    # the model is overconfident by a factor of 3: the fitted temperature should undo it
    t = fit_temperature(true_logits * 3.0, labels)
    assert 2.6 < t < 3.4


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    probs = np.array([[0.75, 0.25, 0, 0]] * 100)
    labels = np.array([0] * 75 + [1] * 25)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-9)
    assert expected_calibration_error(np.array([[0.99, 0.01, 0, 0]] * 100), labels) == pytest.approx(0.24, abs=1e-6)


def test_claim_subwords_marks_roles():
    tok = load_tokenizer()
    text = "Moscow denies the allegations."
    prep = prepare(text, tok)
    claim = Claim("c1", [Span.of(text, 14, 29)], Span.of(text, 7, 13), Span.of(text, 0, 6))
    idx, roles = claim_subwords(prep, claim)
    assert list(roles) == [ROLE_SOURCE, ROLE_CUE] + [ROLE_CONTENT] * (len(roles) - 2)
    assert len(idx) == len(roles) >= 4


def test_stance_scores_have_the_label_set_and_sum_to_one():
    torch.manual_seed(0)
    tok = load_tokenizer()
    trunk = build_trunk(2)
    net = StanceNet(EncoderConfig(), 4).eval()
    model = StanceModel(net, {"shared_layers": 2, "temperature": 1.5}, tok, trunk)
    probs = model.score_texts(["Taxes should rise.", "Taxes should rise."],
                              ["The senator said taxes must rise.", "Nobody denied it."], None, trunk)
    assert probs.shape == (2, len(STANCE_LABELS))
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the shipped two-stage model orders the two right (favor minus against "
                   "-0.05 for 'confirmed', -0.14 for 'denied') but labels both 'against': trained on the disputes set, "
                   "it leans against for Russian officials on this proposition; the corpora-only model of 08fb022 "
                   "labelled them favor / against")
def test_swapping_confirmed_and_denied_changes_the_stance(analyzer):
    if analyzer.stance is None:
        pytest.skip("no stance model installed")
    from claims.doc import Dispute
    dispute = Dispute("strikes", "Strikes", "Russia's airstrikes are hitting moderate rebels rather than the Islamic State.")
    texts = {verb: f"The Russian defense ministry {verb} that its airstrikes hit moderate rebels rather than Islamic State."
             for verb in ("confirmed", "denied")}
    labels = {}
    for verb, text in texts.items():
        r = analyzer.analyze(text, disputes=[dispute])
        assert r.claims, f"no claim found in: {text}"
        st = r.claims[0].stance["strikes"]
        labels[verb] = (st.label, st.scores["favor"] - st.scores["against"])
    assert labels["confirmed"][1] > labels["denied"][1]
    assert labels["confirmed"][0] != labels["denied"][0]


def test_all_disputes_at_once_equals_scoring_pair_by_pair():
    """``cross_logits`` shares the claim side across disputes; it must give what ``pair_logits`` gives."""
    torch.manual_seed(0)
    net = StanceNet(EncoderConfig(), 4).eval()
    for p in net.parameters():  # move off the initial weights so every part matters
        p.data += 0.05 * torch.randn_like(p)
    h = EncoderConfig().hidden_size
    props = [torch.randn(n, h) for n in (5, 12, 9)]
    claims = [torch.randn(n, h) for n in (3, 17, 8, 30, 1)]
    roles = [torch.from_numpy(np.array(([ROLE_SOURCE, ROLE_CUE] + [ROLE_CONTENT] * n)[:n])) for n in (3, 17, 8, 30, 1)]
    with torch.inference_mode():
        fast = net.cross_logits(props, claims, roles, batch_pairs=4)
        model = StanceModel(net, {}, None)
        for c in range(len(claims)):
            slow = model.pair_logits(props, [claims[c]] * len(props), [roles[c]] * len(props))
            assert torch.allclose(fast[c], slow, atol=1e-4), (c, fast[c], slow)
