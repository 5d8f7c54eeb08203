"""Batch jobs with a stand-in analyzer (fast); the real model runs in test_end_to_end."""

import json
from types import SimpleNamespace

import pytest

from claims import batch as batch_mod
from claims.doc import ArticleResult


class FakeAnalyzer:
    def __init__(self, fail_on: str = "BOOM"):
        self.fail_on = fail_on
        self.seen: list[str] = []

    def analyze_many(self, items, batch_size=8, disputes=None):
        from claims.analyzer import InputError, check_text
        for rid, text in items:
            self.seen.append(rid)
            try:
                check_text(text)
            except InputError as e:
                yield ArticleResult.failed(rid, e.kind, str(e))
                continue
            if self.fail_on in text:
                yield ArticleResult.failed(rid, "model_error", "RuntimeError: boom")
                continue
            yield ArticleResult(rid, text, [], [], {"name": "fake", "version": "0"})


def _args(inp, out, **kw):
    base = dict(input=str(inp), output=str(out), id_field="id", text_field="text", format=None, overwrite=False,
                batch_size=2, workers=1, engine="local", ray_address=None, quiet=True, disputes=None, model=None,
                stance_model=None, no_stance=True, max_chars=200_000)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.fixture
def fake(monkeypatch):
    f = FakeAnalyzer()
    monkeypatch.setattr("claims.cli.make_analyzer", lambda args, disputes: f)
    return f


def _lines(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_batch_failures_are_records_and_the_job_goes_on(tmp_path, fake):
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join([
        json.dumps({"id": "a", "text": "Kerry said so.", "title": "T", "url": "u"}),
        "{not json",
        json.dumps({"id": "b", "text": ""}),
        json.dumps({"id": "c", "text": 42}),
        json.dumps({"text": "no id"}),
        json.dumps({"id": "a", "text": "duplicate"}),
        json.dumps({"id": "d", "text": "BOOM"}),
        json.dumps({"id": "e", "text": "fine"}),
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    s = batch_mod.run_batch(_args(inp, out), [])
    rows = _lines(out)
    assert len(rows) == 8 and s.written == 8 and s.failed == 6
    by = {(r["id"], (r["error"] or {}).get("type")) for r in rows}
    assert ("a", None) in by and ("e", None) in by
    assert {t for _, t in by if t} == {"bad_json", "empty_text", "not_text", "missing_id", "duplicate_id", "model_error"}
    first = next(r for r in rows if r["id"] == "a" and r["error"] is None)
    assert first["title"] == "T" and first["url"] == "u"


def test_batch_resumes_and_repairs_a_torn_line(tmp_path, fake):
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": str(i), "text": f"text {i}"}) + "\n" for i in range(6)))
    out = tmp_path / "out.jsonl"
    done = [json.dumps(ArticleResult(str(i), "", model={}).to_dict()) for i in range(3)]
    out.write_text("\n".join(done) + '\n{"id": "3", "sch')  # killed mid-write
    s = batch_mod.run_batch(_args(inp, out), [])
    rows = _lines(out)
    assert [r["id"] for r in rows] == ["0", "1", "2", "3", "4", "5"]
    assert s.skipped == 3 and fake.seen == ["3", "4", "5"]


def test_batch_overwrite_starts_fresh(tmp_path, fake):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "x", "text": "t"}) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "x"}) + "\n")
    batch_mod.run_batch(_args(inp, out, overwrite=True), [])
    assert [r["id"] for r in _lines(out)] == ["x"] and fake.seen == ["x"]


def test_batch_csv_with_renamed_columns(tmp_path, fake):
    inp = tmp_path / "in.csv"
    inp.write_text('key,body,publisher\n1,"He said, ""yes"".",AP\n2,Fine,AFP\n')
    out = tmp_path / "out.jsonl"
    batch_mod.run_batch(_args(inp, out, id_field="key", text_field="body"), [])
    rows = _lines(out)
    assert [(r["id"], r["publisher"]) for r in rows] == [("1", "AP"), ("2", "AFP")]


def test_batch_csv_without_the_columns_is_a_clear_error(tmp_path, fake):
    inp = tmp_path / "in.csv"
    inp.write_text("a,b\n1,2\n")
    with pytest.raises(batch_mod.BatchError, match="needs columns"):
        batch_mod.run_batch(_args(inp, tmp_path / "o.jsonl"), [])


def test_batch_parquet_input(tmp_path, fake):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    inp = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["one", "two"], "date": ["2016", "2017"]}), inp)
    out = tmp_path / "out.jsonl"
    batch_mod.run_batch(_args(inp, out), [])
    assert [(r["id"], r["date"]) for r in _lines(out)] == [("p1", "2016"), ("p2", "2017")]


def test_batch_missing_input_is_a_clear_error(tmp_path, fake):
    with pytest.raises(batch_mod.BatchError, match="no such file"):
        batch_mod.run_batch(_args(tmp_path / "nope.jsonl", tmp_path / "o.jsonl"), [])
