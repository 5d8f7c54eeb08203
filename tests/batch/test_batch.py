"""Batch jobs with a stand-in analyzer (eval/standin.py): fast, no model. The real model runs
in test_batch_slow.py and test_end_to_end.py."""

import datetime
import io
import json
import re
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from claims import batch as batch_mod
from claims.batch import BatchJob, Options, Summary, Unit, admit, run_batch, windows
from claims.batch.idset import IdSet
from claims.progress import Progress
from claims.batch.readers import Record
from claims.batch.sinks import JsonlSink, open_sink, read_output, repair_torn_tail
from eval.standin import StandIn


def _job(inp, out, **kw):
    base = dict(input=str(inp), output=str(out), id_field="id", text_field="text", format=None, overwrite=False,
                batch_size=2, workers=None, threads=None, ordered=False, engine="local", ray_address=None,
                quiet=True, disputes=None, model=None, stance_model=None, no_stance=True, max_chars=200_000,
                part_rows=20_000)
    base.update(kw)
    return BatchJob.from_args(SimpleNamespace(**base))


def _run(inp, out, spec=None, **kw) -> Summary:
    return run_batch(_job(inp, out, **kw), [], spec=spec or StandIn())


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _seen(log):
    return log.read_text().split() if log.exists() else []


def _key(record):
    return json.dumps(record, sort_keys=True)


MIXED = [
    {"id": "a", "text": "Kerry said so.", "title": "T", "url": "u"},
    "{not json",
    {"id": "b", "text": ""},
    {"id": "c", "text": 42},
    {"text": "no id"},
    {"id": "a", "text": "duplicate"},
    {"id": "d", "text": "BOOM"},
    {"id": "e", "text": "Fine words."},
    {"id": "f", "text": "Lavrov denied it.", "publisher": "AP"},
    {"id": 7, "text": "An integer id."},
]


def _write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.system)])
def test_batch_failures_are_records_and_the_job_goes_on(tmp_path, workers):
    inp = _write_jsonl(tmp_path / "in.jsonl", MIXED)
    out = tmp_path / "out.jsonl"
    s = _run(inp, out, workers=workers)
    rows = _lines(out)
    assert len(rows) == len(MIXED) == s.written and s.failed == 6 and s.all_failed == 6
    types = Counter((r["error"] or {}).get("type") for r in rows)
    assert types == Counter({None: 4, "bad_json": 1, "empty_text": 1, "not_text": 1, "missing_id": 1,
                             "duplicate_id": 1, "model_error": 1})
    first = next(r for r in rows if r["id"] == "a" and r["error"] is None)
    assert first["title"] == "T" and first["url"] == "u" and first["claims"][0]["speaker"]["name"] == "Kerry"
    bad = next(r for r in rows if (r["error"] or {}).get("type") == "bad_json")
    assert bad["id"] == "line:2" and bad["line"] == 2
    assert {r["id"] for r in rows} >= {"a", "e", "f", "7"}


@pytest.mark.system
def test_batch_ordered_workers_write_what_one_process_writes(tmp_path):
    rows = MIXED + [{"id": f"n{i}", "text": f"Speaker{i} said {i}."} for i in range(30)]
    inp = _write_jsonl(tmp_path / "in.jsonl", rows)
    _run(inp, tmp_path / "one.jsonl")
    _run(inp, tmp_path / "two.jsonl", workers=2, ordered=True)
    _run(inp, tmp_path / "any.jsonl", workers=2)
    one = (tmp_path / "one.jsonl").read_bytes()
    assert (tmp_path / "two.jsonl").read_bytes() == one
    assert sorted((tmp_path / "any.jsonl").read_bytes().splitlines()) == sorted(one.splitlines())


def test_batch_resumes_and_repairs_a_torn_line(tmp_path):
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "text": f"Text {i}."} for i in range(6)])
    out = tmp_path / "out.jsonl"
    done = [json.dumps({"schema_version": 1, "id": str(i), "model": {}, "disputes": [], "claims": [],
                        "error": None}) for i in range(3)]
    out.write_text("\n".join(done) + '\n{"schema_version": 1, "id": "3", "sch')  # killed mid-write
    log = tmp_path / "seen"
    s = _run(inp, out, StandIn(log=str(log)))
    assert [r["id"] for r in _lines(out)] == ["0", "1", "2", "3", "4", "5"]
    assert s.skipped == 3 and _seen(log) == ["3", "4", "5"]


def _complete_then_cut(tmp_path, inp, out_name, **kw):
    """Run to the end, then for every prefix of the output (a kill after k records, with a torn
    half of record k+1) resume and compare with the uninterrupted output."""
    full = tmp_path / f"full-{out_name}"
    _run(inp, full, **kw)
    lines = full.read_bytes().splitlines(keepends=True)
    for k in range(len(lines) + 1):
        out = tmp_path / f"cut{k}-{out_name}"
        torn = lines[k][: len(lines[k]) // 2] if k < len(lines) else b""
        out.write_bytes(b"".join(lines[:k]) + torn)
        s = _run(inp, out, **kw)
        assert sorted(out.read_bytes().splitlines()) == sorted(line.rstrip(b"\n") for line in lines), k
        assert s.skipped == k
    return lines


def test_batch_resume_after_a_cut_at_any_record_writes_each_record_once(tmp_path):
    rows = MIXED + [{"id": "a", "text": "third a"}, "[1, 2]", {"id": "g", "text": "Last one."}]
    inp = _write_jsonl(tmp_path / "in.jsonl", rows)
    lines = _complete_then_cut(tmp_path, inp, "out.jsonl")
    assert len(lines) == len(rows)


def test_batch_resume_counts_earlier_failures_in_the_exit_status(tmp_path):
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": "x", "text": ""}, {"id": "y", "text": "Fine."}])
    out = tmp_path / "out.jsonl"
    _run(inp, out)
    s = _run(inp, out)
    assert s.written == 0 and s.failed == 0 and s.failed_before == 1 and s.all_failed == 1


def test_batch_overwrite_starts_fresh(tmp_path):
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": "x", "text": "t"}])
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "x"}) + "\n")
    log = tmp_path / "seen"
    _run(inp, out, StandIn(log=str(log)), overwrite=True)
    assert [r["id"] for r in _lines(out)] == ["x"] and _seen(log) == ["x"]


def test_batch_csv_with_renamed_columns(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text('key,body,publisher\n1,"He said, ""yes"".",AP\n2,"Two\nlines.",AFP\n3,,AFP\n')
    out = tmp_path / "out.jsonl"
    _run(inp, out, id_field="key", text_field="body")
    rows = _lines(out)
    assert [(r["id"], r["publisher"]) for r in rows] == [("1", "AP"), ("2", "AFP"), ("3", "AFP")]
    assert rows[1]["claims"][0]["content"][0]["text"] == "Two\nlines." and rows[2]["error"]["type"] == "empty_text"


def test_batch_csv_without_the_columns_is_a_clear_error(tmp_path):
    inp = tmp_path / "in.csv"
    inp.write_text("a,b\n1,2\n")
    with pytest.raises(batch_mod.BatchError, match="needs columns"):
        _run(inp, tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


def test_batch_parquet_input_carries_typed_fields(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    inp = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["One said.", "Two said."],
                             "date": [datetime.date(2016, 1, 2), None], "n": [1, 2]}), inp)
    out = tmp_path / "out.jsonl"
    _run(inp, out)
    assert [(r["id"], r["date"], r["n"]) for r in _lines(out)] == [("p1", "2016-01-02", 1), ("p2", None, 2)]


def test_batch_reads_stdin(tmp_path, monkeypatch):
    data = "".join(json.dumps({"id": str(i), "text": f"Said {i}."}) + "\n" for i in range(3)).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    out = tmp_path / "out.jsonl"
    _run("-", out)
    assert [r["id"] for r in _lines(out)] == ["0", "1", "2"]


def test_batch_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(batch_mod.BatchError, match="no such file"):
        _run(tmp_path / "nope.jsonl", tmp_path / "o.jsonl")


def test_batch_oversized_line_is_an_error_record_named_by_its_id(tmp_path, monkeypatch):
    monkeypatch.setattr("claims.batch.readers.EXTRA_BYTES", 0)   # lines over 6 * max_chars bytes are not read whole
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "huge", "text": "x" * 5000, "t": 1}) + "\n"
                   + json.dumps({"id": "ok", "text": "Fine."}) + "\n")
    out = tmp_path / "out.jsonl"
    _run(inp, out, max_chars=100)
    rows = _lines(out)
    assert [r["id"] for r in rows] == ["huge", "ok"]
    assert rows[0]["error"]["type"] == "too_long" and rows[0]["line"] == 1 and rows[1]["error"] is None


def test_batch_unpaired_surrogates_are_an_error_record_and_the_output_stays_utf8(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "s", "text": "bad \\ud800 text", "note": "also \\udc00"}\n{"id": "t", "text": "Fine."}\n')
    out = tmp_path / "out.jsonl"
    _run(inp, out)
    rows = [json.loads(line) for line in out.read_bytes().decode("utf-8").splitlines()]
    assert rows[0]["error"]["type"] == "bad_unicode" and rows[0]["note"] == "also \udc00"
    assert rows[1]["error"] is None


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.system)])
def test_batch_exception_inside_analyze_many_fails_only_that_article(tmp_path, workers):
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "Good one."}, {"id": "2", "text": "RAISE now"},
                                               {"id": "3", "text": "Good too."}])
    out = tmp_path / "out.jsonl"
    s = _run(inp, out, workers=workers, batch_size=3)
    rows = {r["id"]: r for r in _lines(out)}
    assert rows["2"]["error"]["type"] == "model_error" and "stand-in raised" in rows["2"]["error"]["message"]
    assert rows["1"]["error"] is None and rows["3"]["error"] is None and s.failed == 1


@pytest.mark.system
def test_batch_worker_crash_fails_only_that_article(tmp_path):
    rows = [{"id": str(i), "text": f"Text {i}."} for i in range(8)]
    rows[5]["text"] = "CRASH here"
    inp = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    s = _run(inp, out, workers=2, batch_size=4, ordered=True)
    got = _lines(out)
    assert [r["id"] for r in got] == [str(i) for i in range(8)]
    assert got[5]["error"]["type"] == "worker_died" and s.failed == 1
    assert all(r["error"] is None for i, r in enumerate(got) if i != 5)


class _Broken:
    def build(self):
        raise batch_mod.BatchError("no attribution model at /nowhere")


@pytest.mark.system
def test_batch_worker_that_cannot_load_the_model_stops_the_job_with_its_message(tmp_path):
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "Text."}])
    with pytest.raises(batch_mod.BatchError, match="no attribution model"):
        _run(inp, tmp_path / "o.jsonl", spec=_Broken(), workers=2)
    with pytest.raises(batch_mod.BatchError, match="no attribution model"):
        _run(inp, tmp_path / "o.jsonl", spec=_Broken())


def test_batch_a_second_job_on_the_same_output_is_refused(tmp_path):
    sink = open_sink(str(tmp_path / "out.jsonl"))
    try:
        with pytest.raises(batch_mod.BatchError, match="another `claims batch`"):
            open_sink(str(tmp_path / "out.jsonl"))
    finally:
        sink.close()


# ---------------------------------------------------------------------------------------- Parquet

def test_batch_parquet_output_holds_the_same_records_as_jsonl(tmp_path):
    pytest.importorskip("pyarrow")
    inp = _write_jsonl(tmp_path / "in.jsonl", MIXED + [{"id": f"n{i}", "text": f"Said {i}."} for i in range(20)])
    _run(inp, tmp_path / "out.jsonl")
    s = _run(inp, tmp_path / "out.parquet", part_rows=7)
    parts = sorted(p.name for p in (tmp_path / "out.parquet").glob("part-*.parquet"))
    assert len(parts) == 5 and s.written == len(MIXED) + 20
    assert sorted(map(_key, read_output(str(tmp_path / "out.parquet")))) == \
        sorted(map(_key, read_output(str(tmp_path / "out.jsonl"))))


def test_batch_parquet_resume_drops_the_open_part_and_redoes_only_it(tmp_path):
    pytest.importorskip("pyarrow")
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "text": f"Said {i}."} for i in range(10)])
    out = tmp_path / "out.parquet"
    _run(inp, out, part_rows=4)
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 3
    parts[-1].rename(out / ".part-00002.parquet.tmp")   # as if killed before the last rename
    log = tmp_path / "seen"
    s = _run(inp, out, StandIn(log=str(log)), part_rows=4)
    assert s.skipped == 8 and _seen(log) == ["8", "9"]
    assert not list(out.glob("*.tmp"))
    assert sorted(r["id"] for r in read_output(str(out))) == sorted(str(i) for i in range(10))


# ------------------------------------------------------------------------------------ the pieces

def test_admit_skips_the_nth_occurrence_only_when_the_output_has_n():
    from claims.batch.sinks import DoneIds
    done = DoneIds()
    done.add("a", False)
    recs = [Record(1, "a", "x"), Record(2, "a", "y"), Record(3, "b", "z"), Record(4, None, error=("bad_json", "m"))]
    kinds = [(u.kind, u.record["error"]["type"] if u.record else None) for u in admit(recs, done)]
    assert kinds == [("skip", None), ("ready", "duplicate_id"), ("work", None), ("ready", "bad_json")]
    done.add("a", True)
    done.add("line:4", True)
    assert [u.kind for u in admit([Record(1, "a", "x"), Record(2, "a", "y"), Record(4, None, error=("e", "m"))],
                                  done)] == ["skip", "skip", "skip"]


def test_windows_hold_at_most_batch_size_articles_and_stream_skips():
    units = [Unit("work", Record(i, str(i), "t")) for i in range(5)] + \
            [Unit("skip", Record(i, str(i))) for i in range(5, 1000)]
    wins = list(windows(units, 2))
    assert [sum(u.kind == "work" for u in w) for w in wins[:3]] == [2, 2, 1]
    assert max(len(w) for w in wins) <= batch_mod.WINDOW_UNITS
    assert sum(len(w) for w in wins) == 1000


@pytest.mark.system
@pytest.mark.parametrize("ordered", [False, True])
def test_workers_read_ahead_a_bounded_number_of_windows(ordered):
    # memory stays flat: however long the input, the parent holds only a few windows per worker
    from claims.batch.engines.processes import AHEAD_PER_WORKER, score_in_processes
    pulled = 0

    def source():
        nonlocal pulled
        for i in range(400):
            pulled += 1
            text = "SLOW" if i == 3 else f"Text {i}."
            yield [Unit("work", Record(i, str(i), text, pos=i))]

    bound = 2 * AHEAD_PER_WORKER * 2 + 1   # windows in flight + finished ones not yet written
    most = 0
    got = []
    for k, (pos, rec) in enumerate(score_in_processes(source(), StandIn(delay=0.001), Options(batch_size=1, workers=2,
                                                                                               ordered=ordered),
                                                      Summary())):
        got.append(rec["id"])
        most = max(most, pulled - k)
    assert sorted(got, key=int) == [str(i) for i in range(400)]
    assert (got == [str(i) for i in range(400)]) is ordered   # unordered: the slow one comes late
    assert most <= bound


def test_idset_membership_survives_merges(monkeypatch):
    import claims.batch.idset as idset
    monkeypatch.setattr(idset, "_MERGE_AT", 64)
    s = IdSet()
    for i in range(5000):
        s.add(f"id-{i}")
    s.add("id-3")
    assert len(s) == 5000
    assert all(f"id-{i}" in s for i in range(0, 5000, 3))
    assert not any(f"id-{i}" in s for i in range(5000, 6000))
    assert "line:1" not in s and "" not in s


def test_repair_torn_tail_reads_only_the_tail(tmp_path):
    p = tmp_path / "o.jsonl"
    p.write_bytes(b'{"a": 1}\n' * 20000 + b'{"a": ')
    assert repair_torn_tail(p) == 6 and p.read_bytes().endswith(b'{"a": 1}\n')
    assert repair_torn_tail(p) == 0
    q = tmp_path / "q.jsonl"
    q.write_bytes(b"no newline at all")
    assert repair_torn_tail(q) == len(b"no newline at all") and q.read_bytes() == b""


def test_jsonl_sink_reads_done_ids_fast_path_and_others(tmp_path):
    p = tmp_path / "o.jsonl"
    p.write_text(json.dumps({"schema_version": 1, "id": "a\"b", "model": {}, "disputes": [], "claims": [],
                             "error": None, "note": '"error": {"x"'}) + "\n"
                 + json.dumps({"id": "c", "error": {"type": "t", "message": "m"}}) + "\n"
                 + "not a record\n")
    sink = JsonlSink(p)
    try:
        assert sink.done.count('a"b') == 1 and sink.done.count("c") == 1 and sink.done.failed == 1
        assert sink.done.records == 2
    finally:
        sink.close()


def test_progress_writes_plain_lines_when_not_a_terminal_and_nothing_when_quiet():
    s = Summary(written=5, failed=1)
    stream = io.StringIO()
    p = Progress(total=100, stream=stream, log_every=0)
    p.update(s, 50, 10.0)
    p.close()
    assert "50.0% of the input" in stream.getvalue() and "0.50 articles/s" in stream.getvalue()
    assert "ETA 0:00:10" in stream.getvalue()
    quiet = io.StringIO()
    p = Progress(quiet=True, total=100, stream=quiet, log_every=0)
    p.update(s, 50, 10.0)
    assert quiet.getvalue() == ""


def test_progress_draws_a_rich_bar_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    stream = Tty()
    p = Progress(total=100, stream=stream, log_every=0)
    p.update(Summary(written=5), 50, 10.0)
    p.close()
    assert "ETA" in stream.getvalue() and "articles/s" in stream.getvalue()


@pytest.mark.system
def test_batch_memory_stays_flat_as_the_input_grows(tmp_path):
    # the writer and the workers, each in a fresh process, at 1,000 and 40,000 lines of 1 kB texts:
    # keeping even the texts of the larger input would add 40 MB
    import subprocess
    peaks = {}
    for n in (1_000, 40_000):
        inp = tmp_path / f"in{n}.jsonl"
        with open(inp, "w") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"x{i}", "text": f"Speaker{i} said " + "words " * 170}) + "\n")
        summary = tmp_path / f"s{n}.json"
        r = subprocess.run([sys.executable, "-m", "eval.standin", "--summary", str(summary), str(inp), "-o",
                            str(tmp_path / f"out{n}.jsonl"), "--quiet", "--workers", "2"], capture_output=True,
                           text=True, cwd=Path(__file__).resolve().parents[2])
        assert r.returncode == 0, r.stderr
        s = json.loads(summary.read_text())
        assert s["written"] == n
        peaks[n] = (s["parent_rss_mb"], max(s["worker_rss_mb"].values()))
    assert peaks[40_000][0] - peaks[1_000][0] < 20, peaks
    assert peaks[40_000][1] - peaks[1_000][1] < 10, peaks


# ------------------------------------------------------------------------------ round trips (issue 13)

def _standin_cli(tmp_path, *argv, stdin=None):
    """``claims batch`` with the stand-in analyzer, as a program run in ``tmp_path``."""
    import os
    import subprocess
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-m", "eval.standin", *map(str, argv)], capture_output=True,
                          cwd=tmp_path, env=env, input=stdin)


@pytest.mark.system
def test_batch_output_dash_is_stdout_and_the_summary_stays_on_stderr(tmp_path):
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Kerry said so."}, {"id": "b", "text": ""}])
    r = _standin_cli(tmp_path, inp, "-o", "-")
    assert r.returncode == 1, r.stderr            # b is an error record
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [row["id"] for row in rows] == ["a", "b"] and rows[1]["error"]["type"] == "empty_text"
    assert b"2 records: 2 written (1 failed)" in r.stderr
    assert not (tmp_path / "-").exists()
    # stdin to stdout, a filter in a pipe
    r = _standin_cli(tmp_path, "-", "-o", "-", "--quiet", stdin=inp.read_bytes())
    assert [json.loads(line)["id"] for line in r.stdout.decode().splitlines()] == ["a", "b"] and r.stderr == b""
    assert not (tmp_path / "-").exists()


@pytest.mark.system
def test_batch_output_dash_has_nothing_to_resume_and_scores_everything_each_run(tmp_path):
    # a pipe holds no earlier records: each run writes every record
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Kerry said so."}])
    first = _standin_cli(tmp_path, inp, "-o", "-", "--quiet").stdout
    assert first == _standin_cli(tmp_path, inp, "-o", "-", "--quiet").stdout and first.count(b"\n") == 1


@pytest.mark.parametrize("name,content,message", [
    ("article.txt", "Moscow denied the allegations.\nKerry said talks went well.\n", "claims analyze "),
    ("result.json", json.dumps({"id": "a", "text": "x", "claims": []}, indent=2) + "\n", "jq -c . "),
    ("rows.json", json.dumps([{"id": "a", "text": "x"}]) + "\n", "jq -c '.[]'"),
    ("table", "key,body\n1,Said.\n", "columns 'id' and 'text'"),
    ("blob.bin", "PK\x03\x04\x00\x00junk", "binary"),
])
def test_batch_refuses_an_input_that_is_no_records_with_what_to_run(tmp_path, name, content, message):
    inp = tmp_path / name
    inp.write_text(content)
    with pytest.raises(batch_mod.BatchError, match=re.escape(message)):
        _run(inp, tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.system
def test_batch_refusal_is_one_line_and_exit_2_on_the_command_line(tmp_path):
    inp = tmp_path / "article.txt"
    inp.write_text("Moscow denied the allegations. Kerry said talks went well.\n")
    r = _standin_cli(tmp_path, inp, "-o", "out.jsonl")
    assert r.returncode == 2 and r.stderr.decode().count("\n") == 1 and b"claims analyze" in r.stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("name", ["in.txt", "in", "in.json"])
def test_batch_reads_jsonl_whatever_the_file_is_called(tmp_path, name):
    inp = _write_jsonl(tmp_path / name, ["", {"id": "a", "text": "Said."}, "{bad", {"id": "b", "text": "Said."}])
    _run(inp, tmp_path / "o.jsonl")
    assert [(r["id"], (r["error"] or {}).get("type")) for r in _lines(tmp_path / "o.jsonl")] == \
        [("a", None), ("line:3", "bad_json"), ("b", None)]


def test_batch_reads_csv_from_stdin_without_format(tmp_path, monkeypatch):
    data = b'id,text,publisher\n1,"He said, ""yes"".",AP\n2,Two said.,AFP\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    _run("-", tmp_path / "o.jsonl")
    assert [(r["id"], r["publisher"]) for r in _lines(tmp_path / "o.jsonl")] == [("1", "AP"), ("2", "AFP")]


def test_batch_reads_a_long_first_jsonl_line_from_stdin(tmp_path, monkeypatch):
    rows = [{"id": "long", "text": "Word. " * 300_000}, {"id": "b", "text": "Said."}]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        "".join(json.dumps(r) + "\n" for r in rows).encode())))
    _run("-", tmp_path / "o.jsonl", max_chars=2_000_000)
    assert [r["id"] for r in _lines(tmp_path / "o.jsonl")] == ["long", "b"]


def test_batch_finds_parquet_by_its_magic_bytes(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    inp = tmp_path / "export.dat"
    pq.write_table(pa.table({"id": ["p1"], "text": ["One said."]}), inp)
    _run(inp, tmp_path / "o.jsonl")
    assert [r["id"] for r in _lines(tmp_path / "o.jsonl")] == ["p1"]


def test_batch_refuses_to_resume_another_jobs_output(tmp_path):
    one = _write_jsonl(tmp_path / "one.jsonl", [{"id": str(i), "text": f"One {i}."} for i in range(3)])
    two = _write_jsonl(tmp_path / "two.jsonl", [{"id": str(i), "text": f"Two {i}."} for i in range(3)])
    out = tmp_path / "out.jsonl"
    _run(one, out)
    before = out.read_bytes()
    with pytest.raises(batch_mod.BatchError, match=r"holds the output of another job \(the input .*--overwrite"):
        _run(two, out)
    with pytest.raises(batch_mod.BatchError, match=r"another job \(--max-chars differ\)"):
        _run(one, out, max_chars=1000)
    assert out.read_bytes() == before
    s = _run(two, out, overwrite=True)
    assert s.written == 3 and [r["claims"][0]["content"][0]["text"] for r in _lines(out)][0] == "Two 0."
    assert json.loads((tmp_path / "out.jsonl.job.json").read_text())["input"]["name"] == str(two)


def test_batch_resumes_its_own_job_after_the_input_grew(tmp_path):
    rows = [{"id": str(i), "text": f"Said {i}."} for i in range(5)]
    inp = _write_jsonl(tmp_path / "in.jsonl", rows[:3])
    out = tmp_path / "out.jsonl"
    _run(inp, out)
    _write_jsonl(inp, rows)                         # two more lines at the end
    moved = inp.rename(tmp_path / "moved.jsonl")     # a new name is still the same input
    s = _run(moved, out)
    assert s.skipped == 3 and s.written == 2 and [r["id"] for r in _lines(out)] == [str(i) for i in range(5)]


def test_batch_resumes_an_output_written_before_jobs_were_recorded(tmp_path):
    inp = _write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "text": f"Said {i}."} for i in range(3)])
    out = tmp_path / "out.jsonl"
    _run(inp, out)
    (tmp_path / "out.jsonl.job.json").unlink()
    assert _run(inp, out).skipped == 3 and (tmp_path / "out.jsonl.job.json").exists()


def test_batch_parquet_output_keeps_its_job_inside(tmp_path):
    pytest.importorskip("pyarrow")
    one = _write_jsonl(tmp_path / "one.jsonl", [{"id": "a", "text": "One."}])
    two = _write_jsonl(tmp_path / "two.jsonl", [{"id": "a", "text": "Two."}])
    out = tmp_path / "out.parquet"
    _run(one, out)
    assert (out / "_job.json").exists() and [r["id"] for r in read_output(str(out))] == ["a"]
    with pytest.raises(batch_mod.BatchError, match="another job"):
        _run(two, out)


@pytest.mark.system
def test_batch_refusing_another_job_is_one_line_and_exit_2(tmp_path):
    one = _write_jsonl(tmp_path / "one.jsonl", [{"id": "a", "text": "One."}])
    two = _write_jsonl(tmp_path / "two.jsonl", [{"id": "a", "text": "Two."}])
    assert _standin_cli(tmp_path, one, "-o", "out.jsonl", "--quiet").returncode == 0
    r = _standin_cli(tmp_path, two, "-o", "out.jsonl", "--quiet")
    assert r.returncode == 2 and r.stderr.decode().count("\n") == 1 and b"--overwrite" in r.stderr


OWN = [{"id": "taxes", "title": "Taxes", "proposition": "Taxes should rise."}]


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.system)])
def test_batch_record_disputes_replace_the_jobs_for_that_record(tmp_path, workers):
    from claims.doc import Dispute
    rows = [{"id": "a", "text": "Said a."},
            {"id": "b", "text": "Said b.", "disputes": OWN},
            {"id": "c", "text": "Said c.", "disputes": []},
            {"id": "d", "text": "Said d.", "disputes": [{"id": "Bad id", "proposition": "x"}]},
            {"id": "e", "text": "Said e.", "disputes": OWN + OWN},
            {"id": "f", "text": "Said f.", "disputes": "not a list"},
            {"id": "g", "text": "Said g.", "disputes": OWN}]
    inp = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    job = (Dispute("seed", "Seed", "The seed proposition."),)
    s = run_batch(_job(inp, out, workers=workers, ordered=True), list(job), spec=StandIn(disputes=job))
    got = {r["id"]: r for r in _lines(out)}
    assert [d["id"] for d in got["a"]["disputes"]] == ["seed"]
    assert got["b"]["disputes"] == OWN == got["g"]["disputes"] and got["c"]["disputes"] == []
    for rid, message in (("d", "must match"), ("e", "duplicate id"), ("f", "not a JSON list")):
        assert got[rid]["error"]["type"] == "bad_disputes" and message in got[rid]["error"]["message"], rid
    assert s.failed == 3


def test_batch_record_disputes_in_a_csv_cell(tmp_path):
    inp = tmp_path / "in.csv"
    with open(inp, "w", newline="") as f:
        import csv
        w = csv.writer(f)
        w.writerow(["id", "text", "disputes"])
        w.writerow(["1", "Said one.", json.dumps(OWN)])
    _run(inp, tmp_path / "o.jsonl")
    assert _lines(tmp_path / "o.jsonl")[0]["disputes"] == OWN


def test_score_window_groups_records_by_their_disputes():
    calls = []

    class Analyzer:
        def analyze_many(self, items, disputes=None, batch_size=8):
            calls.append(([i for i, _ in items], disputes))
            from claims.doc import ArticleResult
            return [ArticleResult(i, t) for i, t in items]
    own = tuple(__import__("claims.batch.readers", fromlist=["x"]).record_disputes(OWN))
    items = [("1", "a", None), ("2", "b", None), ("3", "c", own), ("4", "d", own), ("5", "e", None)]
    assert [r["id"] for r in batch_mod.score_window(Analyzer(), items, 8)] == ["1", "2", "3", "4", "5"]
    assert [(ids, d and [x.id for x in d]) for ids, d in calls] == \
        [(["1", "2"], None), (["3", "4"], ["taxes"]), (["5"], None)]


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.system)])
def test_batch_include_text_gives_records_that_hold_their_article(tmp_path, workers):
    inp = _write_jsonl(tmp_path / "in.jsonl", MIXED)
    out = tmp_path / "out.jsonl"
    _run(inp, out, workers=workers, ordered=True, include_text=True)
    rows = _lines(out)
    texts = {r["id"]: r["text"] for r in MIXED if isinstance(r, dict) and "id" in r and r["id"] != "a"}
    texts["a"] = "Kerry said so."
    for row in rows:
        if row["error"] is not None:
            assert "text" not in row
            continue
        assert row["text"] == texts[row["id"] if row["id"] != "7" else 7]
        for claim in row["claims"]:
            for span in claim["content"] + [claim["source"]]:
                assert row["text"][span["start"]:span["end"]] == span["text"]
    plain = tmp_path / "plain.jsonl"
    _run(inp, plain)
    assert [{k: v for k, v in r.items() if k != "text"} for r in rows] == _lines(plain)


def test_progress_names_its_command_and_unit():
    from types import SimpleNamespace
    stream = io.StringIO()
    p = Progress(total=100, stream=stream, log_every=0, label="claims stance", unit="pairs")
    p.update(SimpleNamespace(written=5, failed=1), 50, 10.0)
    assert stream.getvalue().startswith("claims stance: 50.0% of the input, 5 written (1 failed), 0.50 pairs/s")


def test_a_job_that_lost_part_of_its_cluster_resumes_from_its_output(tmp_path, monkeypatch):
    """EngineLost (a Ray node gone mid-job) is not the end of the job: it resumes from what it
    wrote, as a rerun would, and the summary counts every record once."""
    from claims.batch import job as job_mod
    from claims.errors import EngineLost

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps({"id": f"x{i}", "text": f"Speaker {i} said so."}) + "\n" for i in range(9)))
    local = job_mod._engine_outputs
    calls = []

    def flaky(engine, source, done, spec, opts, summary):
        calls.append(done.records)
        outputs = local("local", source, done, spec, opts, summary)
        if len(calls) > 2:
            yield from outputs
            return
        for n, item in enumerate(outputs):
            if n == 3 + len(calls):
                raise EngineLost("the Ray job failed (ActorUnavailableError: node gone)")
            yield item

    monkeypatch.setattr(job_mod, "_engine_outputs", flaky)
    s = run_batch(_job(inp, out, engine="ray", overwrite=True), [], spec=StandIn())
    ids = [r["id"] for r in _lines(out)]
    assert sorted(ids) == sorted(f"x{i}" for i in range(9)) and len(ids) == 9
    assert calls == [0, 4, 5]          # each pass resumed from what the ones before wrote (overwrite only once)
    assert (s.total, s.written, s.skipped) == (9, 9, 0)

    # never more than RESUMES_AFTER_LOSS times: a cluster that keeps failing stops the job
    def lost(*a):
        raise EngineLost("the Ray job failed (NodeDiedError: gone); what was written is kept, rerun to resume")
        yield

    monkeypatch.setattr(job_mod, "_engine_outputs", lost)
    with pytest.raises(EngineLost, match="rerun to resume"):
        run_batch(_job(inp, tmp_path / "other.jsonl", engine="ray"), [], spec=StandIn())
