"""The spaCy component: `nlp.add_pipe("claims")` on a blank English pipeline (no model download)
sets doc._.claims with token spans for source, cue and content, the speaker and the stances."""

from __future__ import annotations

import pytest

spacy = pytest.importorskip("spacy", reason="spaCy is not installed (pip install 'claims[spacy]')")

from conftest import ROOT, SEED_TEXT  # noqa: E402

from claims.doc import STANCE_LABELS  # noqa: E402


@pytest.fixture(scope="module")
def nlp():
    import claims.spacy_component  # noqa: F401  registers the factory (an installed package: entry point)
    nlp = spacy.blank("en")
    nlp.add_pipe("claims", config={"disputes": str(ROOT / "seeds" / "disputes.toml")})
    return nlp


@pytest.mark.slow
def test_spacy_component_sets_claims_as_token_spans(nlp):
    from claims import Analyzer, disputes
    text = SEED_TEXT.read_text(encoding="utf-8")
    doc = nlp(text)
    assert nlp.pipe_names == ["claims"]
    expected = Analyzer(disputes=disputes.load(ROOT / "seeds" / "disputes.toml")).analyze(text).claims
    assert doc._.claims_error is None
    assert len(doc._.claims) == len(expected) > 0
    dispute_ids = {d.id for d in disputes.load(ROOT / "seeds" / "disputes.toml")}
    for c, e in zip(doc._.claims, expected):
        assert c.id == e.id and c.claim.to_dict() == e.to_dict()
        for span, char in [(c.source, e.source), (c.cue, e.cue), *zip(c.content, e.content)]:
            assert (span is None) == (char is None)
            if span is None:
                continue
            assert span.doc is doc
            # "expand": the span covers every token the characters touch, and no more
            assert span.start_char <= char.start < span.end_char and span.start_char < char.end <= span.end_char
            assert doc[span.start].idx < char.end and doc[span.end - 1].idx + len(doc[span.end - 1]) > char.start
            assert span.label_ in ("SOURCE", "CUE", "CONTENT")
        assert c.cue is not None and c.cue.label_ == "CUE" and c.content and c.content[0].label_ == "CONTENT"
        assert (c.speaker is None) == (e.speaker is None)
        if c.speaker is not None:
            assert c.speaker.name == e.speaker.name
        assert set(c.stances) == dispute_ids and set(c.stances.values()) <= set(STANCE_LABELS)
        assert c.span.start <= min(s.start for s in (c.source, c.cue, *c.content) if s is not None)
    assert any(c.source is not None and c.speaker is not None for c in doc._.claims)
    assert len(doc.spans["claims"]) == sum(1 + (c.source is not None) + len(c.content) for c in doc._.claims)

    # nlp.pipe gives the same claims, in order, and an unusable text gets its reason, not an exception
    docs = list(nlp.pipe([text, "   ", "No quotes here at all."]))
    assert [c.claim.to_dict() for c in docs[0]._.claims] == [c.claim.to_dict() for c in doc._.claims]
    assert docs[1]._.claims == [] and docs[1]._.claims_error
    assert docs[2]._.claims_error is None and docs[2]._.claims == []


def test_spacy_char_offsets_expand_to_tokens():
    """Offsets that cut a token snap outwards to whole tokens."""
    from claims.doc import ArticleResult, Claim, Span, Speaker, Stance
    from claims.spacy_component import doc_claims
    doc = spacy.blank("en")("Ex-minister Smith said: \u201cIt failed.\u201d")
    text = doc.text
    s = text.index("minister")
    claim = Claim("c1", content=[Span.of(text, text.index("It"), text.index("failed") + 3)],
                  cue=Span.of(text, text.index("said"), text.index("said") + 4),
                  source=Span.of(text, s + 3, text.index("Smith") + 5), speaker=Speaker("Smith", "person"),
                  stance={"d": Stance("against", {k: 0.25 for k in STANCE_LABELS})})
    [c] = doc_claims(doc, ArticleResult("x", text, [claim]))
    assert c.source.text == "minister Smith" and c.source.start_char == s      # "nister Smith" expanded
    assert c.content[0].text == "It failed"                                      # "It fai" expanded
    assert c.cue.text == "said" and c.stances == {"d": "against"} and c.speaker.name == "Smith"
