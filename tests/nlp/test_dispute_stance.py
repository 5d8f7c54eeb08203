"""Stance toward disputes: context role, abstention, dispute metrics, and a tiny training run."""

import json
import random

import numpy as np
import pytest

from claims.doc import STANCE_LABELS, Claim, Span
from claims.nlp.encoder import load_tokenizer
from claims.nlp.segment import prepare
from claims.nlp.stance import ROLE_CONTENT, ROLE_CONTEXT, ROLE_CUE, ROLE_SOURCE, claim_subwords, decide
from scoring.dispute_metrics import Pair, fit_side_threshold, related_prf, sided_prf, summary


def test_context_role_marks_the_sentence_before_the_claim():
    tok = load_tokenizer()
    text = "The report says Acme hid the losses. Acme denies the allegations."
    prep = prepare(text, tok)
    s = text.index("Acme denies")
    claim = Claim("c1", [Span.of(text, s + 12, len(text) - 1)], Span.of(text, s + 5, s + 11), Span.of(text, s, s + 4))
    idx, roles = claim_subwords(prep, claim, context_tokens=48)
    assert roles[0] == ROLE_SOURCE and ROLE_CUE in roles
    ctx = [tok.id_to_token(int(prep.sub.ids[i])) for i, r in zip(idx, roles) if r == ROLE_CONTEXT]
    assert "losses" in ctx and "denies" not in ctx      # the sentence before, never the claim's own words
    assert (roles == ROLE_CONTENT).sum() >= 2
    # without context nothing but the claim
    _, bare = claim_subwords(prep, claim)
    assert ROLE_CONTEXT not in bare
    # a short budget keeps the subwords nearest the claim
    idx3, roles3 = claim_subwords(prep, claim, context_tokens=3)
    assert (roles3 == ROLE_CONTEXT).sum() == 3


def test_decide_abstains_from_weak_sides():
    p = np.array([[0.5, 0.1, 0.3, 0.1],      # favor 0.5
                  [0.1, 0.35, 0.2, 0.35],    # against 0.35 ties unrelated: argmax is against
                  [0.1, 0.1, 0.2, 0.6]])
    assert [STANCE_LABELS[i] for i in decide(p)] == ["favor", "against", "unrelated"]
    assert [STANCE_LABELS[i] for i in decide(p, 0.4)] == ["favor", "unrelated", "unrelated"]
    assert [STANCE_LABELS[i] for i in decide(p, 0.6)] == ["neutral", "unrelated", "unrelated"]


def _pairs(gold, pred, alt=None, catalog=False):
    alt = alt or [None] * len(gold)
    return [Pair("a", "d", catalog, g, p, a) for g, p, a in zip(gold, pred, alt)]


def test_sided_and_related_figures():
    pairs = _pairs(["favor", "against", "neutral", "unrelated", "favor"],
                   ["favor", "favor", "against", "unrelated", "unrelated"])
    m = sided_prf(pairs)
    assert (m["tp"], m["n_pred"], m["n_gold"]) == (1, 3, 3)
    assert m["p"] == pytest.approx(100 / 3) and m["f1"] == pytest.approx(100 / 3)
    r = related_prf(pairs)
    assert (r["tp"], r["n_pred"], r["n_gold"]) == (3, 3, 4)


def test_alt_accepted_counts_the_alternative_reading():
    pairs = _pairs(["neutral", "favor"], ["against", "favor"], alt=["against", None])
    assert sided_prf(pairs)["p"] == 50.0
    assert sided_prf(pairs, accept_alt=True)["p"] == 100.0
    assert sided_prf(pairs, accept_alt=True)["r"] == 100.0


def test_summary_separates_custom_and_catalog():
    pairs = _pairs(["favor"], ["favor"], catalog=True) + _pairs(["against"], ["favor"])
    s = summary(pairs)
    assert s["catalog"]["sided"]["f1"] == 100.0 and s["custom"]["sided"]["f1"] == 0.0
    assert s["all"]["pairs"] == 2


def test_side_threshold_reaches_the_precision_asked_for():
    rng = np.random.default_rng(0)
    gold, probs = [], []
    for _ in range(400):
        right = rng.random() < 0.5
        conf = rng.uniform(0.6, 0.95) if right else rng.uniform(0.3, 0.6)
        gold.append("favor" if right else "unrelated")
        rest = (1 - conf) / 3
        probs.append([conf, rest, rest, rest])
    t, m = fit_side_threshold(np.array(probs), gold, min_precision=90.0)
    assert m["p"] >= 90.0 and 0.55 <= t <= 0.65
    # silence does not pass for precision: a threshold above every probability is never chosen
    t_hi, m_hi = fit_side_threshold(np.array(probs), gold, min_precision=99.9)
    assert m_hi["r"] >= 10.0 and t_hi < 0.95
    pred = [STANCE_LABELS[i] for i in decide(np.array(probs), t)]
    assert sided_prf(_pairs(gold, pred))["p"] >= 90.0


def test_negated_proposition_reads_as_its_negation():
    from training.dispute_stance import SWAP, negated
    rng = random.Random(0)
    for _ in range(10):
        n = negated("The tax cut will raise wages.", rng)
        assert n != "The tax cut will raise wages." and "tax cut will raise wages" in n.lower()
        assert any(w in n.lower() for w in ("not", "false", "wrong"))
    assert SWAP["favor"] == "against" and SWAP["neutral"] == "neutral"


def _tiny_split(path, n_articles=2):
    text = ("The mayor said the new bridge will cut traffic. Critics denied that the bridge will help anyone.\n"
            "The council voted on Monday. A spokesman said the budget is balanced.")
    s1, s2 = text.index("the new bridge"), text.index("the bridge will help")
    rows = []
    for k in range(n_articles):
        rows.append({"id": f"t{k}", "text": text, "disputes": [
            {"id": "bridge", "title": "Bridge", "proposition": "The new bridge will reduce traffic.", "catalog": True},
            {"id": f"budget-{k}", "title": "Budget", "proposition": "The city budget is balanced.", "catalog": False}],
            "attributions": [
                {"id": "a1", "source": [[0, 9]], "cue": [[10, 14]], "content": [[s1, text.index(".")]],
                 "speaker": "mayor", "stance": {"bridge": "favor", f"budget-{k}": "unrelated"}},
                {"id": "a2", "source": [[text.index("Critics"), text.index("Critics") + 7]],
                 "cue": [[text.index("denied"), text.index("denied") + 6]],
                 "content": [[s2, text.index("anyone") + 6]],
                 "speaker": "critics", "stance": {"bridge": "against", f"budget-{k}": "unrelated"}}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.slow
def test_training_runs_checkpoints_and_resumes(tmp_path):
    from training.dispute_stance import main
    data = tmp_path / "data"
    (data / "disputes").mkdir(parents=True)
    _tiny_split(data / "disputes" / "train.jsonl")
    _tiny_split(data / "disputes" / "dev.jsonl")
    out = tmp_path / "run"
    args = ["--data", str(data), "--out", str(out), "--init", "", "--epochs", "1", "--articles-per-step", "1"]
    assert main(args) == 0
    ck = out / "checkpoint.pt"
    assert ck.exists()
    assert main(["--data", str(data), "--out", str(out), "--init", "", "--epochs", "2", "--resume"]) == 0
    import torch
    assert torch.load(ck, weights_only=False)["epoch"] == 2
    config = json.loads((out / "config.json").read_text())
    assert config["roles"] == 5 and config["context_tokens"] == 48 and 0.0 <= config["side_threshold"] < 1.0
    assert (out / "README.md").read_text().startswith("# claims stance model")


def test_claim_in_context_reads_the_sentence_before_and_joins_spans_in_order():
    from claims.nlp.polarity import claim_in_context
    from claims.nlp.segment import segment
    text = "The report says Acme hid the losses. Acme denies the allegations, a spokesman said."
    s = text.index("Acme denies")
    claim = Claim("c", [Span.of(text, s + 12, s + 27)], Span.of(text, s + 5, s + 11), Span.of(text, s, s + 4))
    ctx, joined = claim_in_context(text, segment(text).sentence_spans, claim)
    assert ctx == "The report says Acme hid the losses."
    assert joined == "Acme denies the allegations"


def test_second_stage_shares_out_only_the_related_mass():
    from claims.nlp.polarity import combine
    first = np.array([[0.3, 0.1, 0.2, 0.4], [0.05, 0.05, 0.0, 0.9]])
    pol = np.array([[0.1, 0.8, 0.1], [1.0, 0.0, 0.0]])
    out = combine(first, pol)
    assert np.allclose(out.sum(-1), 1.0)
    assert np.allclose(out[:, 3], first[:, 3])
    assert np.allclose(out[0, :3], 0.6 * pol[0])


def test_a_four_way_second_stage_mixes_its_unrelated_with_the_first_stages():
    from claims.nlp.polarity import combine
    first = np.array([[0.3, 0.1, 0.2, 0.4]])
    pol = np.array([[0.4, 0.2, 0.2, 0.2]])
    out = combine(first, pol, unrelated_weight=0.5)
    assert out[0, 3] == pytest.approx(0.3)   # 0.5 * 0.4 + 0.5 * 0.2
    assert np.allclose(out[0, :3], 0.7 * np.array([0.5, 0.25, 0.25]))
    assert np.allclose(combine(first, pol, unrelated_weight=1.0)[0, 3], 0.4)


def test_negated_reading_is_taken_only_where_a_side_may_be_given():
    from claims.nlp.encoder import EncoderConfig
    from claims.nlp.polarity import REREAD_AT, PolarityModel, PolarityNet

    pol = PolarityModel(PolarityNet(EncoderConfig(), 4).eval(), {"shared_layers": 2, "negation_tta": True}, None)
    # plain reading: pair 0 strongly favor, pair 1 weak; negated reading: favor of the negation
    readings = {"p": [0.8, 0.1, 0.1], "q": [0.2, 0.2, 0.6], "It is not true that p": [0.6, 0.3, 0.1]}
    seen = []
    pol._probs = lambda props, ctx, claims, bs: (seen.append(list(props)),
                                                 np.array([readings[p] for p in props], dtype=np.float32))[1]
    out = pol.probs(["p", "q"], ["", ""], ["a", "b"], related=np.array([1.0, 1.0]))
    assert seen == [["p", "q"], ["It is not true that p"]]   # 0.2 < REREAD_AT: q is not read again
    assert np.allclose(out[0], [(0.8 + 0.3) / 2, (0.1 + 0.6) / 2, 0.1])
    assert np.allclose(out[1], readings["q"])
    seen.clear()
    out = pol.probs(["p"], [""], ["a"], related=np.array([REREAD_AT / 0.9]))   # 0.8 x related < REREAD_AT
    assert seen == [["p"]] and np.allclose(out[0], readings["p"])


def test_encode_pairs_puts_proposition_context_and_claim_in_order():
    from claims.nlp.polarity import encode_pairs
    tok = load_tokenizer()
    ids = encode_pairs(tok, ["taxes rise"], ["earlier words"], ["she denied it"])
    toks = [tok.id_to_token(int(i)) for i in ids[0] if int(i)]
    assert toks == ["[CLS]", "taxes", "rise", "[SEP]", "earlier", "words", "[SEP]", "she", "denied", "it", "[SEP]"]


def test_second_stage_reads_only_pairs_over_the_gate():
    import torch
    from claims.doc import Dispute
    from claims.nlp.encoder import EncoderConfig
    from claims.nlp.polarity import PolarityModel, PolarityNet
    from claims.nlp.segment import segment
    from claims.nlp.stance import StanceModel, StanceNet

    cfg, tok = EncoderConfig(), load_tokenizer()
    pol = PolarityModel(PolarityNet(cfg, 4).eval(), {"shared_layers": 2, "gate": 0.5, "side_threshold": 0.0}, tok)
    seen = []
    pol.probs = lambda props, ctx, claims, **kw: (seen.append(list(props)), np.array([[0.0, 1.0, 0.0]] * len(props)))[1]
    model = StanceModel(StanceNet(cfg, 4, roles=5).eval(), {"shared_layers": 2}, tok, polarity=pol)
    # first stage: dispute "a" related (unrelated 0.1), dispute "b" unrelated (0.9)
    model.net.cross_logits = lambda *a, **k: torch.log(torch.tensor([[[0.6, 0.1, 0.2, 0.1], [0.05, 0.03, 0.02, 0.9]]]))
    text = "Officials said the plan works."
    claim = Claim("c", [Span.of(text, 19, 29)], Span.of(text, 10, 14), Span.of(text, 0, 9))
    disputes = [Dispute("a", "A", "The plan works."), Dispute("b", "B", "Cats are mammals.")]
    model._score_pairs([claim], [torch.zeros(3, 384)], [torch.ones(3, dtype=torch.long)], [None, None], disputes, 64,
                       [(text, segment(text).sentence_spans)])
    assert seen == [["The plan works."]]
    assert claim.stance["a"].label == "against" and claim.stance["a"].scores["against"] == pytest.approx(0.9)
    assert claim.stance["b"].label == "unrelated" and claim.stance["b"].scores["unrelated"] == pytest.approx(0.9)


def test_polarity_model_sharing_fewer_layers_reads_a_prefix_of_the_trunk(tmp_path):
    import torch
    from safetensors.torch import save_file
    from claims.errors import ModelError
    from claims.nlp.encoder import EncoderConfig, Trunk, run_layers
    from claims.nlp.polarity import PolarityModel, PolarityNet

    cfg = EncoderConfig(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=16)
    torch.manual_seed(0)
    trunk = Trunk(cfg, 2).eval()
    ids = torch.tensor([[1, 5, 7, 2, 0]])
    prefix = trunk.prefix(1)
    with torch.no_grad():
        want = run_layers(trunk.model.encoder.layer[:1], trunk.model.embeddings(input_ids=ids), ids, trunk.pad_id)
        assert torch.allclose(prefix(ids), want)
        assert not torch.allclose(prefix(ids), trunk(ids))
    assert prefix.embeddings is trunk.model.embeddings and trunk.n_layers == 2   # shared, not copied
    net = PolarityNet(cfg, 3)   # shares no layer: all three its own
    save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "polarity.safetensors"))
    (tmp_path / "polarity.json").write_text(json.dumps({"shared_layers": 0}))
    pol = PolarityModel.load(tmp_path, cfg, None, trunk)
    assert pol.trunk.n_layers == 0 and pol.trunk.embeddings is trunk.model.embeddings
    (tmp_path / "polarity.json").write_text(json.dumps({"shared_layers": 3}))
    with pytest.raises(ModelError, match="needs 3 shared layers"):
        PolarityModel.load(tmp_path, cfg, None, trunk)


def test_corpus_pairs_join_training_drawn_afresh_each_epoch(tmp_path):
    from training.polarity import Config, epoch_pairs, load_corpus_pairs

    folder = tmp_path / "stance" / "perspectrum"
    folder.mkdir(parents=True)
    rows = [{"id": f"p{i}", "target": f"T{i}", "text": f"text {i}", "label": lab}
            for i, lab in enumerate(["favor", "against", "neutral", "unrelated"] * 5)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = Config(data=str(tmp_path), corpora="perspectrum", corpora_pairs=6)
    corpus = load_corpus_pairs(cfg)
    assert len(corpus) == 15 and {p["label"] for p in corpus} == {"favor", "against", "neutral"}
    assert corpus[0]["prop"] == "T0" and corpus[0]["claim"] == "text 0" and corpus[0]["context"] == ""
    base = [{"prop": "P", "context": "", "claim": "c", "label": "favor", "catalog": False}]
    e0, e1 = epoch_pairs(base, corpus, cfg, 0), epoch_pairs(base, corpus, cfg, 1)
    assert len(e0) == len(e1) == 7 and e0[0] is base[0]
    assert e0 == epoch_pairs(base, corpus, cfg, 0) and e0[1:] != e1[1:]
    assert epoch_pairs(base, [], cfg, 0) == base
    with pytest.raises(SystemExit, match="not found"):
        load_corpus_pairs(Config(data=str(tmp_path), corpora="arc"))
