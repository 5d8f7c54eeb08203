from training.fit import fit_linker, gold_tagged
from claims.nlp.segment import segment
from claims.nlp.tagger import TaggedSpan


def _spans(seg, text, items):
    out = []
    for role, phrase, occurrence in items:
        start = -1
        for _ in range(occurrence + 1):
            start = text.index(phrase, start + 1)
        a, b = seg.word_range(start, start + len(phrase))
        out.append(TaggedSpan(role, a, b, start, start + len(phrase), 0.95))
    return out


TRAIN_TEXTS = [
    ("Smith said the plan failed.", [("source", "Smith", 0), ("cue", "said", 0), ("content", "the plan failed", 0)]),
    ("“We will win,” Jones said.", [("content", "We will win,", 0), ("source", "Jones", 0), ("cue", "said", 0)]),
    ("The mayor said taxes rise and added that schools close.",
     [("source", "The mayor", 0), ("cue", "said", 0), ("content", "taxes rise", 0), ("cue", "added", 0),
      ("content", "that schools close", 0)]),
    ("“Prices,” she said, “will fall.”",
     [("content", "Prices,", 0), ("source", "she", 0), ("cue", "said", 0), ("content", "will fall.", 0)]),
    ("It is reported that the deal collapsed.", [("cue", "is reported", 0), ("content", "that the deal collapsed", 0)]),
    ("Smith said taxes rise, but Jones said they fall.",
     [("source", "Smith", 0), ("cue", "said", 0), ("content", "taxes rise", 0), ("source", "Jones", 0),
      ("cue", "said", 1), ("content", "they fall", 0)]),
]


def _attributions(text, items):
    """Gold attributions (PolNeAR format) from (role, phrase) items; each cue starts a new one."""
    atts, cur = [], None
    for role, phrase, occ in items:
        start = -1
        for _ in range(occ + 1):
            start = text.index(phrase, start + 1)
        span = [start, start + len(phrase)]
        if role == "source" and cur is not None and cur["cue"]:
            atts.append(cur)
            cur = None
        if role == "cue":
            if cur is not None and cur["cue"]:
                atts.append(cur)
                src = cur["source"]
                cur = {"source": src, "cue": [], "content": []}
            cur = cur or {"source": [], "cue": [], "content": []}
            cur["cue"].append(span)
        else:
            cur = cur or {"source": [], "cue": [], "content": []}
            cur[role].append(span)
    atts.append(cur)
    return atts


def _linker():
    docs = []
    for text, items in TRAIN_TEXTS * 20:
        docs.append((segment(text), _attributions(text, items)))
    return fit_linker(docs)


def test_link_shared_source_and_two_claims():
    text = "The mayor said taxes rise and added that schools close."
    seg = segment(text)
    spans = sorted(_spans(seg, text, TRAIN_TEXTS[2][1]), key=lambda s: s.first)
    claims = _linker().link(seg, spans)
    assert len(claims) == 2
    assert [text[c.cue.start:c.cue.end] for c in claims] == ["said", "added"]
    assert all(c.source is not None and text[c.source.start:c.source.end] == "The mayor" for c in claims)


def test_link_discontinuous_content_joins_one_claim():
    text = "“Prices,” she said, “will fall.”"
    seg = segment(text)
    spans = sorted(_spans(seg, text, TRAIN_TEXTS[3][1]), key=lambda s: s.first)
    claims = _linker().link(seg, spans)
    assert len(claims) == 1
    assert [text[c.start:c.end] for c in claims[0].contents] == ["Prices,", "will fall."]


def test_link_claim_without_source():
    text = "It is reported that the deal collapsed."
    seg = segment(text)
    claims = _linker().link(seg, sorted(_spans(seg, text, TRAIN_TEXTS[4][1]), key=lambda s: s.first))
    assert len(claims) == 1 and claims[0].source is None


def test_link_content_without_cue_is_dropped():
    text = "The plan failed badly."
    seg = segment(text)
    spans = _spans(seg, text, [("content", "The plan failed", 0)])
    assert _linker().link(seg, spans) == []


def test_gold_tagged_links_every_fragment():
    text, items = TRAIN_TEXTS[3]
    seg = segment(text)
    spans, links = gold_tagged(seg, _attributions(text, items))
    assert sum(kind == "content" for kind, _, _ in links) == 2
    assert sum(kind == "source" for kind, _, _ in links) == 1


def test_feature_rows_line_up_with_their_names():
    import numpy as np
    import pytest
    from claims.nlp.link import CONTENT_FEATURES, SOURCE_FEATURES, content_pairs, source_pairs

    text = "The mayor said taxes rise and added that schools close."
    seg = segment(text)
    spans = sorted(_spans(seg, text, TRAIN_TEXTS[2][1]), key=lambda s: s.first)
    assert {len(f) for _, _, f in content_pairs(seg, spans)} == {len(CONTENT_FEATURES)}
    assert {len(f) for _, _, f in source_pairs(seg, spans, {})} == {len(SOURCE_FEATURES)}
    scorer = _linker().content
    with pytest.raises(ValueError, match="named features"):
        scorer.prob(np.zeros((1, len(CONTENT_FEATURES) - 1)))
