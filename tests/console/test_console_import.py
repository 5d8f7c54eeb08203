"""Imports: results checked against the schema before they are stored, strict JSON, JSONL split
only at newlines, and the outputs of ``claims analyze`` and ``claims batch`` accepted as they are."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from claims.console import importer
from console_support import StandInAnalyzer, login, make_console

TEXT = "Kerry said the talks went well.\nLavrov said the ceasefire\u2028was holding\u0085 at last.\n"


def result_of(text: str = TEXT, id: str = "a1", include_text: bool = True) -> dict:
    from claims.disputes import default
    res = StandInAnalyzer().analyze(text, id=id, disputes=default())
    d = res.to_dict(include_text=include_text)
    d["title"] = "Talks"
    return d


def test_console_import_lines_split_only_at_newlines():
    line = json.dumps(result_of(), ensure_ascii=False)  # U+2028 and U+0085 raw, as claims batch writes them
    assert "\u2028" in line
    records, errors = importer.parse_upload((line + "\n" + line.replace('"a1"', '"a2"') + "\n").encode(), "r.jsonl")
    assert errors == [] and len(records) == 2
    assert records[0].text == TEXT and len(records[0].result.claims) == 2


def test_console_import_pretty_document_and_lists():
    doc = result_of()
    pretty = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    records, errors = importer.parse_upload(pretty, "analysis.json")
    assert errors == [] and len(records) == 1 and records[0].result is not None
    records, errors = importer.parse_upload(json.dumps([doc, result_of(id="b")], indent=1).encode(), "out")
    assert errors == [] and [r.meta["ext_id"] for r in records] == ["a1", "b"]


def test_console_import_batch_output_needs_its_text():
    lines = "\n".join(json.dumps(result_of(id=i, include_text=False)) for i in ("a1", "a2")) + "\n"
    records, errors = importer.parse_upload(lines.encode(), "results.jsonl")
    assert records == [] and len(errors) == 2
    assert "has no text" in errors[0] and "--include-text" in errors[0] and "line 1" in errors[0]
    records, errors = importer.parse_upload(lines.encode(), "results.jsonl", texts={"a1": TEXT})
    assert len(records) == 1 and len(errors) == 1 and "'a2'" in errors[0]
    failed = {"schema_version": 1, "id": "x", "model": {}, "disputes": [], "claims": [],
              "error": {"type": "input_error", "message": "text is empty"}}
    records, errors = importer.parse_upload(json.dumps(failed).encode(), "results.jsonl")
    assert records == [] and "analysis error" in errors[0]


def _bad(mutate) -> dict:
    d = result_of()
    mutate(d["claims"][0])
    return d


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c.update(confidence=1.5), "confidence"),
    (lambda c: c.update(confidence=-0.1), "confidence"),
    (lambda c: c.update(confidence="high"), "confidence"),
    (lambda c: c.update(form="shouted"), "form"),
    (lambda c: c["stance"]["syria-transition"].update(label="maybe"), "label"),
    (lambda c: c["stance"]["syria-transition"]["scores"].update(favor=7), "scores"),
    (lambda c: c["speaker"].update(type="alien"), "speaker type"),
    (lambda c: c["content"][0].update(start=-3), "content"),
    (lambda c: c["content"][0].update(text="not this"), "does not match"),
])
def test_console_import_checks_results_against_the_schema(mutate, message):
    records, errors = importer.parse_upload(json.dumps(_bad(mutate)).encode(), "r.jsonl")
    assert records == [] and len(errors) == 1 and message in errors[0], errors


@pytest.mark.parametrize("raw", [
    '{"id": "a", "text": "Kerry said yes.", "claims": [], "n": NaN}',
    '{"id": "a", "text": "Kerry said yes.", "n": Infinity}',
    '{"id": "a", "text": "Kerry said yes.", "n": -Infinity}',
    '{"id": "a", "text": "Kerry said yes.", "n": 1e400}',
    '{"id": "a", "text": "Kerry said yes.", "n": 99999999999999999999999999}',
    '{"id": "a", "text": "Kerry said \\ud83d yes."}',
    '{"id": "a", "text": "Kerry said yes.", "title": "a\\u0000b"}',
])
def test_console_import_refuses_what_no_column_should_get(raw):
    records, errors = importer.parse_upload(raw.encode(), "r.jsonl")
    assert records == [] and len(errors) == 1


def test_console_import_infinite_confidence_is_a_400_and_the_queue_stays_up(tmp_path):
    app = make_console(tmp_path)
    bad = json.dumps(result_of()).replace('"confidence": 0.', '"confidence": Infinity, "x": 0.', 1)
    with TestClient(app) as c:
        login(c, "admin")
        r = c.post("/api/articles", files=[("files", ("r.jsonl", bad.encode(), "application/json"))])
        assert r.status_code == 400, r.text
        r = c.post("/api/articles", json={"articles": [_bad(lambda cl: cl.update(confidence=2.0))]})
        assert r.status_code == 400 and "confidence" in r.text
        assert c.get("/api/articles").status_code == 200


def test_console_cli_imports_analyze_and_batch_outputs(tmp_path, capsys):
    from claims.cli import main
    from claims.console.db import Database
    db = str(tmp_path / "cli.db")
    pretty = tmp_path / "analysis.json"
    pretty.write_text(json.dumps(result_of(id="p1"), indent=2, ensure_ascii=False), encoding="utf-8")
    assert main(["import", str(pretty), "--db", db]) == 0
    assert "1 with their results" in capsys.readouterr().out
    batch_out = tmp_path / "results.jsonl"
    batch_out.write_text("".join(json.dumps(result_of(id=i, include_text=False), ensure_ascii=False) + "\n"
                                 for i in ("b1", "b2")), encoding="utf-8")
    assert main(["import", str(batch_out), "--db", db]) == 2
    assert "has no text" in capsys.readouterr().err
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"id": i, "text": TEXT}) + "\n" for i in ("b1", "b2")), encoding="utf-8")
    assert main(["import", str(batch_out), "--texts", str(inputs), "--db", db]) == 0
    conn = Database(db).conn()
    assert conn.value("SELECT COUNT(*) AS n FROM articles WHERE analysis = 'done'") == 3
    assert conn.value("SELECT COUNT(*) AS n FROM claims") == 6
