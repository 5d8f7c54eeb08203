import json

import jsonschema
import pytest

from claims.doc import ArticleResult, Claim, Dispute, Span, Speaker, Stance


def _result() -> ArticleResult:
    text = "Moscow denies the allegations."
    c = Claim("c1", [Span.of(text, 14, 29)], Span.of(text, 7, 13), Span.of(text, 0, 6),
              Speaker("Russia", "government", Span.of(text, 0, 6)), "indirect", 0.9,
              {"d": Stance("against", {"favor": 0.1, "against": 0.7, "neutral": 0.1, "unrelated": 0.1})})
    return ArticleResult("a1", text, [c], [Dispute("d", "D", "Russia bombs rebels.")], {"name": "m", "version": "1"})


def test_result_round_trips_and_validates(schema):
    r = _result()
    d = r.to_dict()
    jsonschema.validate(d, schema)
    back = ArticleResult.from_dict(json.loads(json.dumps(d)), r.text)
    assert back.to_dict() == d
    c = d["claims"][0]
    for key in ("content",):
        for s in c[key]:
            assert r.text[s["start"]:s["end"]] == s["text"]


def test_failed_result_validates(schema):
    jsonschema.validate(ArticleResult.failed("x", "empty_text", "the text is empty").to_dict(), schema)


def test_schema_rejects_bad_labels(schema):
    d = _result().to_dict()
    d["claims"][0]["stance"]["d"]["label"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, schema)
    d = _result().to_dict()
    d["claims"][0]["content"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, schema)
