"""The shipped model on the seed article: the acceptance test of docs/DESIGN.md and the issues.

Not tuned on: the seed is a demo and a check, never training or selection data."""

import json
import subprocess
import sys

import jsonschema
import pytest

from claims.nlp.resolve import normalize

from conftest import ROOT, SEED_TEXT

pytestmark = pytest.mark.slow


def _overlap(a, b):
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _match(result, gold_claim):
    """The predicted claim whose content covers at least half of the gold content."""
    gs, ge = gold_claim["content"]["span"]
    best, best_ov = None, 0
    for c in result["claims"]:
        ov = sum(_overlap((s["start"], s["end"]), (gs, ge)) for s in c["content"])
        if 2 * ov >= ge - gs and ov > best_ov:
            best, best_ov = c, ov
    return best


@pytest.fixture(scope="module")
def seed_result(analyzer, seed_text, seed_gold):
    from claims.doc import Dispute
    disputes = [Dispute(d["id"], d["title"], d["proposition"]) for d in seed_gold["disputes"]]
    return analyzer.analyze(seed_text, id="seed", disputes=disputes).to_dict()


def test_seed_result_is_valid_json_with_true_offsets(seed_result, seed_text, schema):
    jsonschema.validate(seed_result, schema)
    for c in seed_result["claims"]:
        for s in c["content"] + [c["cue"], c["source"]] + ([c["speaker"]["mention"]] if c["speaker"] else []):
            if s is not None:
                assert seed_text[s["start"]:s["end"]] == s["text"]


def _required(seed_result, seed_gold):
    missing, wrong = [], []
    for g in seed_gold["claims"]:
        if not g["required"]:
            continue
        c = _match(seed_result, g)
        if c is None:
            missing.append(g["id"])
        elif c["speaker"] is None or normalize(c["speaker"]["name"]) not in {normalize(x) for x in g["speaker_accept"]}:
            wrong.append((g["id"], c["speaker"] and c["speaker"]["name"]))
    return missing, wrong


def test_seed_required_claims_found(seed_result, seed_gold):
    missing, _ = _required(seed_result, seed_gold)
    assert not missing, f"required claims not found: {missing}"


def test_seed_required_claims_have_the_right_speaker(seed_result, seed_gold):
    _, wrong = _required(seed_result, seed_gold)
    assert not wrong, f"wrong speakers: {wrong}"


def test_seed_narration_does_not_become_claims(seed_result, seed_gold, seed_text):
    """No claim in a sentence where the gold has no attribution at all (the narrator's own words)."""
    from claims.nlp.segment import sentence_spans
    gold = [tuple(g[k]["span"]) for g in seed_gold["claims"] for k in ("content", "cue", "source") if g.get(k)]
    attributed = [s for s in sentence_spans(seed_text) if any(_overlap(s, g) for g in gold)]
    stray = [c["content"][0]["text"] for c in seed_result["claims"]
             if not any(_overlap((f["start"], f["end"]), s) for f in c["content"] for s in attributed)]
    assert not stray, f"claims in the narrator's own sentences: {stray}"


def _seed_stance_outcome(seed_result, seed_gold):
    """(sided gold stances right, sided gold stances, spurious sides, errors): a gold stance is sided
    when its accepted labels include favor or against; a side is spurious where they include neither."""
    right = sided = spurious = 0
    errors = []
    for g in seed_gold["claims"]:
        c = _match(seed_result, g)
        for dispute, accept in g["stance_accept"].items():
            label = c["stance"][dispute]["label"] if c is not None else None
            if set(accept) & {"favor", "against"}:
                sided += 1
                right += label in accept
                if label not in accept:
                    errors.append((g["id"], dispute, label, accept))
            elif label in ("favor", "against"):
                spurious += 1
                errors.append((g["id"], dispute, label, accept))
    return right, sided, spurious, errors


@pytest.mark.xfail(strict=True, reason="the shipped two-stage stance model gets 2 of the 6 sided gold stances and gives "
                   "6 sides the gold does not take (mostly 'against' toward the Assad-transition dispute); strict, "
                   "so a model that meets the target turns this red")
def test_seed_stances_meet_the_target(seed_result, seed_gold):
    """At least 5 of the 6 sided gold stances right, at most 2 sides nobody took."""
    if not any(c["stance"] for c in seed_result["claims"]):
        pytest.skip("no stance model installed")
    right, sided, spurious, errors = _seed_stance_outcome(seed_result, seed_gold)
    assert sided == 6
    assert right >= 5 and spurious <= 2, f"{right}/{sided} sided right, {spurious} spurious: {errors}"


def test_cli_analyze_json_on_the_seed(schema):
    out = subprocess.run([sys.executable, "-m", "claims", "analyze", str(SEED_TEXT), "--json",
                          "--disputes", str(ROOT / "seeds" / "disputes.toml")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    jsonschema.validate(result, schema)
    assert len(result["disputes"]) == 3 and all(len(c["stance"]) == 3 for c in result["claims"])


def test_cli_batch_on_real_model(tmp_path, seed_text, schema):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "seed", "text": seed_text}) + "\n" + json.dumps({"id": "empty", "text": " "}) + "\n")
    out = tmp_path / "out.jsonl"
    r = subprocess.run([sys.executable, "-m", "claims", "batch", str(inp), "-o", str(out), "--quiet"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1  # one item failed
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    for row in rows:
        jsonschema.validate(row, schema)
    assert rows[0]["claims"] and rows[1]["error"]["type"] == "empty_text"


def test_analyze_many_matches_analyze(analyzer, seed_text):
    one = analyzer.analyze(seed_text, id="x").to_dict()
    many = list(analyzer.analyze_many([("x", seed_text), ("y", "Short text. Nobody said anything.")]))
    assert many[0].to_dict() == one
